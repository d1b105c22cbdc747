"""Tenants exist only when created: tokens and credentials naming made-up clinics make none."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from httpx import Response

from carevault.api.app import PREFIX
from carevault.api.runtime import Limits
from carevault.domain.ids import new_id
from tests.api.conftest import Api, make_api


def _counts(api: Api) -> tuple[int, int, int]:
    """(tenants with keys, key-table items, tenants with audit chains) as stored."""
    keys = sqlite3.connect(api.world.ring.keys.path)  # type: ignore[attr-defined]
    data = sqlite3.connect(api.world.store.inner.path)  # type: ignore[attr-defined]
    try:
        items = keys.execute("SELECT count(*) FROM items").fetchone()[0]
        chains = data.execute(
            "SELECT count(DISTINCT substr(pk, 1, instr(substr(pk, 3), '#') + 2)) FROM items "
            "WHERE pk LIKE 'T#%#AUDIT#S%'"
        ).fetchone()[0]
    finally:
        keys.close()
        data.close()
    return len(api.world.ring.tenants()), int(items), int(chains)


def test_made_up_clinics_in_refresh_tokens_and_credentials_create_nothing(sqlite_api: Api) -> None:
    c = sqlite_api.client
    before = _counts(sqlite_api)
    statuses = []
    for n in range(30):
        made_up = [new_id(), "not-a-clinic", f"{new_id()}#BRANCH"][n % 3]
        sent = c.post(f"{PREFIX}/sessions/refresh", json={"refresh_token": f"{made_up}.s.x"})
        statuses.append(sent.status_code)
    for n in range(5):
        sent = c.post(f"{PREFIX}/sessions/client", json={"credential": f"{new_id()}.c{n}.secret"})
        statuses.append(sent.status_code)
    assert set(statuses) <= {401, 429} and 401 in statuses
    assert _counts(sqlite_api) == before


def _until_refused(send: Callable[[], Response], limit: int) -> list[Response]:
    """Requests until the first 429, at most 2 * limit + 1: windows are fixed minutes, so
    that many quick requests put more than ``limit`` into one window whatever the clock."""
    answers = []
    for _ in range(2 * limit + 1):
        answers.append(send())
        if answers[-1].status_code == 429:
            break
    return answers


def test_unauthenticated_routes_are_rate_limited_by_address(sqlite_api: Api) -> None:
    limits = Limits(per_minute=12, login_per_minute=5)  # small: a slow machine stays in time
    c = make_api(sqlite_api.world, limits).client
    answers = _until_refused(
        lambda: c.post(f"{PREFIX}/sessions/refresh", json={"refresh_token": f"{new_id()}.s.x"}),
        limits.login_per_minute,
    )
    assert answers[-1].status_code == 429
    assert int(answers[-1].headers["retry-after"]) > 0
    assert len(answers) > limits.login_per_minute  # none refused before the limit was passed
    health = _until_refused(lambda: c.get(f"{PREFIX}/health/live"), limits.per_minute)
    assert health[0].status_code == 200 and health[-1].status_code == 429
    assert len(health) > limits.per_minute
