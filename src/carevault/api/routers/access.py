"""Access: API clients and their tokens, break-glass, accepting a portal invitation."""

from __future__ import annotations

from typing import Any

import pyotp
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from carevault.access import actions, clients
from carevault.api.deps import CallerDep, RuntimeDep, SignInAttempt, origin
from carevault.api.protocol import if_match
from carevault.api.routers.shapes import page, with_etag
from carevault.api.routing import Route
from carevault.audit.recorder import AuditContext
from carevault.domain.clinic import ApiClient
from carevault.services import patients, staff

router = APIRouter(route_class=Route, tags=["access"])


class NewClient(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Lab results feed"])
    scopes: list[str] = Field(min_length=1, max_length=100, examples=[["patient:read"]])


class ClientCredential(BaseModel):
    credential: str = Field(max_length=512, description="{clinic}.{client id}.{secret}")


class BreakGlass(BaseModel):
    reason: str = Field(max_length=1000, examples=["Unconscious patient in the emergency room"])
    minutes: int = Field(default=60, examples=[30])


class Acceptance(BaseModel):
    token: str = Field(max_length=512)
    password: str = Field(max_length=1024)


def _client(client: ApiClient) -> dict[str, Any]:
    """An API client as the API shows it: never its secret's hash."""
    return client.model_dump(mode="json", exclude={"secret_hash"})


@router.post(
    "/api-clients",
    status_code=201,
    summary="Create an API client (its credential is in this response only)",
)
def create_client(
    body: NewClient, request: Request, response: Response, c: CallerDep
) -> dict[str, Any]:
    client, credential = actions.create_client(c, body.name, body.scopes)
    response.headers["Location"] = f"{request.url.path}/{client.id}"
    return {**_client(client), "credential": credential}


@router.get("/api-clients", summary="The clinic's API clients")
def api_clients(c: CallerDep) -> dict[str, Any]:
    return page([_client(k) for k in clients.clients(uow=c.practice.uow)], None)


@router.get("/api-clients/{client_id}", summary="An API client of the clinic (never its secret)")
def api_client(client_id: str, response: Response, c: CallerDep) -> dict[str, Any]:
    found: ApiClient = c.practice.uow[ApiClient].require(client_id)
    with_etag(response, found)
    return _client(found)


@router.delete(
    "/api-clients/{client_id}",
    summary="Deactivate an API client (If-Match required; its tokens stop at once)",
)
def deactivate_client(
    client_id: str, request: Request, response: Response, c: CallerDep
) -> dict[str, Any]:
    expected = if_match(request)
    stopped = clients.deactivate_client(uow=c.practice.uow, client_id=client_id, version=expected)
    with_etag(response, stopped)
    return _client(stopped)


@router.post(
    "/sessions/client",
    status_code=201,
    summary="An access token for an API client",
    dependencies=[SignInAttempt],
)
def client_token(body: ClientCredential, rt: RuntimeDep) -> dict[str, Any]:
    token, seconds = rt.auth.client_token(body.credential)
    return {"token_type": "Bearer", "access_token": token, "expires_in": seconds}


@router.post(
    "/break-glass",
    status_code=201,
    summary="Open emergency access to every patient (doctors; a critical security event)",
)
def break_glass(body: BreakGlass, c: CallerDep) -> dict[str, Any]:
    until = actions.break_glass(c, body.reason, body.minutes)
    return {"until": until.isoformat()}


@router.post(
    "/invitations/acceptance",
    status_code=201,
    summary="Accept an invitation (a patient's portal, or a clinic user's) and set a password",
    description=(
        "A clinic user whose role signs in with a one-time code gets `totp_secret` (and its "
        "`otpauth_uri`) in this response only: add it to an authenticator app."
    ),
    dependencies=[SignInAttempt],
)
def accept_invitation(body: Acceptance, request: Request, rt: RuntimeDep) -> dict[str, Any]:
    located = staff.staff_token(store=rt.store, ring=rt.ring, token=body.token)
    if located is None:
        user = patients.activate(
            store=rt.store, ring=rt.ring, token=body.token, password=body.password
        )
        return {"user_id": user.id}
    tenant, invitation = located
    context = AuditContext(
        invitation.user_id, "STAFF", "OPERATIONS", request.state.request_id, origin(request)
    )
    user, secret = staff.accept(
        store=rt.store,
        ring=rt.ring,
        tenant=tenant,
        invitation=invitation,
        password=body.password,
        needs_mfa=rt.auth.needs_mfa(tenant, invitation.user_id),
        audit=context,
    )
    answer: dict[str, Any] = {"user_id": user.id}
    if secret is not None:
        answer["totp_secret"] = secret
        answer["otpauth_uri"] = pyotp.TOTP(secret).provisioning_uri(
            name=user.email, issuer_name="carevault"
        )
    return answer
