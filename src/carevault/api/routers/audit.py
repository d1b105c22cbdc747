"""The audit trail: a day's events, the accounting of disclosures, chain verification."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse

from carevault.access import actions
from carevault.api.deps import CallerDep
from carevault.api.routers.shapes import PagingDep, page
from carevault.api.routing import Route
from carevault.audit.trail import exported
from carevault.domain.audit import Level
from carevault.domain.base import Day, day_of
from carevault.errors import ValidationError
from carevault.store import Item

router = APIRouter(route_class=Route, prefix="/audit", tags=["audit"])


@router.get(
    "/events", summary="The clinic's audit events of a UTC day, of one level if given (A15)"
)
def events(
    c: CallerDep,
    day: Annotated[Day, Query()],
    paged: PagingDep,
    level: Annotated[Level | None, Query()] = None,
) -> dict[str, Any]:
    found = actions.audit_day(c, day, level, limit=paged.limit, cursor=paged.cursor)
    return page(found.items, found.cursor)


@router.post("/disclosures", summary="Accounting of disclosures of one patient (A15)")
def disclosures(
    c: CallerDep,
    body: Annotated[
        dict[str, str],
        Body(examples=[{"patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X", "since": "2026-01-01"}]),
    ],
) -> dict[str, Any]:
    patient_id = body.get("patient_id")
    if not isinstance(patient_id, str):
        raise ValidationError("disclosures.patient_id", "is required")
    if "since" not in body:
        raise ValidationError("disclosures.since", "is required")
    start = day_of(body["since"], "disclosures.since")
    events = actions.disclosures(c, patient_id, datetime.combine(start, time(0), UTC))
    if "until" in body:  # the accounting up to and including that date
        last = day_of(body["until"], "disclosures.until")
        events = [e for e in events if e.at.date() <= last]
    return page(events, None)


@router.get(
    "/export",
    summary="Every event of the clinic as JSON Lines, chain by chain (itself an audit event)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export(c: CallerDep) -> StreamingResponse:
    return StreamingResponse(_chunks(actions.export_audit(c)), media_type="application/x-ndjson")


def _chunks(items: Iterator[Item], lines: int = 500) -> Iterator[bytes]:
    """JSON Lines, a few hundred to a chunk (each chunk is one hop to the server's thread)."""
    batch: list[bytes] = []
    for item in items:
        batch.append(orjson.dumps(exported(item)) + b"\n")
        if len(batch) == lines:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


@router.get("/verify", summary="Recompute the clinic's hash chains and signed heads")
def verify(c: CallerDep) -> dict[str, Any]:
    report = actions.verify_audit(c)
    return {
        "intact": report.intact,
        "events": report.events,
        "digests": report.digests,
        "breaks": [{"shard": b.shard, "seq": b.seq, "problem": b.problem} for b in report.breaks],
    }
