"""Appointments: book (idempotent), the clinic's day (A8, paged), a provider's range (A7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response

from carevault.api.deps import GuardDep, RuntimeDep
from carevault.api.protocol import create_once
from carevault.api.routers.shapes import client_fields, page, with_etag
from carevault.domain.scheduling import Appointment

router = APIRouter(tags=["appointments"])

BOOKING_EXAMPLE = {
    "patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X",
    "provider_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5Y",
    "start": "2026-12-01T15:00:00Z",
    "end": "2026-12-01T15:30:00Z",
    "reason": "Follow-up on blood pressure",
}
BOOKING_SETS = frozenset({"day", "status", "status_history", "cancelled_at", "cancelled_by"})


@router.post("/appointments", status_code=201, summary="Book an appointment")
def book(
    request: Request,
    response: Response,
    g: GuardDep,
    rt: RuntimeDep,
    body: Annotated[dict[str, Any], Body(examples=[BOOKING_EXAMPLE])],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> dict[str, Any]:
    fields = client_fields(body, "appointment", BOOKING_SETS)
    p = g.principal

    def reread(appointment_id: str) -> Appointment:
        found: Appointment = g.practice.uow[Appointment].require(appointment_id)
        return found

    made = create_once(
        rt.store,
        p.tenant,
        p.user_id,
        idempotency_key,
        request,
        fields,
        lambda: g.book(**_times(fields)),
        reread,
    )
    response.headers["Location"] = f"{request.url.path}/{made.id}"
    return with_etag(response, made)


def _times(fields: dict[str, Any]) -> dict[str, Any]:
    """Start and end as instants (the domain checks the rest)."""
    out = dict(fields)
    for name in ("start", "end"):
        value = out.get(name)
        if isinstance(value, str):
            try:
                out[name] = datetime.fromisoformat(value)
            except ValueError:
                from carevault.errors import ValidationError  # noqa: PLC0415

                raise ValidationError(
                    f"appointment.{name}", "must be an ISO 8601 instant"
                ) from None
    return out


@router.get("/schedule", summary="The clinic's appointments of a local date (A8), paged")
def schedule(
    g: GuardDep,
    day: Annotated[date, Query(description="Clinic-local date, YYYY-MM-DD")],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    listing = g.schedule_page(day, limit, cursor)
    return page(listing.items, listing.cursor)
