"""Sign-in, MFA, refresh and sign-out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import AliasChoices, BaseModel, Field

from carevault.access.auth import MfaRequired, Tokens
from carevault.api.contract import named
from carevault.api.deps import ClaimsDep, RuntimeDep, SignInAttempt, origin
from carevault.api.routers.shapes import reply
from carevault.api.routing import Route
from carevault.api.runtime import Runtime

router = APIRouter(route_class=Route, prefix="/sessions", tags=["sessions"])


@named("login")
class Login(BaseModel):
    email: str = Field(max_length=254, examples=["dana.reyes@example.org"])
    password: str = Field(max_length=1024, examples=["correct horse battery staple"])


@named("mfa")
class Mfa(BaseModel):
    mfa_ticket: str = Field(
        max_length=2048,
        validation_alias=AliasChoices("mfa_ticket", "ticket"),
        description="The `mfa_ticket` sign-in answered (`ticket` is taken too)",
    )
    code: str = Field(pattern=r"^[0-9]{6}$", examples=["123456"])


@named("refresh")
class Refresh(BaseModel):
    refresh_token: str = Field(max_length=4096)


def _per_account(rt: Runtime) -> Callable[[str], None]:
    """Sign-in attempts counted per account too (by user id: no email in a key)."""
    return lambda user_id: rt.rates.hit(f"ACCOUNT#{user_id}", rt.limits.login_per_minute)


class TokenPair(BaseModel):
    """A session's tokens: send ``access_token`` as ``Authorization: Bearer …``."""

    token_type: Literal["Bearer"]
    access_token: str
    refresh_token: str
    session_id: str


class MfaTicket(BaseModel):
    """Sign-in needs a one-time code: send it with this ticket to ``POST /sessions/mfa``."""

    mfa_ticket: str


def _tokens(tokens: Tokens, status: int = 201) -> Response:
    answer = {
        "token_type": "Bearer",
        "access_token": tokens.access,
        "refresh_token": tokens.refresh,
        "session_id": tokens.session,
    }
    return reply(answer, status)


@router.post(
    "",
    status_code=201,
    response_model=TokenPair,
    responses={202: {"model": MfaTicket, "description": "A one-time code is needed"}},
    summary="Sign in with email and password",
    dependencies=[SignInAttempt],
)
def sign_in(body: Login, request: Request, rt: RuntimeDep) -> Response:
    """Tokens (201), or an MFA ticket (202) for roles that need a one-time code."""
    result = rt.auth.login(body.email, body.password, _per_account(rt), origin(request))
    if isinstance(result, MfaRequired):
        return reply({"mfa_ticket": result.ticket}, 202)
    return _tokens(result)


@router.post(
    "/mfa",
    status_code=201,
    response_model=TokenPair,
    summary="Finish sign-in with a TOTP code",
    dependencies=[SignInAttempt],
)
def finish_sign_in(body: Mfa, request: Request, rt: RuntimeDep) -> Response:
    return _tokens(
        rt.auth.complete_mfa(body.mfa_ticket, body.code, _per_account(rt), origin(request))
    )


@router.post(
    "/refresh",
    status_code=201,
    response_model=TokenPair,
    summary="Trade a refresh token for new tokens",
    dependencies=[SignInAttempt],
)
def refresh_session(body: Refresh, rt: RuntimeDep) -> Response:
    return _tokens(rt.auth.refresh(body.refresh_token))


@router.delete("/current", status_code=204, summary="Sign out (ends this session)")
def sign_out(caller: ClaimsDep, request: Request, rt: RuntimeDep) -> Response:
    rt.auth.logout(caller, origin(request))
    return Response(status_code=204)
