"""The FastAPI application: routers under ``/api/v1``, problem handlers, the edge, the docs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from carevault import errors
from carevault.api import problems
from carevault.api.edge import Edge
from carevault.api.routers import (
    access,
    appointments,
    audit,
    billing,
    care,
    clinics,
    health,
    patients,
    reads,
    registrations,
    sessions,
    staff,
    users,
)
from carevault.api.runtime import Runtime
from carevault.config import Settings

PREFIX = "/api/v1"
ROUTERS = (
    health,
    sessions,
    access,
    clinics,
    staff,
    users,
    patients,
    registrations,
    appointments,
    care,
    billing,
    audit,
    reads,
)
DOCS = f"{PREFIX}/docs"
REDOC = f"{PREFIX}/redoc"
ASSETS = f"{PREFIX}/docs-assets"


def create_app(rt: Runtime) -> FastAPI:
    """The API over ``rt`` (a store, keyring and blob store already open)."""
    app = FastAPIOffline(  # Swagger UI and ReDoc from packaged assets: no CDN, works offline
        title="carevault",
        version="1",
        summary="Encrypted, tenant-isolated, audited storage of protected health information.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=DOCS,
        redoc_url=REDOC,
        static_url=ASSETS,
        swagger_ui_oauth2_redirect_url=f"{DOCS}/oauth2-redirect",
    )
    app.state.runtime = rt
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    for router in ROUTERS:
        app.include_router(router.router, prefix=PREFIX)
    for path in ("/", "/docs", "/redoc", PREFIX, f"{PREFIX}/"):
        target = REDOC if path == "/redoc" else DOCS
        app.add_api_route(path, _redirect(target), methods=["GET"], include_in_schema=False)
    app.add_exception_handler(errors.CarevaultError, problems.on_carevault_error)
    app.add_exception_handler(problems.Problem, problems.on_problem)
    app.add_exception_handler(RequestValidationError, problems.on_request_invalid)
    app.add_exception_handler(HTTPException, problems.on_http_error)
    app.add_middleware(
        Edge, max_body=rt.limits.max_body, docs=frozenset({DOCS, REDOC, f"{DOCS}/oauth2-redirect"})
    )
    return app


def _redirect(target: str) -> Callable[[], RedirectResponse]:
    def redirect() -> RedirectResponse:
        return RedirectResponse(target, status_code=307)

    return redirect


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


def serve_app() -> FastAPI:
    """The app over the store the environment names (uvicorn's factory for workers)."""
    return create_app(Runtime.from_settings(Settings.load()))
