"""Sign-in, MFA, refresh and sign-out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import AliasChoices, BaseModel, Field

from carevault.access.auth import MfaRequired, Tokens
from carevault.api.deps import ClaimsDep, RuntimeDep, SignInAttempt, origin
from carevault.api.routing import Route
from carevault.api.runtime import Runtime

router = APIRouter(route_class=Route, prefix="/sessions", tags=["sessions"])


class Login(BaseModel):
    email: str = Field(max_length=254, examples=["dana.reyes@example.org"])
    password: str = Field(max_length=1024, examples=["correct horse battery staple"])


class Mfa(BaseModel):
    mfa_ticket: str = Field(
        max_length=2048,
        validation_alias=AliasChoices("mfa_ticket", "ticket"),
        description="The `mfa_ticket` sign-in answered (`ticket` is taken too)",
    )
    code: str = Field(pattern=r"^[0-9]{6}$", examples=["123456"])


class Refresh(BaseModel):
    refresh_token: str = Field(max_length=4096)


def _per_account(rt: Runtime) -> Callable[[str], None]:
    """Sign-in attempts counted per account too (by user id: no email in a key)."""
    return lambda user_id: rt.rates.hit(f"ACCOUNT#{user_id}", rt.limits.login_per_minute)


def _tokens(tokens: Tokens) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "access_token": tokens.access,
        "refresh_token": tokens.refresh,
        "session_id": tokens.session,
    }


@router.post(
    "", status_code=201, summary="Sign in with email and password", dependencies=[SignInAttempt]
)
def login(body: Login, request: Request, response: Response, rt: RuntimeDep) -> dict[str, Any]:
    """Tokens (201), or an MFA ticket (202) for roles that need a one-time code."""
    result = rt.auth.login(body.email, body.password, _per_account(rt), origin(request))
    if isinstance(result, MfaRequired):
        response.status_code = 202
        return {"mfa_ticket": result.ticket}
    return _tokens(result)


@router.post(
    "/mfa", status_code=201, summary="Finish sign-in with a TOTP code", dependencies=[SignInAttempt]
)
def mfa(body: Mfa, request: Request, rt: RuntimeDep) -> dict[str, Any]:
    return _tokens(
        rt.auth.complete_mfa(body.mfa_ticket, body.code, _per_account(rt), origin(request))
    )


@router.post(
    "/refresh",
    status_code=201,
    summary="Trade a refresh token for new tokens",
    dependencies=[SignInAttempt],
)
def refresh(body: Refresh, rt: RuntimeDep) -> dict[str, Any]:
    return _tokens(rt.auth.refresh(body.refresh_token))


@router.delete("/current", status_code=204, summary="Sign out (ends this session)")
def logout(caller: ClaimsDep, request: Request, rt: RuntimeDep) -> Response:
    rt.auth.logout(caller, origin(request))
    return Response(status_code=204)
