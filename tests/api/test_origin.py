"""Audit events and sessions record where a request came from: address and user agent."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from carevault.api.app import PREFIX
from carevault.audit.recorder import Origin
from carevault.domain.clinic import Role
from carevault.domain.intake import Session
from tests.api.conftest import PASSWORD, Api

AGENT = "ClinicDesk/4.2 (Windows NT 10.0)"


def test_events_and_the_disclosures_carry_client_address_and_agent(sqlite_api: Api) -> None:
    api = sqlite_api
    remote = TestClient(
        api.client.app, client=("198.51.100.7", 41000), headers={"User-Agent": AGENT}
    )
    person = api.world.patient()
    staff = api.user(Role.STAFF)
    signed = remote.post(f"{PREFIX}/sessions", json={"email": staff.email, "password": PASSWORD})
    assert signed.status_code == 201
    bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    assert remote.get(f"{PREFIX}/patients/{person.id}", headers=bearer).status_code == 200
    session = api.world.practice.uow[Session].get(signed.json()["session_id"])
    assert session is not None and (session.address, session.agent) == ("198.51.100.7", AGENT)
    day = datetime.now(UTC).date().isoformat()
    disclosed = api.client.post(
        f"{PREFIX}/audit/disclosures",
        json={"patient_id": person.id, "since": day},
        headers=api.headers(Role.ADMIN),
    ).json()["items"]
    mine = [e for e in disclosed if e["actor_id"] == staff.id]
    assert mine and all(e["address"] == "198.51.100.7" and e["agent"] == AGENT for e in mine)
    trail = api.world.practice.audit
    events = [e for s in range(trail.shards) for e in trail.query("gsi1", f"AUDIT#DAY#{day}#S{s}")]
    login = [e for e in events if e.action.value == "LOGIN" and e.actor_id == staff.id]
    assert login and login[0].address == "198.51.100.7"


def test_origins_keep_only_an_address_and_printable_agent_text() -> None:
    assert Origin.of("testclient", "x") == Origin(None, "x")  # not an IP address: not kept
    assert Origin.of("::1", None) == Origin("::1", None)
    odd = Origin.of("10.0.0.1", "Bot\x00\x1b[31m\u2603" + "y" * 500)
    assert odd.address == "10.0.0.1" and odd.agent is not None
    assert len(odd.agent) <= 200 and all(" " <= c <= "~" for c in odd.agent)
