"""Not yours = not found: on every route that takes an id, another clinic's real id, an id
nobody issued and a malformed id get the same answer (status, type, title, detail), for
every role, so no response tells which ids exist elsewhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from carevault.access.clients import create_client
from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from carevault.domain.clinical import MedicalRecord, TreatmentRecord
from carevault.domain.intake import Consent, InsuranceVerification, Registration
from carevault.services import billing, clinical, notes, scheduling
from tests.access.test_matrix import Ctx
from tests.api.conftest import Api
from tests.api.test_hostile_ids import _routes_with_ids
from tests.domain.world import World, local, make_world

FIXED = {"kind": "note", "step": "confirm"}
QUERY = {
    "/timeline": {"start": "2027-05-03T00:00:00Z", "end": "2027-05-04T00:00:00Z"},
    "/availability": {"day": "2027-05-03"},
    "/appointments": {"status": "SCHEDULED"},
}
BODY = {"/shred": {"reason": "PATIENT_REQUEST"}, "/{step}": {}}
UNKNOWN = "01JCW3Q4ZJ8X2M5N7P9R1T3V5X"


def _foreign_ids(other: World) -> dict[str, str]:
    """A real id of each kind, all of another clinic."""
    p = other.practice
    patient = other.patient()
    start = local(2027, 5, 3, 9)
    appt = scheduling.book(
        practice=p,
        patient_id=patient.id,
        provider_id=other.doctor.id,
        start=start,
        end=start + timedelta(minutes=30),
    )
    note = notes.draft(practice=p, patient_id=patient.id, provider_id=other.doctor.id)
    invoice = billing.create(
        practice=p, patient_id=patient.id, line_items=[{"description": "Visit", "unit_price": 1}]
    )
    document = clinical.upload(
        practice=p,
        data=b"x",
        patient_id=patient.id,
        title="T",
        file_name="t.txt",
        mime_type="text/plain",
    )
    registration = clinical.create(
        practice=p, entity=Registration, first_name="R", last_name="G", email="rg@example.org"
    )
    block = scheduling.add_block(
        practice=p,
        provider_id=other.doctor.id,
        date="2027-05-04",
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
    )
    client, _ = create_client(uow=p.uow, name="Theirs", scopes=["patient:read"])
    ctx = Ctx(other, patient, p, other.doctor.id)
    made = {
        name: ctx.made(entity).id
        for name, entity in (
            ("record_id", MedicalRecord),
            ("treatment_id", TreatmentRecord),
            ("consent_id", Consent),
            ("verification_id", InsuranceVerification),
        )
    }
    return {
        **made,
        "patient_id": patient.id,
        "appointment_id": appt.id,
        "note_id": note.id,
        "invoice_id": invoice.id,
        "document_id": document.id,
        "registration_id": registration.id,
        "block_id": block.id,
        "client_id": client.id,
        "user_id": other.doctor.id,
        "provider_id": other.doctor.id,
        "clinic_id": other.tenant,
    }


def _url(path: str, params: list[str], value: dict[str, str]) -> str:
    step = "issue" if path.startswith(f"{PREFIX}/invoices") else "confirm"
    for name in params:
        fixed = step if name == "step" else FIXED.get(name)
        path = path.replace("{" + name + "}", fixed or value[name])
    return path


def _extra(path: str) -> dict[str, Any]:
    """The query and body a route needs besides its ids (so the ids decide its answer)."""
    query = next((q for end, q in QUERY.items() if path.endswith(end)), None)
    body = next((b for end, b in BODY.items() if path.endswith(end)), {})
    return {"params": query, "json": body}


def _answer(response: Any) -> tuple[Any, ...]:
    body = response.json() if response.content else {}
    keys = ("type", "title", "detail", "field", "rule")
    return (response.status_code, *(body.get(k) for k in keys if isinstance(body, dict)))


def test_foreign_unknown_and_malformed_ids_are_answered_alike(sqlite_api: Api) -> None:
    api, c = sqlite_api, sqlite_api.client
    other = make_world(api.world.make_store, api.world.tmp, shared=api.world)
    foreign = _foreign_ids(other)
    routes = [(m, p, ps) for m, p, ps in _routes_with_ids(api) if set(ps) - set(FIXED)]
    assert len(routes) >= 20
    statuses = set()
    for role in (Role.ADMIN, Role.DOCTOR, Role.STAFF, Role.BILLING, Role.PATIENT):
        headers = {**api.headers(role), "If-Match": '"1"'}
        for method, path, params in routes:
            variable = [n for n in params if n not in FIXED]
            answers = []
            for ids in (foreign, dict.fromkeys(variable, UNKNOWN), dict.fromkeys(variable, "x1")):
                url = _url(path, params, ids)
                response = c.request(method, url, headers=headers, **_extra(path))
                assert response.status_code < 500, (method, path, response.text)
                answers.append(_answer(response))
            assert answers[0] == answers[1] == answers[2], (role.value, method, path, answers)
            statuses.add(answers[0][0])
    assert 404 in statuses  # the ids were looked for, not all refused before
