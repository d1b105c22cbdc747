"""Appointments: book (idempotent), the clinic's day (A8, paged), a provider's range (A7)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from carevault.api.deps import CallerDep, RuntimeDep
from carevault.api.protocol import IdempotencyKey, create_once, if_match
from carevault.api.routers.shapes import (
    PagingDep,
    created,
    new_fields,
    page,
    step_fields,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.base import Day, instant
from carevault.domain.scheduling import Appointment, AppointmentStatus, TimeBlock
from carevault.errors import ValidationError
from carevault.services import scheduling

router = APIRouter(route_class=Route, tags=["appointments"])

BOOKING_EXAMPLE = {
    "patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X",
    "provider_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5Y",
    "start": "2026-12-01T15:00:00Z",
    "end": "2026-12-01T15:30:00Z",
    "reason": "Follow-up on blood pressure",
}


@router.post("/appointments", status_code=201, summary="Book an appointment")
def book(
    request: Request,
    response: Response,
    c: CallerDep,
    rt: RuntimeDep,
    body: Annotated[dict[str, Any], Body(examples=[BOOKING_EXAMPLE])],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    past = body.pop("past_visit", False)
    if not isinstance(past, bool):
        raise ValidationError("appointment.past_visit", "must be true or false")
    fields = new_fields(c, body, Appointment)

    def reread(appointment_id: str) -> Appointment:
        found: Appointment = c.practice.uow[Appointment].require(appointment_id)
        return found

    made = create_once(
        rt.store,
        c.principal,
        idempotency_key,
        request,
        {**fields, "past_visit": past},
        lambda made_id: scheduling.book(
            practice=c.practice, past_visit=past, **_times(fields), id=made_id
        ),
        reread,
    )
    return created(request, response, made)


def _times(fields: dict[str, Any]) -> dict[str, Any]:
    """Start and end as instants (the domain checks the rest)."""
    out = dict(fields)
    for name in ("start", "end"):
        if name in out:
            out[name] = instant(out[name], f"appointment.{name}")
    return out


@router.get("/schedule", summary="The clinic's appointments of a local date (A8), paged")
def schedule(
    c: CallerDep,
    day: Annotated[Day, Query(description="Clinic-local date, YYYY-MM-DD (1900-2199)")],
    paged: PagingDep,
) -> dict[str, Any]:
    listing = scheduling.day_schedule(
        practice=c.practice, day=day, limit=paged.limit, cursor=paged.cursor
    )
    return page(listing.items, listing.cursor)


@router.get(
    "/providers/{provider_id}/appointments",
    summary="A provider's appointments in one status, by start time (A9), paged",
)
def by_status(
    provider_id: str,
    c: CallerDep,
    status: Annotated[AppointmentStatus, Query()],
    paged: PagingDep,
) -> dict[str, Any]:
    listing = scheduling.by_status(
        practice=c.practice,
        provider_id=provider_id,
        status=status,
        limit=paged.limit,
        cursor=paged.cursor,
    )
    return page(listing.items, listing.cursor)


class Step(StrEnum):
    confirm = "confirm"
    check_in = "check-in"
    complete = "complete"
    no_show = "no-show"
    cancel = "cancel"
    notes = "notes"
    reschedule = "reschedule"


STEPS: dict[Step, tuple[Callable[..., Appointment], frozenset[str], frozenset[str]]] = {
    Step.confirm: (scheduling.confirm, frozenset(), frozenset()),
    Step.check_in: (scheduling.check_in, frozenset(), frozenset()),
    Step.complete: (scheduling.complete, frozenset(), frozenset()),
    Step.no_show: (scheduling.no_show, frozenset(), frozenset()),
    Step.cancel: (scheduling.cancel, frozenset({"reason"}), frozenset({"reason"})),
    Step.notes: (scheduling.add_notes, frozenset({"notes"}), frozenset({"notes"})),
    Step.reschedule: (
        scheduling.reschedule,
        frozenset({"start", "end"}),
        frozenset({"start", "end"}),
    ),
}


@router.post(
    "/appointments/{appointment_id}/{step}",
    summary="Confirm, check in, complete, mark no-show, cancel, add notes or reschedule (If-Match)",
)
def move(
    appointment_id: str,
    step: Step,
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any] | None, Body(examples=[{"reason": "Patient request"}])] = None,
) -> dict[str, Any]:
    """Confirm, check in, complete and no-show take no body."""
    expected = if_match(request)
    run, allowed, required = STEPS[step]
    extra = step_fields(body or {}, f"appointment.{step.value}", allowed, required)
    if step is Step.reschedule:
        extra = {k: instant(extra[k], f"appointment.reschedule.{k}") for k in ("start", "end")}
    moved = run(practice=c.practice, appointment_id=appointment_id, version=expected, **extra)
    return with_etag(response, moved)


@router.post("/time-blocks", status_code=201, summary="Block a provider's time")
def add_block(
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    made = scheduling.add_block(practice=c.practice, **new_fields(c, body, TimeBlock))
    return created(request, response, made)


@router.delete("/time-blocks/{block_id}", status_code=204, summary="Lift a block (If-Match)")
def remove_block(block_id: str, request: Request, c: CallerDep) -> Response:
    expected = if_match(request)
    scheduling.remove_block(practice=c.practice, block_id=block_id, version=expected)
    return Response(status_code=204)
