"""The FastAPI application: routers under ``/api/v1``, one problem handler, middleware."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException

from carevault import errors
from carevault.api import problems
from carevault.api.routers import (
    access,
    appointments,
    audit,
    billing,
    care,
    clinics,
    health,
    patients,
    registrations,
    sessions,
    users,
)
from carevault.api.runtime import Runtime
from carevault.config import Settings
from carevault.domain.ids import well_formed_id

PREFIX = "/api/v1"
ROUTERS = (
    health,
    sessions,
    access,
    clinics,
    users,
    patients,
    registrations,
    appointments,
    care,
    billing,
    audit,
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
DOCS_CSP = (  # the interactive docs page loads its script and styles from a CDN
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    "https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
access_log = logging.getLogger("carevault.access")


def _request_id(given: str) -> str:
    """The client's X-Request-ID if it is a UUID or a ULID, else a new one.

    It goes into audit events, so free text (which could be PHI) is never taken.
    """
    if well_formed_id(given) == given:
        return given
    try:
        parsed = uuid.UUID(given)
    except ValueError:
        return uuid.uuid4().hex
    return given if given in (str(parsed), parsed.hex) else uuid.uuid4().hex


def create_app(rt: Runtime) -> FastAPI:
    """The API over ``rt`` (a store, keyring and blob store already open)."""
    app = FastAPI(
        title="carevault",
        version="1",
        summary="Encrypted, tenant-isolated, audited storage of protected health information.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    app.state.runtime = rt
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    for router in ROUTERS:
        app.include_router(router.router, prefix=PREFIX)
    app.add_exception_handler(errors.CarevaultError, problems.on_carevault_error)
    app.add_exception_handler(problems.Problem, problems.on_problem)
    app.add_exception_handler(RequestValidationError, problems.on_request_invalid)
    app.add_exception_handler(HTTPException, problems.on_http_error)
    app.add_exception_handler(Exception, problems.on_unexpected)

    @app.middleware("http")
    async def conventions(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Request id, size limit, security headers and a PHI-free access log line."""
        request.state.request_id = _request_id(request.headers.get("x-request-id", ""))
        began = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > rt.limits.max_body):
            response: Response = problems.problem(
                request,
                413,
                "too-large",
                "Request too large",
                f"Content-Length: at most {rt.limits.max_body} bytes",
            )
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path == f"{PREFIX}/docs":
            response.headers["Content-Security-Policy"] = DOCS_CSP
        response.headers["X-Request-ID"] = request.state.request_id
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "route": _route(request),
                "status": response.status_code,
                "ms": round((time.perf_counter() - began) * 1000, 2),
                "request_id": request.state.request_id,
            },
        )
        return response

    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with every error response declared as a problem+json."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = problems.PROBLEM_SCHEMA
        problem = {
            "description": "An RFC 9457 problem (any error status)",
            "content": {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["default"] = problem
        app.openapi_schema = schema
    return app.openapi_schema


def _route(request: Request) -> str:
    """The route template (``/api/v1/patients/{patient_id}``), never the ids in the path."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def serve_app() -> FastAPI:
    """The app over the store the environment names (uvicorn's factory for workers)."""
    return create_app(Runtime.from_settings(Settings.load()))
