"""A clinic user's lifecycle through HTTP: invitation, password, reset, unlock, changes.

Each step is audited (a critical event of the account); codes go only to the user's email
through the clinic's outbox (``carevault outbox send``), never to the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from carevault.access.caller import Caller
from carevault.api.contract import named, shown
from carevault.api.deps import CallerDep, RuntimeDep
from carevault.api.protocol import ExpectedVersion
from carevault.api.routers.shapes import PathId, reply, sent, with_etag
from carevault.api.routing import Route
from carevault.api.runtime import Runtime
from carevault.audit.recorder import AuditContext
from carevault.domain.base import Name, Phone
from carevault.domain.clinic import Role, User
from carevault.domain.staffing import InvitePurpose
from carevault.errors import ValidationError
from carevault.services import staff
from carevault.services.practice import Practice

router = APIRouter(route_class=Route, tags=["users and providers"])


@named("password")
class Password(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024, examples=["tidal-Orchid-42-lantern"])


@named("user")
class UserChanges(BaseModel):
    """A user's name, phone or role (a new role ends their sessions)."""

    model_config = ConfigDict(extra="forbid")
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    role: Role | None = None


class ApiClientSelf(BaseModel):
    """An API client signed in: its id and the scopes it holds."""

    client_id: str
    scopes: list[str]


class Invited(BaseModel):
    """A code went to the user's email (the clinic's outbox), never to the caller."""

    user_id: str
    expires_at: datetime = Field(description="When the code stops working")


@router.get(
    "/me",
    response_model=shown(User) | ApiClientSelf,
    summary="Who is signed in: the caller's own user (or API client)",
)
def read_me(c: CallerDep, rt: RuntimeDep) -> Response:
    if c.principal.role is Role.SERVICE:
        return reply({"client_id": c.principal.user_id, "scopes": sorted(c.principal.permissions)})
    return with_etag(_own(c, rt).uow[User].require(c.principal.user_id))


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


@router.patch(
    "/users/{user_id}",
    response_model=shown(User),
    summary="Change a user's name, phone or role (If-Match)",
)
def update_user(
    user_id: PathId,
    expected: ExpectedVersion,
    c: CallerDep,
    rt: RuntimeDep,
    body: Annotated[UserChanges, Body(examples=[{"role": "BILLING"}])],
) -> Response:
    before = c.practice.uow[User].for_change(user_id).role
    saved = staff.change(practice=c.practice, user_id=user_id, version=expected, **sent(body))
    if saved.role is not before:  # tokens carry the role: the user signs in again
        rt.auth.revoke_all(c.principal.tenant, user_id)
    return with_etag(saved)


@router.post(
    "/users/{user_id}/invitations",
    status_code=202,
    response_model=Invited,
    summary="Invite a user to set a password: the code goes to their email (outbox)",
)
def invite_user(user_id: PathId, c: CallerDep) -> Response:
    made = staff.invite(practice=c.practice, user_id=user_id)
    return reply({"user_id": user_id, "expires_at": made.expires_at.isoformat()}, 202)


@router.post(
    "/users/{user_id}/password-reset",
    status_code=202,
    response_model=Invited,
    summary="Reset a user's password: it and every session end now; a code goes to them",
)
def reset_password(user_id: PathId, c: CallerDep, rt: RuntimeDep) -> Response:
    made = staff.invite(practice=c.practice, user_id=user_id, purpose=InvitePurpose.RESET)
    rt.auth.revoke_all(c.principal.tenant, user_id)
    return reply({"user_id": user_id, "expires_at": made.expires_at.isoformat()}, 202)


@router.post("/users/{user_id}/unlock", status_code=204, summary="Lift a user's lockout")
def unlock_user(user_id: PathId, c: CallerDep, rt: RuntimeDep) -> Response:
    staff.unlocked(practice=c.practice, user_id=user_id)
    rt.auth.unlock(c.principal.tenant, user_id)
    return Response(status_code=204)
