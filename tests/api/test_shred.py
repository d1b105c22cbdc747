"""Crypto-shredding through the API: ADMIN only, a reason code, a critical audit event."""

from __future__ import annotations

from datetime import UTC, datetime

from carevault.api.app import PREFIX
from carevault.audit.trail import verify
from carevault.domain.clinic import Role
from tests.api.conftest import Api


def test_an_admin_shreds_a_patient_with_a_reason_and_the_trail_still_verifies(
    sqlite_api: Api,
) -> None:
    api, c = sqlite_api, sqlite_api.client
    person = api.world.patient()
    url = f"{PREFIX}/patients/{person.id}/shred"
    for role in (Role.STAFF, Role.DOCTOR, Role.BILLING, Role.AUDITOR):
        refused = c.post(url, json={"reason": "PATIENT_REQUEST"}, headers=api.headers(role))
        assert refused.status_code == 403, (role, refused.text)
    admin = api.headers(Role.ADMIN)
    for body in ({}, {"reason": "because John Smith asked"}, {"reason": "PATIENT_REQUEST", "x": 1}):
        assert c.post(url, json=body, headers=admin).status_code == 422
    assert c.get(f"{PREFIX}/patients/{person.id}", headers=admin).status_code == 200
    done = c.post(url, json={"reason": "PATIENT_REQUEST"}, headers=admin)
    assert done.status_code == 200, done.text
    gone = c.get(f"{PREFIX}/patients/{person.id}", headers=admin)
    assert gone.status_code != 200 and person.last_name not in gone.text
    trail = api.world.practice.audit
    day = datetime.now(UTC).date()
    events = [e for s in range(trail.shards) for e in trail.query("gsi1", f"AUDIT#DAY#{day}#S{s}")]
    shredded = [e for e in events if e.resource_type == "PATIENT_KEY"]
    assert len(shredded) == 1
    assert shredded[0].level.value == "CRITICAL" and shredded[0].purpose == "PATIENT_REQUEST"
    assert shredded[0].patient_id == person.id
    assert verify(trail).intact
