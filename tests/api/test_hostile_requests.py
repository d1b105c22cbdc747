"""Every operation of the live OpenAPI document, sent wrong: no answer is a 5xx.

A generator of its own (beside schemathesis' valid-shaped requests): each operation gets
path values that are not ids, query values of the wrong type or at the calendar's ends or
without an offset, hostile headers (ETags, idempotency keys, request ids, authorization,
content types) and bodies of every wrong JSON type, in invalid encodings or cut short, as
an administrator. Afterwards the server still answers.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from tests.api.conftest import Api

PATH_VALUES = ("0", "-1", "9" * 5000, "%ED%A0%80", "..%2F..%2Fetc", "%00", "true", "null", "é")
QUERY_VALUES = (
    "",
    "-1",
    "0",
    "1e309",
    "9" * 5000,
    "true",
    "[]",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "2031-03-04T10:00",
    "2031-13-45",
    "%ED%A0%80",
    "%FF%FE",
)
HEADERS: tuple[dict[str, bytes], ...] = (
    {"If-Match": b'"' + b"9" * 5000 + b'"'},
    {"If-Match": '"\u00e9"'.encode("latin-1")},
    {"If-Match": b"*"},
    {"Idempotency-Key": b"\xff\xfe"},
    {"Idempotency-Key": b"k" * 5000},
    {"X-Request-ID": b"x" * 5000},
    {"Content-Type": b"text/plain"},
    {"Content-Type": b"application/json; charset=latin-1"},
    {"Content-Length": b"-1"},
)
BODIES: tuple[bytes, ...] = (
    b"[]",
    b"1",
    b'"text"',
    b"null",
    b"true",
    b'{"a": {"b": {"c": [[[[[]]]]]}}}',
    b'{"patient_id": 1, "start": [], "end": {}, "amount": "x", "limit": -1}',
    b'{"' + b"x" * 300 + b'": 1}',
    b'{"reason": "\\ud800", "value": "\\udfff", "by": "name"}',
    b"\xff\xfe{",
    b'{"cut": ',
    b"{" * 5000,
)


def _operations(api: Api) -> list[tuple[str, str, list[str]]]:
    paths = api.client.get(f"{PREFIX}/openapi.json").json()["paths"]
    found = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            found.append((method.upper(), path, query))
    return found


def _fill(path: str, value: str) -> str:
    return re.sub(r"{\w+}", value, path)


def test_no_wrong_request_is_answered_5xx(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    admin = api.headers(Role.ADMIN)
    person = api.world.patient().id
    operations = [op for op in _operations(api) if op[1] != f"{PREFIX}/sessions/current"]
    assert len(operations) > 60
    sent, failures = 0, []

    def send(method: str, url: str, **extra: Any) -> None:
        nonlocal sent
        headers = {**admin, **extra.pop("headers", {})}
        answer = c.request(method, url, headers=headers, **extra)
        sent += 1
        if answer.status_code >= 500:
            failures.append(f"{method} {url[:120]} {extra!r:.120}: {answer.status_code}")

    for method, path, query in operations:
        for value in PATH_VALUES:
            if "{" in path:
                send(method, _fill(path, value))
        base = _fill(path, person)
        for name in query:
            for value in QUERY_VALUES:
                send(method, f"{base}?{quote(name)}={value}")
        for header in HEADERS:
            send(method, base, headers=header, content=b"{}")
        if method in ("POST", "PUT", "PATCH"):
            for body in BODIES:
                send(
                    method,
                    base,
                    content=body,
                    headers={"Content-Type": "application/json", "If-Match": '"1"'},
                )
    assert sent > 1000
    assert not failures, "\n".join(failures[:40])
    assert c.get(f"{PREFIX}/health/live").json() == {"status": "ok"}
