"""Per-request dependencies: the runtime, the caller's claims and practice, the rate limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carevault.access.caller import Caller
from carevault.access.platform import Platform
from carevault.access.policy import Principal
from carevault.access.tokens import Claims
from carevault.api.routing import LOCAL_STORE
from carevault.api.runtime import Runtime
from carevault.audit.recorder import Origin
from carevault.domain.clinic import Role, User
from carevault.errors import InvalidToken, PermissionDenied
from carevault.repo.records import PLATFORM
from carevault.repo.unit import UnitOfWork

T = TypeVar("T")

bearer = HTTPBearer(auto_error=False, description="An access token from POST /sessions")


async def runtime(request: Request) -> Runtime:
    """The app's runtime (async: no I/O, so no hop to a worker thread)."""
    found: Runtime = request.app.state.runtime
    return found


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def origin(request: Request) -> Origin:
    """The client's address and user agent, as audit events record them."""
    return Origin.of(client_address(request), request.headers.get("user-agent"))


def sign_in_attempt(request: Request, rt: RuntimeDep) -> None:
    """Count a sign-in attempt against the caller's address (before any token exists)."""
    rt.rates.hit(f"LOGIN#{client_address(request)}", rt.limits.login_per_minute)


SignInAttempt = Depends(sign_in_attempt)


def anonymous_request(request: Request, rt: RuntimeDep) -> None:
    """Count a request that carries no token against the caller's address."""
    rt.rates.hit(f"ANON#{client_address(request)}", rt.limits.per_minute)


AnonymousRequest = Depends(anonymous_request)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def claims_of(rt: Runtime, credentials: HTTPAuthorizationCredentials | None) -> Claims:
    """The verified claims of the bearer token (401 without a valid one)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidToken("Authorization: send 'Bearer <access token>'")
    found = rt.auth.authenticate(credentials.credentials)
    rt.rates.hit(f"USER#{found.subject}", rt.limits.per_minute)
    return found


def principal_of(request: Request, rt: Runtime, caller: Claims) -> Principal:
    """Who calls: a user with its role's permissions, or an API client with its scopes."""
    role = Role(caller.role)
    if role is Role.SERVICE:
        return Principal.of(
            caller.tenant,
            caller.subject,
            role,
            permissions=frozenset(caller.scopes),
            request_id=request.state.request_id,
            origin=origin(request),
        )
    patient_id = None
    if role is Role.PATIENT:
        user = UnitOfWork(rt.store, rt.ring, caller.tenant)[User].get(caller.subject)
        patient_id = user.patient_id if user is not None else None
    return Principal.of(
        caller.tenant,
        caller.subject,
        role,
        patient_id=patient_id,
        request_id=request.state.request_id,
        origin=origin(request),
    )


def clinic_caller(rt: Runtime, principal: Principal, purpose: str | None = None) -> Caller:
    """The practice of a principal's own clinic, opened through its gate (never a platform
    client's: it reaches only the directory)."""
    if principal.tenant == PLATFORM:
        raise PermissionDenied("clinic", "platform clients reach only the clinic directory")
    if purpose is None:
        return Caller(rt.store, rt.ring, principal, rt.blobs)
    return Caller(rt.store, rt.ring, principal, rt.blobs, purpose=purpose)


# Each dependency below does its whole chain (token, principal, practice) in one call. On
# the embedded engine that call runs on the event loop: its reads are local-file lookups
# of microseconds, cheaper than the hop to a worker thread (and the interpreter-lock
# hand-overs it costs under load). On a networked engine it runs in a worker thread, so a
# slow store never stalls the loop.


async def _chain(rt: Runtime, work: Callable[[], T]) -> T:
    if rt.store.engine != "sqlite":
        return await run_in_threadpool(work)
    LOCAL_STORE.set(True)  # the handler is scheduled for it (``carevault.api.routing``)
    return work()


async def claims(rt: RuntimeDep, credentials: Credentials) -> Claims:
    return await _chain(rt, lambda: claims_of(rt, credentials))


ClaimsDep = Annotated[Claims, Depends(claims)]


async def principal(request: Request, rt: RuntimeDep, credentials: Credentials) -> Principal:
    return await _chain(rt, lambda: principal_of(request, rt, claims_of(rt, credentials)))


PrincipalDep = Annotated[Principal, Depends(principal)]


async def caller(request: Request, rt: RuntimeDep, credentials: Credentials) -> Caller:
    """The caller's practice of its own clinic, opened through its gate, for this request."""
    return await _chain(
        rt, lambda: clinic_caller(rt, principal_of(request, rt, claims_of(rt, credentials)))
    )


async def payment_caller(request: Request, rt: RuntimeDep, credentials: Credentials) -> Caller:
    """The caller, for billing: its audit events name the purpose PAYMENT."""

    def work() -> Caller:
        return clinic_caller(rt, principal_of(request, rt, claims_of(rt, credentials)), "PAYMENT")

    return await _chain(rt, work)


async def platform(request: Request, rt: RuntimeDep, credentials: Credentials) -> Platform:
    """The caller's view of the clinic directory (platform clients only)."""
    return await _chain(
        rt, lambda: platform_of(rt, principal_of(request, rt, claims_of(rt, credentials)))
    )


def platform_of(rt: Runtime, who: Principal) -> Platform:
    return Platform(rt.store, rt.ring, who)


CallerDep = Annotated[Caller, Depends(caller)]
PaymentCallerDep = Annotated[Caller, Depends(payment_caller)]
PlatformDep = Annotated[Platform, Depends(platform)]
