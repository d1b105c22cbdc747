"""Appointments: book (idempotent), the clinic's day (A8, paged), a provider's range (A7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, create_model

from carevault.api.contract import named, new, page_of, shown
from carevault.api.deps import CallerDep, RuntimeDep
from carevault.api.protocol import ExpectedVersion, IdempotencyKey, create_once
from carevault.api.routers.shapes import (
    PagingDep,
    PathId,
    created,
    new_fields,
    page,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.base import Day, UtcDateTime
from carevault.domain.scheduling import Appointment, AppointmentStatus, TimeBlock
from carevault.services import scheduling

router = APIRouter(route_class=Route, tags=["appointments"])

BOOKING_EXAMPLE = {
    "patient_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5X",
    "provider_id": "01JCW3Q4ZJ8X2M5N7P9R1T3V5Y",
    "start": "2026-12-01T15:00:00Z",
    "end": "2026-12-01T15:30:00Z",
    "reason": "Follow-up on blood pressure",
}

if TYPE_CHECKING:
    Booking = BaseModel
    NewBlock = BaseModel
else:
    Booking = create_model(
        "Booking",
        __base__=new(Appointment),
        past_visit=(
            StrictBool,
            Field(default=False, description="Records a visit that already happened"),
        ),
    )
    NewBlock = new(TimeBlock, frozenset({"until"}))
AppointmentOut = shown(Appointment)
AppointmentPage = page_of(AppointmentOut)


@router.post(
    "/appointments",
    status_code=201,
    response_model=AppointmentOut,
    summary="Book an appointment",
)
def book_appointment(
    request: Request,
    c: CallerDep,
    rt: RuntimeDep,
    body: Annotated[Booking, Body(examples=[BOOKING_EXAMPLE])],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Times are instants with an offset; a start already past is refused unless
    ``past_visit`` says the visit is being recorded."""
    fields = new_fields(c, body, Appointment)
    past = bool(fields.pop("past_visit", False))

    def reread(appointment_id: str) -> Appointment:
        found: Appointment = c.practice.uow[Appointment].require(appointment_id)
        return found

    made = create_once(
        rt.store,
        c.principal,
        idempotency_key,
        request,
        body.model_dump(mode="json", exclude_unset=True),
        lambda made_id: scheduling.book(practice=c.practice, past_visit=past, **fields, id=made_id),
        reread,
    )
    return created(request, made)


@router.get(
    "/schedule",
    response_model=AppointmentPage,
    summary="The clinic's appointments of a local date (A8), paged",
)
def clinic_schedule(
    c: CallerDep,
    day: Annotated[Day, Query(description="Clinic-local date, YYYY-MM-DD (1900-2199)")],
    paged: PagingDep,
) -> Response:
    listing = scheduling.day_schedule(
        practice=c.practice, day=day, limit=paged.limit, cursor=paged.cursor
    )
    return page(listing.items, listing.cursor)


@router.get(
    "/providers/{provider_id}/appointments",
    response_model=AppointmentPage,
    summary="A provider's appointments in one status, by start time (A9), paged",
)
def provider_appointments(
    provider_id: PathId,
    c: CallerDep,
    status: Annotated[AppointmentStatus, Query()],
    paged: PagingDep,
) -> Response:
    listing = scheduling.by_status(
        practice=c.practice,
        provider_id=provider_id,
        status=status,
        limit=paged.limit,
        cursor=paged.cursor,
    )
    return page(listing.items, listing.cursor)


@named("appointment.cancel")
class Cancel(BaseModel):
    """Why the appointment is cancelled (its time is free again)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, examples=["Patient request"])


@named("appointment.notes")
class Notes(BaseModel):
    """The appointment's notes (earlier notes stay in its history)."""

    model_config = ConfigDict(extra="forbid")
    notes: str = Field(min_length=1, max_length=5000)


@named("appointment.reschedule")
class Reschedule(BaseModel):
    """The appointment's new time, instants with an offset."""

    model_config = ConfigDict(extra="forbid")
    start: UtcDateTime = Field(examples=["2026-12-02T15:00:00Z"])
    end: UtcDateTime = Field(examples=["2026-12-02T15:30:00Z"])


FIELDLESS = ConfigDict(
    extra="forbid", json_schema_extra={"description": "This step takes no fields"}
)


MOVES: dict[str, tuple[Callable[..., Appointment], str]] = {
    "confirm": (scheduling.confirm, "Confirm an appointment"),
    "check-in": (scheduling.check_in, "Check a patient in"),
    "complete": (scheduling.complete, "Complete an appointment"),
    "no-show": (scheduling.no_show, "Mark a no-show"),
}
"""Steps that take no body: path -> (service, summary)."""

WITH_BODY: dict[str, tuple[Callable[..., Appointment], type[BaseModel], str]] = {
    "cancel": (scheduling.cancel, Cancel, "Cancel an appointment"),
    "notes": (scheduling.add_notes, Notes, "Replace an appointment's notes"),
    "reschedule": (scheduling.reschedule, Reschedule, "Move an appointment to a new time"),
}
"""Steps with a body: path -> (service, body, summary)."""


OPERATIONS = {"notes": "replace_appointment_notes"}


def _move(step: str, run: Callable[..., Appointment], summary: str) -> None:
    model = named(f"appointment.{step}")(
        create_model("".join(w.title() for w in step.split("-")) + "Step", __config__=FIELDLESS)
    )

    def move(
        appointment_id: PathId,
        expected: ExpectedVersion,
        c: CallerDep,
        body: BaseModel | None = None,
    ) -> Response:
        moved = run(practice=c.practice, appointment_id=appointment_id, version=expected)
        return with_etag(moved)

    move.__annotations__["body"] = Annotated[model, Body(description="No fields")]
    move.__defaults__ = (model(),)
    _route(step, move, summary)


def _move_with(
    step: str, run: Callable[..., Appointment], model: type[BaseModel], summary: str
) -> None:
    def move(
        appointment_id: PathId, expected: ExpectedVersion, c: CallerDep, body: BaseModel
    ) -> Response:
        extra = body.model_dump()
        moved = run(practice=c.practice, appointment_id=appointment_id, version=expected, **extra)
        return with_etag(moved)

    move.__annotations__["body"] = model
    _route(step, move, summary)


def _route(step: str, endpoint: Callable[..., Response], summary: str) -> None:
    router.add_api_route(
        f"/appointments/{{appointment_id}}/{step}",
        endpoint,
        methods=["POST"],
        response_model=AppointmentOut,
        summary=f"{summary} (If-Match)",
        operation_id=OPERATIONS.get(step, f"{step.replace('-', '_')}_appointment"),
    )


for _step, (_run, _summary) in MOVES.items():
    _move(_step, _run, _summary)
for _step, (_run, _model, _summary) in WITH_BODY.items():
    _move_with(_step, _run, _model, _summary)


@router.post(
    "/time-blocks",
    status_code=201,
    response_model=shown(TimeBlock),
    summary="Block a provider's time",
)
def block_time(request: Request, c: CallerDep, body: NewBlock) -> Response:
    made = scheduling.add_block(practice=c.practice, **new_fields(c, body, TimeBlock))
    return created(request, made)


@router.delete("/time-blocks/{block_id}", status_code=204, summary="Lift a block (If-Match)")
def lift_time_block(block_id: PathId, expected: ExpectedVersion, c: CallerDep) -> Response:
    scheduling.remove_block(practice=c.practice, block_id=block_id, version=expected)
    return Response(status_code=204)
