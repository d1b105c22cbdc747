"""Schemathesis against the live OpenAPI document of a real server (uvicorn on 127.0.0.1).

Every operation gets at least 100 generated requests as an administrator and as a staff
user: none may answer 5xx, every answer must match the documented status codes, media
types and schemas, and the clinic's audit chains must still verify afterwards.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from carevault.api.app import PREFIX, create_app
from carevault.api.runtime import Limits
from carevault.audit.trail import verify
from carevault.domain.clinic import Role
from carevault.store import Store
from tests.api.conftest import make_api
from tests.domain.world import World, make_world
from tests.engines import new_store

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Live:
    url: str
    world: World
    headers: dict[Role, dict[str, str]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp: Path = tmp_path_factory.mktemp("schema")
    stores: list[Store] = []

    def make() -> Store:
        stores.append(new_store("sqlite", tmp, None))
        return stores[-1]

    world = make_world(make, tmp)
    for _ in range(3):
        world.patient()
    api = make_api(world, Limits(per_minute=10**6, login_per_minute=10**6))
    headers = {role: api.headers(role) for role in (Role.ADMIN, Role.STAFF)}
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(api.rt), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start", pytrace=False)
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", world, headers)
    server.should_exit = True
    thread.join(timeout=10)
    for store in stores:
        store.close()


def _fuzz(live: Live, role: Role) -> None:
    """Every operation of the live document, 100 generated requests each, as ``role``."""
    loaded = schemathesis.openapi.from_url(f"{live.url}{PREFIX}/openapi.json")
    failures: list[str] = []
    ran = 0
    for result in loaded.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        ran += 1

        @given(case=operation.as_strategy())
        @EXAMPLES
        def run(case: Any) -> None:
            case.call_and_validate(base_url=live.url, headers=live.headers[role], checks=CHECKS)

        try:
            run()
        except Exception as exc:  # every operation runs; all failures are reported together
            failures.append(f"{operation.label}: {exc}")
    assert ran >= 15
    assert not failures, "\n\n".join(failures)


SKIPPED = {("DELETE", f"{PREFIX}/sessions/current")}  # would end the session under test


def test_as_admin(live: Live) -> None:
    _fuzz(live, Role.ADMIN)


def test_as_staff(live: Live) -> None:
    _fuzz(live, Role.STAFF)


def test_audit_chains_still_verify(live: Live) -> None:
    report = verify(live.world.practice.audit)
    assert report.intact, report.breaks
    assert report.events > 0
