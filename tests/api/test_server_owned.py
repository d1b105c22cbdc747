"""Request bodies set only what a client may set: every server-owned field of an entity is
refused on create and on update with a 422 naming it, and nothing changes; a doctor cannot
make care for themselves by booking a patient outside their care."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from carevault.api.app import PREFIX
from carevault.domain.base import BASE_FIELDS
from carevault.domain.billing import Invoice
from carevault.domain.clinic import Role
from carevault.domain.clinical import ClinicalNote
from carevault.domain.intake import Consent, Registration
from carevault.domain.patient import Patient
from carevault.domain.scheduling import Appointment
from carevault.store import Store
from tests.api.conftest import Api
from tests.domain.world import local

# in words: what a client must never set on a patient, whatever the declarations say
PATIENT_STATE = {
    "status",
    "account_status",
    "portal_user_id",
    "activated_at",
    "invitation_sent_at",
    "last_login_at",
}
VALUES: dict[str, Any] = {"payment": {"fee": 0}, "status_history": [], "payments": []}


def _value(name: str) -> Any:
    return VALUES.get(name, "2027-01-01T00:00:00Z" if name.endswith("_at") else "X")


def _creates(api: Api) -> dict[str, tuple[str, Role, dict[str, Any], type]]:
    w = api.world
    patient = w.patient()
    start = local(2027, 6, 7, 9)
    return {
        "patient": (
            "/patients",
            Role.STAFF,
            {
                "mrn": "MRN-9000",
                "first_name": "A",
                "last_name": "B",
                "date_of_birth": "1980-01-01",
                "gender": "FEMALE",
            },
            Patient,
        ),
        "appointment": (
            "/appointments",
            Role.STAFF,
            {
                "patient_id": patient.id,
                "provider_id": w.doctor.id,
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=30)).isoformat(),
            },
            Appointment,
        ),
        "note": (
            "/notes",
            Role.DOCTOR,
            {"patient_id": patient.id, "provider_id": w.doctor.id},
            ClinicalNote,
        ),
        "invoice": (
            "/invoices",
            Role.BILLING,
            {"patient_id": patient.id, "line_items": [{"description": "V", "unit_price": "1.00"}]},
            Invoice,
        ),
        "consent": (
            "/consents",
            Role.STAFF,
            {"patient_id": patient.id, "kind": "HIPAA", "granted_at": "2027-01-01T09:00:00Z"},
            Consent,
        ),
        "registration": ("/registrations", Role.STAFF, {"first_name": "R"}, Registration),
    }


def _end(store: Store) -> str:
    """The change feed's position after everything written so far."""
    page = store.changes(None, limit=1000)
    while page.changes:
        page = store.changes(page.position, limit=1000)
    return page.position


@pytest.mark.parametrize(
    "what", ["patient", "appointment", "note", "invoice", "consent", "registration"]
)
def test_server_owned_fields_are_refused_on_create(sqlite_api: Api, what: str) -> None:
    path, role, body, entity = _creates(sqlite_api)[what]
    owned = sorted(entity.SERVER_OWNED | BASE_FIELDS)
    if entity is Patient:
        assert set(owned) >= PATIENT_STATE
    if entity is Appointment:
        assert "payment" in owned
    headers = sqlite_api.headers(role)
    store = sqlite_api.world.store
    before = _end(store)
    for name in owned:
        sent = sqlite_api.client.post(
            f"{PREFIX}{path}", json={**body, name: _value(name)}, headers=headers
        )
        assert sent.status_code == 422, (name, sent.text)
        refused = [e for e in sent.json()["errors"] if e["field"].endswith(f".{name}")]
        assert refused == [{"field": refused[0]["field"], "rule": "is set by the server"}]
    written = [ch.pk for ch in store.changes(before).changes if ch.pk.startswith("T#")]
    assert written == []  # nothing of the clinic was written (rate counts are not)


def test_server_owned_patient_fields_are_refused_on_update(sqlite_api: Api) -> None:
    patient = sqlite_api.world.patient()
    headers = {**sqlite_api.headers(Role.STAFF), "If-Match": '"1"'}
    for name in sorted(Patient.SERVER_OWNED | BASE_FIELDS):
        sent = sqlite_api.client.patch(
            f"{PREFIX}/patients/{patient.id}", json={name: _value(name)}, headers=headers
        )
        assert sent.status_code == 422 and sent.json()["field"] == f"patient.{name}", sent.text
    again = sqlite_api.world.practice.uow[Patient].require(patient.id)
    assert again.version == patient.version and again.status == patient.status


def test_a_doctor_cannot_book_care_for_themselves(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    outside = api.world.patient()  # nobody's patient yet
    doctor = api.headers(Role.DOCTOR)
    _problem = c.get(f"{PREFIX}/patients/{outside.id}/history/note", headers=doctor)
    assert _problem.status_code == 403
    start = local(2027, 6, 8, 10)
    booking = {
        "patient_id": outside.id,
        "provider_id": api.world.doctor.id,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
    }
    refused = c.post(f"{PREFIX}/appointments", json=booking, headers=doctor)
    assert refused.status_code == 403, refused.text
    assert c.get(f"{PREFIX}/patients/{outside.id}/history/note", headers=doctor).status_code == 403
    # the front desk books the patient with the doctor: that is care, on record
    booked = c.post(f"{PREFIX}/appointments", json=booking, headers=api.headers(Role.STAFF))
    assert booked.status_code == 201, booked.text
    assert c.get(f"{PREFIX}/patients/{outside.id}/history/note", headers=doctor).status_code == 200
