"""Schemathesis against the live OpenAPI document of a real server (uvicorn on 127.0.0.1).

Every operation gets generated requests as an administrator and as a staff user, valid
ones (the typed schema's bodies, query parameters and headers) and invalid ones (each
breaking the schema somewhere); every date-time query parameter is also sent without an
offset. None may answer 5xx, every answer must match the documented status codes, media
types and schemas, and the clinic's audit chains must still verify afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode

from carevault.api.app import PREFIX
from carevault.audit.recorder import AuditContext
from carevault.audit.trail import verify
from carevault.domain.clinic import Role
from carevault.services.practice import Practice
from tests.api.server import stores
from tests.engines import free_port

ROOT = Path(__file__).resolve().parents[2]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
WRONG = settings(EXAMPLES, max_examples=10)
NAIVE = "2026-12-03T09:00:00"  # a date-time without an offset: a 422 naming it


@dataclass
class Live:
    url: str
    tmp: Path
    tenant: str
    headers: dict[Role, dict[str, str]]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The API in its own process (so the server and the fuzzer each get a core)."""
    tmp: Path = tmp_path_factory.mktemp("schema")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.api.server", str(tmp), str(port), "3"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        if not line:
            pytest.fail("the API server did not start", pytrace=False)
        seeded = json.loads(line)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}{PREFIX}/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("the API server did not answer", pytrace=False)
            time.sleep(0.1)
        headers = {
            Role(role): {"Authorization": f"Bearer {token}"}
            for role, token in seeded["tokens"].items()
        }
        yield Live(url, tmp, seeded["tenant"], headers)
    finally:
        server.terminate()
        server.wait(timeout=20)


def _fuzz(url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Every operation of the live document, valid and invalid requests, with ``headers``.

    Runs in a worker process: (operations run, failures found).
    """
    loaded = schemathesis.openapi.from_url(f"{url}{PREFIX}/openapi.json")
    failures: list[str] = []
    ran = 0
    for result in loaded.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        ran += 1
        raw = operation.definition.raw
        modes = [(GenerationMode.POSITIVE, EXAMPLES)]
        if raw.get("parameters") or raw.get("requestBody"):  # else nothing to send wrong
            modes.append((GenerationMode.NEGATIVE, WRONG))
        for mode, examples in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @examples
            def run(case: Any) -> None:
                case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

            try:
                run()
            except Exception as exc:  # every operation runs; all failures are reported together
                failures.append(f"{operation.label} ({mode.value}): {exc}")
        failures += _naive(operation, url, headers)
    return ran, failures


def _naive(operation: Any, url: str, headers: dict[str, str]) -> list[str]:
    """Each date-time query parameter sent without an offset: a documented 422 naming it."""
    failures: list[str] = []
    params = operation.definition.raw.get("parameters", [])
    timed = [
        p["name"]
        for p in params
        if p.get("in") == "query" and p.get("schema", {}).get("format") == "date-time"
    ]
    for name in timed:
        try:
            _send_naive(operation, name, url, headers)
        except Exception as exc:
            failures.append(f"{operation.label} ({name} without an offset): {exc}")
    return failures


def _send_naive(operation: Any, name: str, url: str, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(query={name: NAIVE}))
    @settings(EXAMPLES, max_examples=5)
    def run(case: Any) -> None:
        sent = case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)
        if sent.status_code not in (401, 403):
            assert sent.status_code == 422, sent.text
            fields = {e["field"] for e in sent.json()["errors"]}
            assert f"query.{name}" in fields, sent.text

    run()


SKIPPED = {("DELETE", f"{PREFIX}/sessions/current")}  # would end the session under test


def test_every_operation_as_admin_and_as_staff(live: Live) -> None:
    """The two roles fuzz at once, each in its own process (the fuzzer is CPU-bound)."""
    document = httpx.get(f"{live.url}{PREFIX}/openapi.json", timeout=30).json()
    timeline = document["paths"][f"{PREFIX}/providers/{{provider_id}}/timeline"]["get"]
    queried = {p["name"]: p["schema"] for p in timeline["parameters"] if p["in"] == "query"}
    assert queried["start"]["format"] == "date-time"  # so the naive date-times are sent
    roles = (Role.ADMIN, Role.STAFF)
    with ProcessPoolExecutor(len(roles), mp_context=get_context("spawn")) as pool:
        runs = list(pool.map(_fuzz, [live.url] * len(roles), [live.headers[r] for r in roles]))
    for role, (ran, failures) in zip(roles, runs, strict=True):
        assert ran >= 80, role
        assert not failures, f"as {role.value}:\n" + "\n\n".join(failures)


def test_audit_chains_still_verify(live: Live) -> None:
    store, ring = stores(live.tmp)
    try:
        practice = Practice.open(store, ring, live.tenant, audit=AuditContext("check", "AUDITOR"))
        report = verify(practice.audit)
    finally:
        store.close()
        ring.keys.close()
    assert report.intact, report.breaks
    assert report.events > 100  # the fuzzing's reads, writes and denials are all there
