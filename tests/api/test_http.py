"""The API through HTTP on SQLite: conventions, resources, and the policy at the HTTP layer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from carevault.api.app import PREFIX
from carevault.api.runtime import Limits
from carevault.domain.clinic import Role
from carevault.domain.patient import Patient
from tests.api.conftest import Api, make_api
from tests.domain.world import HALF_HOUR, local

P = f"{PREFIX}/patients"
PERSON: dict[str, Any] = {
    "mrn": "MRN-7001",
    "first_name": "Ana",
    "last_name": "Lopez",
    "date_of_birth": "1984-03-02",
    "gender": "FEMALE",
    "email": "ana.lopez@example.org",
    "ssn": "123-45-6789",
}


def _problem(response: Any, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://carevault.dev/problems/")
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def _patients(api: Api) -> int:
    return sum(1 for _ in api.world.practice.uow[Patient].query_all("gsi1", "PATIENT"))


def test_health_and_headers(sqlite_api: Api) -> None:
    live = sqlite_api.client.get(f"{PREFIX}/health/live")
    given = "5f0c9a52-3c1e-4d0b-9a55-2f9e5c0c1d7e"
    ready = sqlite_api.client.get(f"{PREFIX}/health/ready", headers={"X-Request-ID": given})
    assert live.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready", "engine": "sqlite"}
    assert ready.headers["x-request-id"] == given
    # free text is never taken as a request id: it would go into audit events
    texty = sqlite_api.client.get(
        f"{PREFIX}/health/live", headers={"X-Request-ID": "John-Smith-987-65-4321"}
    )
    assert "Smith" not in texty.headers["x-request-id"]
    assert ready.headers["x-content-type-options"] == "nosniff"
    assert ready.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in ready.headers  # CORS is off


def test_every_error_is_a_problem(sqlite_api: Api) -> None:
    c = sqlite_api.client
    body = _problem(c.get(f"{P}/01JCW3Q4ZJ8X2M5N7P9R1T3V5X"), 401)
    assert body["type"].endswith("/unauthenticated")
    _problem(c.get(f"{PREFIX}/nowhere"), 404)
    _problem(c.post(f"{PREFIX}/sessions", json={"email": "x@example.org"}), 422)
    wrong = c.post(f"{PREFIX}/sessions", json={"email": "x@example.org", "password": "nope"})
    _problem(wrong, 401)
    headers = sqlite_api.headers(Role.STAFF)
    invalid = _problem(
        c.post(P, json={**PERSON, "date_of_birth": "tomorrow"}, headers=headers), 422
    )
    assert invalid["field"] == "patient.date_of_birth"
    assert "tomorrow" not in invalid["detail"]
    server = _problem(c.post(P, json={**PERSON, "id": "x"}, headers=headers), 422)
    assert (server["field"], server["rule"]) == ("patient.id", "is set by the server")
    huge = c.post(P, content=b"{}", headers={**headers, "Content-Length": str(10**9)})
    _problem(huge, 413)
    assert _patients(sqlite_api) == 0


def test_create_read_and_update_with_etags(sqlite_api: Api) -> None:
    c, headers = sqlite_api.client, sqlite_api.headers(Role.STAFF)
    made = c.post(P, json=PERSON, headers=headers)
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    assert made.headers["location"] == f"{P}/{pid}"
    assert made.headers["etag"] == '"1"'
    read = c.get(f"{P}/{pid}", headers=headers)
    assert read.json()["last_name"] == "Lopez"
    assert "ssn" not in read.json() and "ssn" in read.json()["masked"]  # STAFF never sees it
    assert read.json()["phone"] is None  # not on file: null, which a masked field never is
    change = {"phone": "+1 415 555 0199"}
    _problem(c.patch(f"{P}/{pid}", json=change, headers=headers), 428)
    _problem(c.patch(f"{P}/{pid}", json=change, headers={**headers, "If-Match": '"7"'}), 412)
    ok = c.patch(f"{P}/{pid}", json=change, headers={**headers, "If-Match": read.headers["etag"]})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"'
    again = c.patch(f"{P}/{pid}", json=change, headers={**headers, "If-Match": '"1"'})
    _problem(again, 412)  # a lost update is refused
    found = c.post(
        f"{P}/search", json={"by": "email", "value": "ANA.LOPEZ@example.org"}, headers=headers
    )
    assert [x["id"] for x in found.json()["items"]] == [pid]
    assert "ana.lopez" not in str(found.request.url)


def test_idempotent_create(sqlite_api: Api) -> None:
    c, headers = sqlite_api.client, sqlite_api.headers(Role.STAFF)
    keyed = {**headers, "Idempotency-Key": "k-1"}
    first = c.post(P, json=PERSON, headers=keyed)
    replay = c.post(P, json=PERSON, headers=keyed)
    assert first.status_code == replay.status_code == 201
    assert first.json()["id"] == replay.json()["id"]
    other = c.post(P, json={**PERSON, "mrn": "MRN-7002"}, headers=keyed)
    assert _problem(other, 422)["field"] == "Idempotency-Key"
    assert _patients(sqlite_api) == 1
    failed = c.post(P, json={**PERSON, "mrn": ""}, headers={**headers, "Idempotency-Key": "k-2"})
    _problem(failed, 422)
    retried = c.post(
        P,
        json={**PERSON, "mrn": "MRN-7003", "email": "b@example.org"},
        headers={**headers, "Idempotency-Key": "k-2"},
    )
    assert retried.status_code == 201  # a failed request left its key free for a retry
    assert _patients(sqlite_api) == 2


def test_rate_limit(sqlite_api: Api) -> None:
    api = make_api(sqlite_api.world, Limits(per_minute=3))
    headers = api.headers(Role.STAFF)
    statuses = [api.client.get(f"{P}/none", headers=headers).status_code for _ in range(4)]
    assert statuses[:3] == [404, 404, 404]
    limited = api.client.get(f"{P}/none", headers=headers)
    body = _problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert body["type"].endswith("/rate-limited")


def test_schedule_pages_with_cursors(sqlite_api: Api) -> None:
    world, c = sqlite_api.world, sqlite_api.client
    headers = sqlite_api.headers(Role.STAFF)
    start = local(2027, 3, 2, 9)
    booked = set()
    for i in range(5):
        patient = world.patient()
        body = {
            "patient_id": patient.id,
            "provider_id": world.doctor.id,
            "start": (start + i * HALF_HOUR).isoformat(),
            "end": (start + (i + 1) * HALF_HOUR).isoformat(),
        }
        made = c.post(f"{PREFIX}/appointments", json=body, headers=headers)
        assert made.status_code == 201, made.text
        booked.add(made.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"day": "2027-03-02", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        got = c.get(f"{PREFIX}/schedule", params=params, headers=headers).json()
        seen += [a["id"] for a in got["items"]]
        assert len(got["items"]) <= 2
        cursor = got["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(booked) and len(seen) == 5
    bad = c.get(
        f"{PREFIX}/schedule", params={"day": "2027-03-02", "cursor": "junk"}, headers=headers
    )
    _problem(bad, 422)
    span = {"start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat()}
    line = c.get(f"{PREFIX}/providers/{world.doctor.id}/timeline", params=span, headers=headers)
    assert len(line.json()["appointments"]) == 5


READ_PATIENT = {
    Role.ADMIN: 200,
    Role.DOCTOR: 200,  # no care relationship with this patient: its index entry only
    Role.STAFF: 200,
    Role.BILLING: 200,
    Role.AUDITOR: 403,
}


@pytest.mark.parametrize("role", list(READ_PATIENT), ids=lambda r: r.value)
def test_policy_at_the_http_layer(sqlite_api: Api, role: Role) -> None:
    c = sqlite_api.client
    pid = sqlite_api.world.patient().id
    headers = sqlite_api.headers(role)
    got = c.get(f"{P}/{pid}", headers=headers)
    assert got.status_code == READ_PATIENT[role], got.text
    if got.status_code == 403:
        _problem(got, 403)
    verify = c.get(f"{PREFIX}/audit/verify", headers=headers)
    may_audit = role in (Role.ADMIN, Role.AUDITOR)
    assert verify.status_code == (200 if may_audit else 403)
    auditor = sqlite_api.headers(Role.AUDITOR)
    day = sqlite_api.world.practice.now().date().isoformat()
    events = c.get(f"{PREFIX}/audit/events", params={"day": day}, headers=auditor).json()["items"]
    mine = [e for e in events if e["actor_id"] == sqlite_api.user(role).id]
    outcomes = {e["outcome"] for e in mine if e["resource_type"] == "PATIENT"}
    assert outcomes == ({"DENIED"} if READ_PATIENT[role] == 403 else {"SUCCESS"})
    assert c.get(f"{PREFIX}/audit/verify", headers=auditor).json()["intact"] is True


def test_sessions_refresh_and_logout(sqlite_api: Api) -> None:
    c = sqlite_api.client
    tokens = sqlite_api.tokens(Role.STAFF)
    fresh = c.post(f"{PREFIX}/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert fresh.status_code == 201
    reused = c.post(f"{PREFIX}/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})
    _problem(reused, 401)
    headers = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    _problem(c.get(f"{PREFIX}/schedule", params={"day": "2027-03-02"}, headers=headers), 401)
    again = sqlite_api.headers(Role.STAFF)
    assert c.delete(f"{PREFIX}/sessions/current", headers=again).status_code == 204
    _problem(c.get(f"{PREFIX}/schedule", params={"day": "2027-03-02"}, headers=again), 401)


def test_other_clinics_ids_name_nothing(sqlite_api: Api) -> None:
    from tests.domain.world import make_world

    world = sqlite_api.world
    neighbour = make_world(world.make_store, world.tmp, shared=world)
    theirs = neighbour.patient()
    headers = sqlite_api.headers(Role.ADMIN)
    got = sqlite_api.client.get(f"{P}/{theirs.id}", headers=headers)
    assert "Quinlan" not in got.text
    unknown = sqlite_api.client.get(f"{P}/01JCW3Q4ZJ8X2M5N7P9R1T3V5X", headers=headers)
    malformed = sqlite_api.client.get(f"{P}/not-an-id", headers=headers)
    bodies = [_problem(r, 404) for r in (got, unknown, malformed)]
    assert len({(b["type"], b["title"], b["detail"]) for b in bodies}) == 1  # nothing told apart
