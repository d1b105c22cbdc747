"""The API's smoke set on every engine: sign in, register, read, book, list, audit."""

from __future__ import annotations

from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from tests.api.conftest import Api
from tests.domain.world import HALF_HOUR, local


def test_a_clinic_day_through_http(engine_api: Api) -> None:
    c, world = engine_api.client, engine_api.world
    staff = engine_api.headers(Role.STAFF)
    made = c.post(
        f"{PREFIX}/patients",
        json={
            "mrn": "MRN-1",
            "first_name": "Ana",
            "last_name": "Lopez",
            "date_of_birth": "1984-03-02",
            "gender": "FEMALE",
            "email": "ana@example.org",
        },
        headers={**staff, "Idempotency-Key": "one"},
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    start = local(2027, 3, 2, 10)
    booked = c.post(
        f"{PREFIX}/appointments",
        json={
            "patient_id": pid,
            "provider_id": world.doctor.id,
            "start": start.isoformat(),
            "end": (start + HALF_HOUR).isoformat(),
        },
        headers=staff,
    )
    assert booked.status_code == 201, booked.text
    day = c.get(f"{PREFIX}/schedule", params={"day": "2027-03-02"}, headers=staff).json()
    assert [a["id"] for a in day["items"]] == [booked.json()["id"]]
    doctor = engine_api.headers(Role.DOCTOR)  # in care now: the booking made the relationship
    assert c.get(f"{PREFIX}/patients/{pid}", headers=doctor).json()["ssn"] is None
    auditor = engine_api.headers(Role.AUDITOR)
    today = world.practice.now().date().isoformat()
    events = c.get(f"{PREFIX}/audit/events", params={"day": today}, headers=auditor).json()
    reads = [e for e in events["items"] if e["action"] == "READ" and e["patient_id"] == pid]
    assert {e["actor_id"] for e in reads} >= {world.doctor.id}
    assert c.get(f"{PREFIX}/audit/verify", headers=auditor).json()["intact"] is True
