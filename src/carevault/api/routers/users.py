"""The clinic's users (A2) and its providers' schedules: availability (A16), timeline (A7)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, Field

from carevault.api.contract import changes, new, page_of, shown
from carevault.api.deps import CallerDep, RuntimeDep
from carevault.api.protocol import ExpectedVersion, version_in
from carevault.api.routers.shapes import (
    PagingDep,
    PathId,
    created,
    new_fields,
    page,
    reply,
    sent,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.base import Day, UtcDateTime
from carevault.domain.clinic import ProviderProfile, Role, User
from carevault.domain.scheduling import Appointment
from carevault.services import clinics, providers, scheduling

router = APIRouter(route_class=Route, tags=["users and providers"])

PROFILE_EXAMPLE = {
    "license_number": "CA-A123456",
    "specialization": "Cardiology",
    "working_hours": {"mon": {"start": "08:00", "end": "17:00"}},
}

USER_EXAMPLE = {
    "first_name": "Dana",
    "last_name": "Reyes",
    "email": "dana.reyes@example.org",
    "role": "STAFF",
}


if TYPE_CHECKING:
    NewUser = BaseModel
    NewProfile = BaseModel
else:
    NewUser = new(User)
    NewProfile = changes(ProviderProfile, name="ProviderProfileFields")
UserOut = shown(User)
ProfileOut = shown(ProviderProfile)


@router.get(
    "/users", response_model=page_of(UserOut), summary="The clinic's users with one role (A2)"
)
def users_by_role(c: CallerDep, role: Annotated[Role, Query()], paged: PagingDep) -> Response:
    found = clinics.users_by_role(
        practice=c.practice, role=role, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


@router.get("/users/{user_id}", response_model=UserOut, summary="A user of the clinic (A2)")
def read_user(user_id: PathId, c: CallerDep) -> Response:
    return with_etag(c.practice.uow[User].require(user_id))


@router.post(
    "/users/{user_id}/deactivation",
    response_model=UserOut,
    summary="Deactivate a user: every session and refresh token ends at once (If-Match)",
)
def deactivate_user(
    user_id: PathId, expected: ExpectedVersion, c: CallerDep, rt: RuntimeDep
) -> Response:
    saved = clinics.deactivate_user(practice=c.practice, user_id=user_id, version=expected)
    rt.auth.revoke_all(c.principal.tenant, user_id)
    return with_etag(saved)


@router.post("/users", status_code=201, response_model=UserOut, summary="Add a user to the clinic")
def add_user(
    request: Request,
    c: CallerDep,
    body: Annotated[NewUser, Body(examples=[USER_EXAMPLE])],
) -> Response:
    """The user signs in once invited (``POST /users/{id}/invitations``)."""
    made = clinics.add_user(practice=c.practice, **new_fields(c, body, User))
    return created(request, made)


@router.put(
    "/providers/{provider_id}/profile",
    response_model=ProfileOut,
    responses={201: {"model": ProfileOut, "description": "The profile was created"}},
    summary="Create a provider's profile, or change it (If-Match required then)",
)
def put_provider_profile(
    provider_id: PathId,
    request: Request,
    c: CallerDep,
    body: Annotated[NewProfile, Body(examples=[PROFILE_EXAMPLE])],
    if_match: Annotated[
        str | None, Header(alias="If-Match", description="The ETag read, to change a profile")
    ] = None,
) -> Response:
    fields = sent(body)
    c.require("provider:write")  # before anything about the profile is revealed
    exists = c.practice.uow.exists(ProviderProfile, provider_id)
    expected = version_in(if_match) if exists else None
    saved = scheduling.put_profile(
        practice=c.practice, provider_id=provider_id, version=expected, **fields
    )
    return with_etag(saved, 200 if expected is not None else 201)


@router.get(
    "/providers",
    response_model=page_of(ProfileOut),
    summary="The provider directory, of one specialization if given, paged",
)
def provider_directory(
    c: CallerDep,
    paged: PagingDep,
    specialty: Annotated[str | None, Query(min_length=1, max_length=80, pattern=r"^[^#]+$")] = None,
) -> Response:
    found = providers.directory(
        practice=c.practice, specialty=specialty, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


@router.get("/providers/{provider_id}", response_model=ProfileOut, summary="A provider's profile")
def read_provider(provider_id: PathId, c: CallerDep) -> Response:
    return with_etag(c.practice.uow[ProviderProfile].require(provider_id))


class Slot(BaseModel):
    start: datetime = Field(description="Instant, ISO 8601 with offset")
    end: datetime = Field(description="Instant, ISO 8601 with offset")


class Slots(BaseModel):
    """Bookable times: they say nothing about anyone's visit."""

    items: list[Slot]


@router.get(
    "/providers/{provider_id}/availability",
    response_model=Slots,
    summary="A provider's bookable times on a clinic-local date (A16; no PHI)",
)
def provider_availability(
    provider_id: PathId, c: CallerDep, day: Annotated[Day, Query()]
) -> Response:
    slots = scheduling.free_slots(practice=c.practice, provider_id=provider_id, day=day)
    return reply({"items": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in slots]})


class BlockTime(BaseModel):
    block_id: str
    start: datetime
    end: datetime


class Timeline(BaseModel):
    """A provider's appointments and the occurrences of their time blocks in a range."""

    appointments: list[shown(Appointment)]  # type: ignore[valid-type]
    blocks: list[BlockTime]


@router.get(
    "/providers/{provider_id}/timeline",
    response_model=Timeline,
    summary="A provider's appointments and time blocks in a range (A7)",
)
def provider_timeline(
    provider_id: PathId,
    c: CallerDep,
    start: Annotated[UtcDateTime, Query(description="Instant, ISO 8601 with offset")],
    end: Annotated[UtcDateTime, Query(description="Instant, ISO 8601 with offset")],
) -> Response:
    found = scheduling.provider_timeline(
        practice=c.practice, provider_id=provider_id, start=start, end=end
    )
    blocks = [
        {"block_id": b.id, "start": s.isoformat(), "end": e.isoformat()} for b, s, e in found.blocks
    ]
    return reply({"appointments": found.appointments, "blocks": blocks})
