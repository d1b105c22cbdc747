"""An idempotency claim left by a crash resolves: what committed is replayed, what did not
runs again once the claim is old, and a young claim with nothing committed is a 409."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from carevault.api.protocol import CLAIM_SECONDS, Idempotency
from carevault.domain.clinic import Role
from tests.api.conftest import Api
from tests.api.test_http import PERSON, P


def _claim(api: Api, key: str) -> tuple[str, str]:
    user = api.user(Role.STAFF).id
    return f"T#{api.world.tenant}#IDEMPOTENCY#{user}", key


def _crash(api: Api, key: str, **left: Any) -> None:
    """Leave the key's claim as a process that died mid-request leaves it: pending."""
    pk, sk = _claim(api, key)
    found = api.rt.store.get(pk, sk)
    assert found is not None
    api.rt.store.put({**found, "state": "pending", **left})


def test_a_create_that_committed_before_the_crash_is_replayed(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    headers = {**api.headers(Role.STAFF), "Idempotency-Key": "crash-after-commit"}
    made = c.post(P, json=PERSON, headers=headers)
    assert made.status_code == 201, made.text
    _crash(api, "crash-after-commit")  # committed, then died before saying so
    again = c.post(P, json=PERSON, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == made.json()["id"]
    assert again.headers["location"] == made.headers["location"]
    assert c.get(again.headers["location"], headers=headers).status_code == 200


def test_a_create_that_never_committed_runs_once_its_claim_is_old(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    headers = {**api.headers(Role.STAFF), "Idempotency-Key": "crash-before-commit"}
    body = {**PERSON, "mrn": "MRN-CRASH-1"}
    # a request claims the key and dies before its create commits
    user = api.user(Role.STAFF).id
    dying = Idempotency(api.rt.store, api.world.tenant, user, "crash-before-commit")
    request = Request({"type": "http", "method": "POST", "path": P, "headers": []})
    claimed, earlier = dying.begin(request, body, lambda _: None)
    assert earlier is None
    waiting = c.post(P, json=body, headers=headers)
    assert waiting.status_code == 409 and waiting.headers["retry-after"] == "1"
    assert c.post(P, json={**body, "mrn": "MRN-OTHER"}, headers=headers).status_code == 422
    # older than a request may run, with nothing committed: taken over, and it runs
    pk, sk = _claim(api, "crash-before-commit")
    claim = api.rt.store.get(pk, sk)
    assert claim is not None and claim["resource_id"] == claimed
    api.rt.store.put({**claim, "claimed_at": int(time.time()) - CLAIM_SECONDS - 1})
    made = c.post(P, json=body, headers=headers)
    assert made.status_code == 201, made.text
    replay = c.post(P, json=body, headers=headers)
    assert replay.status_code == 201 and replay.json()["id"] == made.json()["id"]
    found = c.post(
        f"{P}/search", json={"by": "mrn", "value": "MRN-CRASH-1"}, headers=api.headers(Role.ADMIN)
    )
    assert [p["id"] for p in found.json()["items"]] == [made.json()["id"]]  # created once
