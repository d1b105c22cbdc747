"""The request's edge under a real server: a 500 keeps the connection, bodies are counted as
they arrive, and a long path costs the log no more than a short one."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from carevault import logs
from carevault.api.app import PREFIX, create_app
from carevault.api.runtime import Limits, Runtime
from carevault.cli.serve import port_free
from tests.api.conftest import Api
from tests.api.served import Served, free_port

LIMIT = 64 * 1024


def _app(api: Api) -> FastAPI:
    rt = Runtime(api.rt.store, api.rt.ring, api.rt.blobs, Limits(max_body=LIMIT))
    app = create_app(rt)

    @app.get("/test/boom", include_in_schema=False)
    def boom() -> dict[str, Any]:
        raise RuntimeError("a route's own bug")

    return app


@pytest.fixture
def served(sqlite_api: Api) -> Iterator[Served]:
    with Served(_app(sqlite_api)) as running:
        yield running


def test_a_500_is_a_problem_and_the_connection_serves_the_next_request(served: Served) -> None:
    conn = served.connection()
    conn.request("GET", "/test/boom")
    first = conn.getresponse()
    body = orjson.loads(first.read())
    assert first.status == 500 and body["type"].endswith("/internal")
    assert first.getheader("content-type") == "application/problem+json"
    assert "bug" not in body["detail"]  # the error's text stays in the server
    sock = conn.sock
    assert sock is not None and not first.will_close
    conn.request("GET", f"{PREFIX}/health/live")
    second = conn.getresponse()
    assert second.status == 200 and orjson.loads(second.read()) == {"status": "ok"}
    assert conn.sock is sock  # the same connection answered both


def test_a_chunked_body_over_the_limit_is_413_when_it_passes_the_limit(sqlite_api: Api) -> None:
    """Driven at the ASGI boundary, so the bytes the app pulled can be counted."""
    app = _app(sqlite_api)
    chunk = b"x" * 4096
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pulled < 300 * 1024 * 1024}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{PREFIX}/patients",
        "raw_path": f"{PREFIX}/patients".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = orjson.loads(b"".join(m.get("body", b"") for m in sent if "body" in m))
    assert start["status"] == 413, (body, pulled)
    assert body["type"].endswith("/too-large")
    assert pulled <= LIMIT + len(chunk)  # refused at the limit, not after the whole body


def test_a_declared_length_over_the_limit_is_413_before_any_byte_is_read(
    served: Served,
) -> None:
    conn = served.connection()
    conn.putrequest("POST", f"{PREFIX}/patients")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(300 * 1024 * 1024))
    conn.endheaders()
    answer = conn.getresponse()
    assert answer.status == 413
    assert orjson.loads(answer.read())["detail"] == f"body: at most {LIMIT} bytes"


def test_a_long_path_costs_the_log_no_more_than_a_short_one(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The work of the log's masking is counted (characters masked), not timed."""
    masked: list[int] = []
    real = logs.mask

    def counting(text: str, limit: int = logs.MAX_TEXT) -> str:
        masked.append(min(len(text), limit))
        return real(text, limit)

    monkeypatch.setattr(logs, "mask", counting)
    handler = logs.configure("INFO", io.StringIO())
    try:
        cost = []
        for path in ("/api/v1/patients/x", "/api/v1/patients/" + "1" * 60_000):
            masked.clear()
            conn = served.connection()
            conn.request("GET", path)
            assert conn.getresponse().status in (401, 404, 414)
            conn.close()
            deadline = time.monotonic() + 10
            while not masked and time.monotonic() < deadline:  # the line is written after
                time.sleep(0.01)
            cost.append(sum(masked))
        assert 0 < cost[1] <= cost[0]
    finally:
        logs.logging.getLogger().removeHandler(handler)


def test_a_busy_port_is_told_before_serving(served: Served) -> None:
    assert not port_free("127.0.0.1", served.port)
    assert port_free("127.0.0.1", free_port())
