"""RFC 9457 problem details: every error the API returns, built in one place.

A problem names the field and the rule when the caller can fix the request, never a
stored value: carevault errors already carry no PHI, and anything unexpected becomes a
bare 500 whose details stay in the (masked) log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from carevault import errors
from carevault.api.contract import error_field

log = logging.getLogger("carevault.api")

MEDIA_TYPE = "application/problem+json"
BASE = "https://carevault.dev/problems/"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "field": {"type": "string", "description": "The request field that broke a rule"},
        "rule": {"type": "string", "description": "The rule it broke"},
        "errors": {
            "type": "array",
            "description": "Every field that broke a rule, when a request broke several",
            "items": {
                "type": "object",
                "required": ["field", "rule"],
                "properties": {"field": {"type": "string"}, "rule": {"type": "string"}},
            },
        },
    },
}

# most specific first: the first class an error is an instance of decides
STATUS: tuple[tuple[type[errors.CarevaultError], int, str], ...] = (
    (errors.AuthenticationFailed, 401, "unauthenticated"),
    (errors.PermissionDenied, 403, "forbidden"),
    (errors.NotFound, 404, "not-found"),
    (errors.InvalidTransition, 409, "invalid-transition"),
    (errors.ValidationError, 422, "invalid-request"),
    (errors.DuplicateValue, 409, "duplicate"),
    (errors.StaleVersion, 412, "precondition-failed"),
    (errors.Throttled, 503, "busy"),
    (errors.StoreUnavailable, 503, "unavailable"),
    (errors.ConflictError, 409, "conflict"),
)


class Problem(Exception):
    """An HTTP-level problem raised by the API itself (precondition, idempotency, rate)."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.headers = headers or {}
        self.extra = extra


def problem(
    request: Request,
    status: int,
    kind: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response for ``request``."""
    extra = {k: _text(v) if isinstance(v, str) else v for k, v in extra.items()}
    body: dict[str, Any] = {
        "type": BASE + kind,
        "title": title,
        "status": status,
        "detail": _text(detail),
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _text(value: str) -> str:
    """Text that encodes as UTF-8 (a field name echoed from a body may hold lone surrogates)."""
    return value.encode("utf-8", "replace").decode("utf-8")


def _title(kind: str) -> str:
    return kind.replace("-", " ").capitalize()


async def on_carevault_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.CarevaultError)
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            extra: dict[str, Any] = {}
            if isinstance(exc, errors.ValidationError | errors.DuplicateValue):
                extra = {"field": exc.field, "rule": exc.rule}
            headers = {"Retry-After": "1"} if status == 503 else None
            if status == 401:
                headers = {"WWW-Authenticate": "Bearer"}
            return problem(request, status, kind, _title(kind), str(exc), headers, **extra)
    log.error("unhandled carevault error", extra={"error": type(exc).__name__})
    return problem(request, 500, "internal", "Internal error", "the server could not do that")


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem(request, exc.status, exc.kind, exc.title, exc.detail, exc.headers, **exc.extra)


async def on_request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own request validation, as one problem naming every field and its rule.

    ``field`` and ``rule`` are the first error's; ``errors`` lists them all.
    """
    assert isinstance(exc, RequestValidationError)
    body = getattr(request.scope.get("route"), "body_field", None)
    model = body.field_info.annotation if body is not None else None
    found = [_field_rule(error, model) for error in exc.errors()] or [("body", "is invalid")]
    field, rule = found[0]
    detail = "; ".join(f"{f}: {r}" for f, r in found[:20])
    listed = [{"field": _text(f), "rule": _text(r)} for f, r in found[:100]]
    return problem(
        request,
        422,
        "invalid-request",
        "Invalid request",
        detail,
        field=field,
        rule=rule,
        errors=listed,
    )


def _field_rule(error: Any, model: Any) -> tuple[str, str]:
    """A validation error's dotted field (``query.limit``; a body's fields prefixed with
    what the body is, as the services name them: ``patient.phone``)."""
    if error.get("type") == "json_invalid":
        return "body", "must be valid JSON in UTF-8 (no lone surrogates)"
    loc = [str(part) for part in error.get("loc", ())]
    rule = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    if error.get("type") == "missing":
        rule = "is required"
    elif error.get("type") == "enum":  # the values a client may send, in the API's words
        rule = f"must be one of {error.get('ctx', {}).get('expected', '')}".strip()
    if loc and loc[0] == "body":
        if len(loc) == 1:
            return "body", rule
        field, own = error_field(model, loc[1:], str(error.get("type")))
        return field[:200], own or rule
    return ".".join(loc)[:200] or "body", rule


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
        exc.status_code, "http-error"
    )
    return problem(
        request, exc.status_code, kind, _title(kind), str(exc.detail), dict(exc.headers or {})
    )
