"""The clinic's users (A2) and its providers' schedules: availability (A16), timeline (A7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from carevault.api.deps import GuardDep, RuntimeDep
from carevault.api.protocol import if_match
from carevault.api.routers.shapes import client_fields, created, public, with_etag
from carevault.domain.clinic import ProviderProfile, Role, User

router = APIRouter(tags=["users and providers"])

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


@router.get("/users", summary="The clinic's users with one role (A2)")
def users(g: GuardDep, role: Annotated[Role, Query()]) -> dict[str, Any]:
    return {"items": [public(u) for u in g.users_by_role(role)], "next": None}


@router.get("/users/{user_id}", summary="A user of the clinic (A2)")
def user(user_id: str, response: Response, g: GuardDep) -> dict[str, Any]:
    return with_etag(response, g.user(user_id))


@router.post(
    "/users/{user_id}/deactivation",
    summary="Deactivate a user: every session and refresh token ends at once (If-Match)",
)
def deactivate_user(
    user_id: str, request: Request, response: Response, g: GuardDep, rt: RuntimeDep
) -> dict[str, Any]:
    saved = g.deactivate_user(user_id, if_match(request))
    rt.auth.revoke_all(g.principal.tenant, user_id)
    return with_etag(response, saved)


@router.post("/users", status_code=201, summary="Add a user to the clinic")
def add_user(
    request: Request,
    response: Response,
    g: GuardDep,
    body: Annotated[dict[str, Any], Body(examples=[USER_EXAMPLE])],
) -> dict[str, Any]:
    return created(request, response, g.add_user(**client_fields(body, User)))


@router.put(
    "/providers/{provider_id}/profile",
    summary="Create a provider's profile, or change it (If-Match required then)",
)
def put_profile(
    provider_id: str,
    request: Request,
    response: Response,
    g: GuardDep,
    body: Annotated[dict[str, Any], Body(examples=[PROFILE_EXAMPLE])],
) -> dict[str, Any]:
    fields = client_fields(body, ProviderProfile, what="provider")
    g.check("provider:write")  # before anything about the profile is revealed
    expected = if_match(request) if g.has_profile(provider_id) else None
    saved = g.put_profile(provider_id, expected, **fields)
    response.status_code = 200 if expected is not None else 201
    return with_etag(response, saved)


@router.get(
    "/providers/{provider_id}/availability",
    summary="A provider's bookable times on a clinic-local date (A16; no PHI)",
)
def availability(provider_id: str, g: GuardDep, day: Annotated[date, Query()]) -> dict[str, Any]:
    slots = g.free_slots(provider_id, day)
    return {"items": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in slots]}


@router.get(
    "/providers/{provider_id}/timeline",
    summary="A provider's appointments and time blocks in a range (A7)",
)
def timeline(
    provider_id: str,
    g: GuardDep,
    start: Annotated[datetime, Query(description="Instant, ISO 8601 with offset")],
    end: Annotated[datetime, Query(description="Instant, ISO 8601 with offset")],
) -> dict[str, Any]:
    found = g.provider_timeline(provider_id, start, end)
    return {
        "appointments": [public(a) for a in found.appointments],
        "blocks": [
            {"block_id": b.id, "start": s.isoformat(), "end": e.isoformat()}
            for b, s, e in found.blocks
        ],
    }
