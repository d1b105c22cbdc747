"""A clinic user's lifecycle through HTTP: invitation, password, reset, unlock, changes.

Each step is audited (a critical event of the account); codes go only to the user's email
through the clinic's outbox (``carevault outbox send``), never to the caller.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, Field

from carevault.access.caller import Caller
from carevault.api.deps import CallerDep, RuntimeDep
from carevault.api.protocol import if_match
from carevault.api.routers.shapes import with_etag
from carevault.api.routing import Route
from carevault.api.runtime import Runtime
from carevault.audit.recorder import AuditContext
from carevault.domain.clinic import Role, User
from carevault.domain.staffing import InvitePurpose
from carevault.errors import ValidationError
from carevault.services import staff
from carevault.services.practice import Practice

router = APIRouter(route_class=Route, tags=["users and providers"])


class Password(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024, examples=["tidal-Orchid-42-lantern"])


USER_CHANGES = frozenset({"first_name", "last_name", "phone", "role"})


@router.get("/me", summary="Who is signed in: the caller's own user (or API client)")
def me(response: Response, c: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    if c.principal.role is Role.SERVICE:
        return {"client_id": c.principal.user_id, "scopes": sorted(c.principal.permissions)}
    own = _own(c, rt).uow[User].require(c.principal.user_id)
    return with_etag(response, own)


@router.post("/me/password", status_code=204, summary="Change one's own password")
def change_password(body: Password, c: CallerDep, rt: RuntimeDep) -> Response:
    if c.principal.role is Role.SERVICE:
        raise ValidationError("me", "API clients have no password")
    staff.change_password(
        practice=_own(c, rt),
        user_id=c.principal.user_id,
        current=body.current_password,
        new=body.new_password,
    )
    return Response(status_code=204)


def _own(c: Caller, rt: Runtime) -> Practice:
    """A practice for the caller's own account (audited as the caller, no role check)."""
    who = c.principal
    context = AuditContext(who.user_id, who.role.value, "OPERATIONS", who.request_id, who.origin)
    return Practice.open(rt.store, rt.ring, who.tenant, audit=context)


@router.patch("/users/{user_id}", summary="Change a user's name, phone or role (If-Match)")
def change_user(
    user_id: str,
    request: Request,
    response: Response,
    c: CallerDep,
    rt: RuntimeDep,
    body: Annotated[dict[str, Any], Body(examples=[{"role": "BILLING"}])],
) -> dict[str, Any]:
    expected = if_match(request)
    for name in body:
        if name not in USER_CHANGES:
            raise ValidationError(f"user.{name}", "cannot be changed here")
    before = c.practice.uow[User].for_change(user_id).role
    saved = staff.change(practice=c.practice, user_id=user_id, version=expected, **body)
    if saved.role is not before:  # tokens carry the role: the user signs in again
        rt.auth.revoke_all(c.principal.tenant, user_id)
    return with_etag(response, saved)


@router.post(
    "/users/{user_id}/invitations",
    status_code=202,
    summary="Invite a user to set a password: the code goes to their email (outbox)",
)
def invite_user(user_id: str, c: CallerDep) -> dict[str, Any]:
    made = staff.invite(practice=c.practice, user_id=user_id)
    return {"user_id": user_id, "expires_at": made.expires_at.isoformat()}


@router.post(
    "/users/{user_id}/password-reset",
    status_code=202,
    summary="Reset a user's password: it and every session end now; a code goes to them",
)
def reset_password(user_id: str, c: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    made = staff.invite(practice=c.practice, user_id=user_id, purpose=InvitePurpose.RESET)
    rt.auth.revoke_all(c.principal.tenant, user_id)
    return {"user_id": user_id, "expires_at": made.expires_at.isoformat()}


@router.post("/users/{user_id}/unlock", status_code=204, summary="Lift a user's lockout")
def unlock(user_id: str, c: CallerDep, rt: RuntimeDep) -> Response:
    staff.unlocked(practice=c.practice, user_id=user_id)
    rt.auth.unlock(c.principal.tenant, user_id)
    return Response(status_code=204)
