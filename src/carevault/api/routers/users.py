"""The clinic's users (A2) and its providers' schedules: availability (A16), timeline (A7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from carevault.api.deps import CallerDep, RuntimeDep
from carevault.api.protocol import if_match
from carevault.api.routers.shapes import (
    PagingDep,
    client_fields,
    created,
    new_fields,
    page,
    public,
    with_etag,
)
from carevault.api.routing import Route
from carevault.domain.base import Day, instant
from carevault.domain.clinic import ProviderProfile, Role, User
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


@router.get("/users", summary="The clinic's users with one role (A2), paged")
def users(c: CallerDep, role: Annotated[Role, Query()], paged: PagingDep) -> dict[str, Any]:
    found = clinics.users_by_role(
        practice=c.practice, role=role, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


@router.get("/users/{user_id}", summary="A user of the clinic (A2)")
def user(user_id: str, response: Response, c: CallerDep) -> dict[str, Any]:
    return with_etag(response, c.practice.uow[User].require(user_id))


@router.post(
    "/users/{user_id}/deactivation",
    summary="Deactivate a user: every session and refresh token ends at once (If-Match)",
)
def deactivate_user(
    user_id: str, request: Request, response: Response, c: CallerDep, rt: RuntimeDep
) -> dict[str, Any]:
    expected = if_match(request)
    saved = clinics.deactivate_user(practice=c.practice, user_id=user_id, version=expected)
    rt.auth.revoke_all(c.principal.tenant, user_id)
    return with_etag(response, saved)


@router.post("/users", status_code=201, summary="Add a user to the clinic")
def add_user(
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any], Body(examples=[USER_EXAMPLE])],
) -> dict[str, Any]:
    made = clinics.add_user(practice=c.practice, **new_fields(c, body, User))
    return created(request, response, made)


@router.put(
    "/providers/{provider_id}/profile",
    summary="Create a provider's profile, or change it (If-Match required then)",
)
def put_profile(
    provider_id: str,
    request: Request,
    response: Response,
    c: CallerDep,
    body: Annotated[dict[str, Any], Body(examples=[PROFILE_EXAMPLE])],
) -> dict[str, Any]:
    fields = client_fields(body, ProviderProfile, what="provider")
    c.require("provider:write")  # before anything about the profile is revealed
    exists = c.practice.uow.exists(ProviderProfile, provider_id)
    expected = if_match(request) if exists else None
    saved = scheduling.put_profile(
        practice=c.practice, provider_id=provider_id, version=expected, **fields
    )
    response.status_code = 200 if expected is not None else 201
    return with_etag(response, saved)


@router.get("/providers", summary="The provider directory, of one specialization if given, paged")
def provider_directory(
    c: CallerDep,
    paged: PagingDep,
    specialty: Annotated[str | None, Query(min_length=1, max_length=80, pattern=r"^[^#]+$")] = None,
) -> dict[str, Any]:
    found = providers.directory(
        practice=c.practice, specialty=specialty, limit=paged.limit, cursor=paged.cursor
    )
    return page(found.items, found.cursor)


@router.get("/providers/{provider_id}", summary="A provider's profile")
def provider(provider_id: str, response: Response, c: CallerDep) -> dict[str, Any]:
    return with_etag(response, c.practice.uow[ProviderProfile].require(provider_id))


@router.get(
    "/providers/{provider_id}/availability",
    summary="A provider's bookable times on a clinic-local date (A16; no PHI)",
)
def availability(provider_id: str, c: CallerDep, day: Annotated[Day, Query()]) -> dict[str, Any]:
    slots = scheduling.free_slots(practice=c.practice, provider_id=provider_id, day=day)
    return {"items": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in slots]}


@router.get(
    "/providers/{provider_id}/timeline",
    summary="A provider's appointments and time blocks in a range (A7)",
)
def timeline(
    provider_id: str,
    c: CallerDep,
    start: Annotated[datetime, Query(description="Instant, ISO 8601 with offset")],
    end: Annotated[datetime, Query(description="Instant, ISO 8601 with offset")],
) -> dict[str, Any]:
    found = scheduling.provider_timeline(
        practice=c.practice,
        provider_id=provider_id,
        start=instant(start, "range.start"),
        end=instant(end, "range.end"),
    )
    return {
        "appointments": [public(a) for a in found.appointments],
        "blocks": [
            {"block_id": b.id, "start": s.isoformat(), "end": e.isoformat()}
            for b, s, e in found.blocks
        ],
    }
