"""The request's edge, as pure ASGI middleware: request id, headers, access log, last resort.

Pure ASGI (not ``BaseHTTPMiddleware``) so a request pays no extra task or queue, and an
error that escapes a route becomes a 500 problem here, sent once, with the connection left
open for the client's next request. A declared ``Content-Length`` over the limit is refused
here at once, and the bytes of a body are counted as they arrive, so a chunked body is
refused when it passes the limit, before authentication or a route has read it whole.
Rate counts due for the store are written once the response is sent, in a worker thread.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carevault.api import problems
from carevault.api.protocol import deferred_syncs
from carevault.domain.ids import well_formed_id

access_log = logging.getLogger("carevault.access")
log = logging.getLogger("carevault.api")

MEDIA_TYPE = problems.MEDIA_TYPE.encode()
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
)
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (  # the docs pages run their packaged script and styles, served from here
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)


class TooLarge(HTTPException):
    """The body passed the limit while it was received (FastAPI lets an HTTPException by)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: at most {limit} bytes")


def request_id(given: str) -> str:
    """The client's X-Request-ID if it is a UUID or a ULID, else a new one.

    It goes into audit events, so free text (which could be PHI) is never taken.
    """
    if len(given) <= 36 and well_formed_id(given) == given:
        return given
    try:
        parsed = uuid.UUID(given) if len(given) <= 36 else None
    except ValueError:
        parsed = None
    if parsed is not None and given in (str(parsed), parsed.hex):
        return given
    return uuid.uuid4().hex


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _within(length: bytes, limit: int) -> bool:
    """Whether a ``Content-Length`` is a number of bytes no larger than ``limit``."""
    return length.isdigit() and len(length) <= 18 and int(length) <= limit


def _route(scope: Scope) -> str:
    """The route template (``/api/v1/patients/{patient_id}``), never the ids in the path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


def _run_all(work: list[Callable[[], None]]) -> None:
    for step in work:
        step()


def _problem(status: int, kind: str, title: str, detail: str, rid: str, path: str) -> bytes:
    return orjson.dumps(
        {
            "type": problems.BASE + kind,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path.encode("utf-8", "replace").decode("utf-8")[:2048],
            "request_id": rid,
        }
    )


class Edge:
    """Wraps the app: every HTTP request gets an id, a size limit, headers and a log line."""

    def __init__(self, app: ASGIApp, max_body: int, docs: frozenset[str]) -> None:
        self.app, self.max_body, self.docs = app, max_body, docs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        rid = request_id((_header(scope, b"x-request-id") or b"").decode("latin-1"))
        scope.setdefault("state", {})["request_id"] = rid
        path = scope.get("path", "")
        csp = DOCS_CSP if path in self.docs else API_CSP
        sent: dict[str, Any] = {"status": 0}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                headers = list(message.get("headers", ()))
                present = {key.lower() for key, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if path in self.docs or b"content-security-policy" not in present:
                    headers = [h for h in headers if h[0].lower() != b"content-security-policy"]
                    headers.append((b"content-security-policy", csp))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise TooLarge(self.max_body)
            return message

        length = _header(scope, b"content-length")
        syncs: list[Callable[[], None]] = []  # rate counts due for the store: after the response
        try:
            if length is not None and not _within(length, self.max_body):
                raise TooLarge(self.max_body)
            with deferred_syncs(syncs):
                await self.app(scope, counted, send_with_headers)
        except TooLarge:
            await self._refuse(send_with_headers, sent, 413, "too-large", rid, path)
        except Exception as exc:
            log.error("unexpected error", extra={"error": type(exc).__name__})
            await self._refuse(send_with_headers, sent, 500, "internal", rid, path)
        if syncs:
            await run_in_threadpool(_run_all, syncs)
        access_log.info(
            "request",
            extra={
                "method": scope.get("method"),
                "route": _route(scope),
                "status": sent["status"],
                "ms": round((time.perf_counter() - began) * 1000, 2),
                "request_id": rid,
            },
        )

    async def _refuse(
        self, send: Send, sent: dict[str, Any], status: int, kind: str, rid: str, path: str
    ) -> None:
        if sent["status"]:  # the response began: nothing more can be said on it
            return
        if status == 413:
            title, detail = "Request too large", f"body: at most {self.max_body} bytes"
        else:
            title, detail = "Internal error", "the server could not do that"
        body = _problem(status, kind, title, detail, rid, path)
        headers = [(b"content-type", MEDIA_TYPE), (b"content-length", str(len(body)).encode())]
        if status == 413:
            headers.append((b"connection", b"close"))  # the rest of the body is not read
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
