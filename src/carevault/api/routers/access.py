"""Access: API clients and their tokens, break-glass, accepting a portal invitation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pyotp
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from carevault.access import actions, clients
from carevault.api.contract import named, page_of, shown
from carevault.api.deps import CallerDep, RuntimeDep, SignInAttempt, origin
from carevault.api.protocol import ExpectedVersion, etag
from carevault.api.routers.shapes import PathId, page, reply
from carevault.api.routing import Route
from carevault.audit.recorder import AuditContext
from carevault.domain.clinic import ApiClient
from carevault.services import patients, staff

router = APIRouter(route_class=Route, tags=["access"])


@named("client")
class NewClient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Lab results feed"])
    scopes: list[str] = Field(min_length=1, max_length=100, examples=[["patient:read"]])


@named("credential")
class ClientCredential(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: str = Field(max_length=512, description="{clinic}.{client id}.{secret}")


@named("break_glass")
class BreakGlass(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        min_length=1, max_length=1000, examples=["Unconscious patient in the emergency room"]
    )
    minutes: int = Field(default=60, ge=1, le=240, examples=[30])


@named("acceptance")
class Acceptance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(max_length=512)
    password: str = Field(max_length=1024)


HIDDEN = frozenset({"secret_hash"})
ClientOut = shown(ApiClient, HIDDEN)


class ClientMade(ClientOut):  # type: ignore[misc, valid-type]
    """An API client just made, with its credential (shown this once)."""

    credential: str = Field(description="{clinic}.{client id}.{secret}: keep it secret")


class ClientToken(BaseModel):
    token_type: Literal["Bearer"]
    access_token: str
    expires_in: int = Field(description="Seconds until the token expires")


class Opened(BaseModel):
    until: datetime = Field(description="When emergency access ends")


class Accepted(BaseModel):
    """The account is ready; a role that signs in with a one-time code gets its secret."""

    user_id: str
    totp_secret: str | None = None
    otpauth_uri: str | None = None


def _client(client: ApiClient) -> dict[str, Any]:
    """An API client as the API shows it: never its secret's hash."""
    return client.model_dump(mode="json", exclude=set(HIDDEN))


@router.post(
    "/api-clients",
    status_code=201,
    response_model=ClientMade,
    summary="Create an API client (its credential is in this response only)",
)
def create_api_client(body: NewClient, request: Request, c: CallerDep) -> Response:
    client, credential = actions.create_client(c, body.name, body.scopes)
    headers = {"Location": f"{request.url.path}/{client.id}", "ETag": etag(client.version)}
    return reply({**_client(client), "credential": credential}, 201, headers)


@router.get(
    "/api-clients",
    response_model=page_of(ClientOut),
    summary="The clinic's API clients",
)
def list_api_clients(c: CallerDep) -> Response:
    return page([_client(k) for k in clients.clients(uow=c.practice.uow)], None)


@router.get(
    "/api-clients/{client_id}",
    response_model=ClientOut,
    summary="An API client of the clinic (never its secret)",
)
def read_api_client(client_id: PathId, c: CallerDep) -> Response:
    found: ApiClient = c.practice.uow[ApiClient].require(client_id)
    return reply(_client(found), headers={"ETag": etag(found.version)})


@router.delete(
    "/api-clients/{client_id}",
    response_model=ClientOut,
    summary="Deactivate an API client (If-Match required; its tokens stop at once)",
)
def deactivate_api_client(client_id: PathId, expected: ExpectedVersion, c: CallerDep) -> Response:
    stopped = clients.deactivate_client(uow=c.practice.uow, client_id=client_id, version=expected)
    return reply(_client(stopped), headers={"ETag": etag(stopped.version)})


@router.post(
    "/sessions/client",
    status_code=201,
    response_model=ClientToken,
    summary="An access token for an API client",
    dependencies=[SignInAttempt],
)
def api_client_token(body: ClientCredential, rt: RuntimeDep) -> Response:
    token, seconds = rt.auth.client_token(body.credential)
    return reply({"token_type": "Bearer", "access_token": token, "expires_in": seconds}, 201)


@router.post(
    "/break-glass",
    status_code=201,
    response_model=Opened,
    summary="Open emergency access to every patient (doctors; a critical security event)",
)
def break_glass(body: BreakGlass, c: CallerDep) -> Response:
    until = actions.break_glass(c, body.reason, body.minutes)
    return reply({"until": until.isoformat()}, 201)


@router.post(
    "/invitations/acceptance",
    status_code=201,
    response_model=Accepted,
    summary="Accept an invitation (a patient's portal, or a clinic user's) and set a password",
    description=(
        "A clinic user whose role signs in with a one-time code gets `totp_secret` (and its "
        "`otpauth_uri`) in this response only: add it to an authenticator app."
    ),
    dependencies=[SignInAttempt],
)
def accept_invitation(body: Acceptance, request: Request, rt: RuntimeDep) -> Response:
    located = staff.staff_token(store=rt.store, ring=rt.ring, token=body.token)
    if located is None:
        user = patients.activate(
            store=rt.store, ring=rt.ring, token=body.token, password=body.password
        )
        return reply({"user_id": user.id}, 201)
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
    return reply(answer, 201)
