"""The FastAPI application: routers under ``/api/v1``, problem handlers, the edge, the docs."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from pydantic.json_schema import PydanticJsonSchemaWarning
from starlette.exceptions import HTTPException

from carevault import errors
from carevault.api import problems
from carevault.api.edge import Edge
from carevault.api.protocol import ETAG
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
    patients,
    appointments,
    reads,
    care,
    billing,
    users,
    staff,
    registrations,
    sessions,
    access,
    audit,
    clinics,
    health,
)
"""Routers in the order requests are matched: a request is matched against each route in
turn, so the routes a clinic calls most (patients, the schedule, reads by id) come first."""
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
        generate_unique_id_function=lambda route: route.name,  # each handler's own name
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


ERRORS: dict[str, str] = {
    "401": "No valid access token (unauthenticated)",
    "403": "The caller's role, care relationship or scopes do not allow this (forbidden)",
    "404": "No such resource in the caller's clinic (not-found)",
    "409": "A conflict: a state change not allowed now, a duplicate, a booked time",
    "412": "If-Match names a version other than the stored one (precondition-failed)",
    "413": "The body is larger than the limit (too-large)",
    "422": "The request broke a rule; `field`, `rule` and `errors` name each (invalid-request)",
    "428": "If-Match is required to change this resource (precondition-required)",
    "429": "Too many requests; `Retry-After` says when to try again (rate-limited)",
}
"""Each error status an operation can answer, as its OpenAPI response declares it."""


def _errors(path: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer, from what it takes."""
    params = operation.get("parameters", [])
    found = ["429"]
    if operation.get("security"):
        found += ["401", "403"]
    if "{" in path:
        found.append("404")
    if operation.get("requestBody"):
        found += ["409", "413"]
    if params or operation.get("requestBody"):
        found.append("422")
    if any(p.get("in") == "header" and p.get("name") == "If-Match" for p in params):
        found += ["409", "412", "428"]
    return sorted(set(found))


def _form_names(schema: dict[str, Any]) -> dict[str, Any]:
    """A multipart body's schema named for its operation (``UploadDocumentForm``), not
    FastAPI's ``Body_upload_document``."""
    components = schema["components"]["schemas"]
    for name in [n for n in components if n.startswith("Body_")]:
        plain = "".join(w.title() for w in name.removeprefix("Body_").split("_")) + "Form"
        components[plain] = components.pop(name)
        for item in schema["paths"].values():
            for operation in item.values():
                for content in operation.get("requestBody", {}).get("content", {}).values():
                    if content.get("schema", {}).get("$ref", "").endswith(f"/{name}"):
                        content["schema"]["$ref"] = f"#/components/schemas/{plain}"
    return schema


def _if_match_required(operation: dict[str, Any]) -> None:
    """``If-Match`` where an update needs it: required, an ETag (a missing one is a 428)."""
    for param in operation.get("parameters", []):
        if param.get("name") == "If-Match" and "(required)" in param.get("description", ""):
            param["required"] = True
            param["schema"] = {
                "type": "string",
                "pattern": f"^{ETAG.pattern}$",
                "maxLength": 40,
                "description": param["description"],
            }


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with every error response declared as a problem+json."""
    if app.openapi_schema is None:
        with warnings.catch_warnings():  # a response field's default None has no serializer
            warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=DESCRIPTION,
                routes=app.routes,
                separate_input_output_schemas=False,  # one model, one name (no "-Output")
            )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = problems.PROBLEM_SCHEMA
        schema = _form_names(schema)
        components = schema["components"]["schemas"]
        content = {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                _if_match_required(operation)
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status in _errors(path, operation):
                    responses[status] = {"description": ERRORS[status], "content": content}
                responses["default"] = {
                    "description": "Any other problem (RFC 9457), such as 503 while busy",
                    "content": content,
                }
        app.openapi_schema = schema
    return app.openapi_schema


DESCRIPTION = (
    "Every error is an RFC 9457 problem (`application/problem+json`) naming the field and "
    'the rule. Money is a decimal string with two places (`"150.00"`) in the currency its '
    "record names; instants are ISO 8601 with an offset (one without is refused); dates are "
    "`YYYY-MM-DD` from 1900-01-01 to 2199-12-31. Lists are paged: `limit` (1-200) and the "
    "`next` cursor of the page before. Updates send `If-Match` with the ETag read."
)


def serve_app() -> FastAPI:
    """The app over the store the environment names (uvicorn's factory for workers)."""
    return create_app(Runtime.from_settings(Settings.load()))
