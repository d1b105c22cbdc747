"""The audit trail: a day's events, the accounting of disclosures, chain verification."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from carevault.access import actions
from carevault.api.contract import named, page_of, shown
from carevault.api.deps import CallerDep
from carevault.api.routers.shapes import Cursor, PageSize, PagingDep, page, paged_list, reply
from carevault.api.routing import Route
from carevault.audit.trail import exported
from carevault.domain.audit import AuditEvent, Level
from carevault.domain.base import Day
from carevault.store import Item

router = APIRouter(route_class=Route, prefix="/audit", tags=["audit"])


EventOut = shown(AuditEvent)


@router.get(
    "/events",
    response_model=page_of(EventOut),
    summary="The clinic's audit events of a UTC day, of one level if given (A15), paged",
)
def audit_events(
    c: CallerDep,
    day: Annotated[Day, Query()],
    paged: PagingDep,
    level: Annotated[Level | None, Query()] = None,
) -> Response:
    found = actions.audit_day(c, day, level, limit=paged.limit, cursor=paged.cursor)
    return page(found.items, found.cursor)


@named("disclosures")
class Accounting(BaseModel):
    """Which patient's disclosures, from which date, up to which (inclusive; today if not)."""

    model_config = ConfigDict(extra="forbid")
    patient_id: str = Field(min_length=1, max_length=64)
    since: Day = Field(description="The first day, YYYY-MM-DD")
    until: Day | None = Field(default=None, description="The last day, YYYY-MM-DD")
    limit: PageSize = 50
    cursor: Cursor = None


@router.post(
    "/disclosures",
    response_model=page_of(EventOut, "DisclosurePage"),
    summary="Accounting of disclosures of one patient (A15), paged",
)
def accounting_of_disclosures(
    c: CallerDep,
    body: Annotated[
        Accounting,
        Body(examples=[{"patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X", "since": "2026-01-01"}]),
    ],
) -> Response:
    start = datetime.combine(body.since, time(0), UTC)
    found = actions.disclosures(c, body.patient_id, start)
    if body.until is not None:  # the accounting up to and including that date
        last = body.until
        found = [e for e in found if e.at.date() <= last]
    return page(*paged_list(found, body.limit, body.cursor))


@router.get(
    "/export",
    summary="Every event of the clinic as JSON Lines, chain by chain (itself an audit event)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export_audit(c: CallerDep) -> StreamingResponse:
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


class Break(BaseModel):
    shard: int = Field(description="The chain (-1: the signed heads)")
    seq: int
    problem: str


class Verification(BaseModel):
    """Whether every hash chain and signed head of the clinic's trail holds."""

    intact: bool
    events: int
    digests: int
    breaks: list[Break]


@router.get(
    "/verify",
    response_model=Verification,
    summary="Recompute the clinic's hash chains and signed heads",
)
def verify_audit(c: CallerDep) -> Response:
    report = actions.verify_audit(c)
    breaks = [{"shard": b.shard, "seq": b.seq, "problem": b.problem} for b in report.breaks]
    answer = {
        "intact": report.intact,
        "events": report.events,
        "digests": report.digests,
        "breaks": breaks,
    }
    return reply(answer)
