"""Minimum necessary, checked on the bytes, apart from the policy table.

Two patients carry values found nowhere else (an SSN, a phone, an email, a street, an
allergy, a note's words, a booking's notes, a record's complaint, a document's title and
bytes, an invoice memo, a therapy note). Every route that can return them is called by
every role and an API client, and the raw response bodies are searched for those values.
The rules are written here in words, not read from the code's tables, so a wrong table
cannot pass:

- a doctor's responses hold no SSN, contact or clinical value of a patient outside their
  care (the patient's name, date of birth and MRN may appear: the index entry);
- a STAFF response never holds an SSN, a clinical value or a booking's notes;
- a BILLING response never holds a note's words, a booking's notes or a clinical value;
- a patient's login never sees another patient's value of any kind;
- an API client (made by an administrator) never sees clinical content.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import httpx

from carevault.access.clients import create_client
from carevault.api.app import PREFIX
from carevault.domain.clinic import Role
from carevault.domain.clinical import MedicalRecord, TreatmentRecord
from carevault.domain.patient import Patient
from carevault.repo.credentials import stage_password
from carevault.services import billing, clinical, clinics, notes, scheduling
from tests.api.conftest import PASSWORD, Api
from tests.domain.world import HALF_HOUR, World, local, utc

A, D, S, B, U, P, C = (
    Role.ADMIN,
    Role.DOCTOR,
    Role.STAFF,
    Role.BILLING,
    Role.AUDITOR,
    Role.PATIENT,
    Role.SERVICE,
)
slots = itertools.count()
DAY = "2027-04-05"


def _slot() -> dict[str, Any]:
    start = local(2027, 4, 5, 9) + next(slots) * HALF_HOUR
    return {"start": start, "end": start + HALF_HOUR}


def _values(tag: str) -> dict[str, str]:
    """Values of one patient that appear nowhere else, by what they are."""
    return {
        "ssn": f"{tag}71-23-4567",
        "phone": f"+1 415 555 0{tag}12",
        "email": f"{tag.lower()}.unique@example.org",
        "street": f"{tag} Zanzibar Lane",
        "allergy": f"Allergen{tag}x",
        "note": f"Notewords{tag}x",
        "booking notes": f"Bookingnotes{tag}x",
        "complaint": f"Complaint{tag}x",
        "document title": f"Doctitle{tag}x",
        "document bytes": f"Docbytes{tag}x",
        "memo": f"Memo{tag}x",
        "therapy": f"Therapy{tag}x",
    }


CONTACT = ("phone", "email", "street")
CLINICAL = ("allergy", "note", "complaint", "document title", "document bytes", "therapy")


def _patient(world: World, last: str, tag: str, provider: str) -> tuple[Patient, dict[str, str]]:
    v = _values(tag)
    p = world.practice
    patient = world.patient(
        last,
        ssn=v["ssn"],
        phone=v["phone"],
        email=v["email"],
        address={"street": v["street"], "city": "Oakland", "postal_code": "94601", "country": "US"},
        allergies=[v["allergy"]],
    )
    appt = scheduling.book(practice=p, patient_id=patient.id, provider_id=provider, **_slot())
    scheduling.add_notes(
        practice=p, appointment_id=appt.id, version=appt.version, notes=v["booking notes"]
    )
    notes.draft(
        practice=p,
        patient_id=patient.id,
        provider_id=provider,
        subjective=v["note"],
        diagnosis_codes=["I10"],
    )
    clinical.create(
        practice=p,
        entity=MedicalRecord,
        patient_id=patient.id,
        provider_id=provider,
        visit_date=utc(2027, 4, 5, 9),
        record_type="CONSULTATION",
        chief_complaint=v["complaint"],
        medications=["Metformin"],
    )
    clinical.upload(
        practice=p,
        data=v["document bytes"].encode(),
        patient_id=patient.id,
        title=v["document title"],
        file_name="lab.txt",
        mime_type="text/plain",
        doc_type="LAB_REPORT",
    )
    billing.create(
        practice=p,
        patient_id=patient.id,
        memo=v["memo"],
        line_items=[{"description": "Visit", "unit_price": 100}],
    )
    clinical.create(
        practice=p,
        entity=TreatmentRecord,
        patient_id=patient.id,
        therapist_id=provider,
        session_date=utc(2027, 4, 5, 10),
        duration_minutes=50,
        notes=v["therapy"],
    )
    return patient, v


Call = Callable[[httpx.Client, dict[str, str]], httpx.Response]


def _reads(world: World, mine: Patient, stranger: Patient, providers: list[str]) -> list[Call]:
    """Every read route that can return a patient's data, for both patients."""

    def get(path: str, **params: Any) -> Call:
        return lambda c, h: c.get(f"{PREFIX}{path}", params=params, headers=h)

    def post(path: str, body: dict[str, Any]) -> Call:
        return lambda c, h: c.post(f"{PREFIX}{path}", json=body, headers=h)

    calls: list[Call] = [
        get("/patients", status="ACTIVE"),
        get("/schedule", day=DAY),
        get("/records", record_type="CONSULTATION"),
        get("/documents", doc_type="LAB_REPORT"),
        get("/invoices", status="DRAFT"),
        get("/registrations"),
        get("/users", role="PATIENT"),
        post("/notes/search", {"code": "I10"}),
        post("/records/search", {"by": "code", "value": "I10"}),
        post("/records/search", {"by": "medication", "value": "Metformin"}),
    ]
    for who in (mine, stranger):
        calls += [
            get(f"/patients/{who.id}"),
            post("/patients/search", {"by": "mrn", "value": who.mrn}),
            post("/patients/search", {"by": "last_name", "value": who.last_name}),
            post("/patients/search", {"by": "email", "value": who.email or ""}),
        ]
        for kind in ("appointment", "note", "record", "document", "invoice", "treatment"):
            calls.append(get(f"/patients/{who.id}/history/{kind}"))
    for provider in providers:
        span = {"start": "2027-04-05T00:00:00Z", "end": "2027-04-06T00:00:00Z"}
        calls += [
            get(f"/providers/{provider}/timeline", **span),
            get(f"/providers/{provider}/appointments", status="SCHEDULED"),
        ]
    return calls


def _documents(c: httpx.Client, h: dict[str, str], patients: list[str]) -> list[bytes]:
    """The bytes of every document the caller could list, by type or in a patient's history."""
    lists = [c.get(f"{PREFIX}/documents", params={"doc_type": "LAB_REPORT"}, headers=h)]
    lists += [c.get(f"{PREFIX}/patients/{p}/history/document", headers=h) for p in patients]
    ids = {d["id"] for r in lists if r.status_code == 200 for d in r.json()["items"]}
    return [c.get(f"{PREFIX}/documents/{i}/content", headers=h).content for i in sorted(ids)]


def test_no_response_holds_more_than_the_reader_may_see(sqlite_api: Api) -> None:
    api, world, c = sqlite_api, sqlite_api.world, sqlite_api.client
    colleague = world.provider()
    mine, own = _patient(world, "Ownpatient", "7", world.doctor.id)  # in the doctor's care
    stranger, theirs = _patient(world, "Strangerpatient", "8", colleague.id)  # not
    portal = clinics.add_user(
        practice=world.practice,
        first_name="Own",
        last_name="Portal",
        email="own.portal@example.org",
        role=P,
        patient_id=mine.id,
    )
    stage_password(world.practice.uow, portal.id, PASSWORD)
    world.practice.uow.commit()
    api.users[P] = portal
    callers = {role: api.headers(role) for role in (A, D, S, B, U, P)}
    _, credential = create_client(
        uow=world.practice.uow, name="Feed", scopes=["patient:read", "appointment:read"]
    )
    token = c.post(f"{PREFIX}/sessions/client", json={"credential": credential}).json()
    callers[C] = {"Authorization": f"Bearer {token['access_token']}"}
    calls = _reads(world, mine, stranger, [world.doctor.id, colleague.id])

    seen: dict[Role, bytes] = {}
    for role, headers in callers.items():
        bodies = [call(c, headers) for call in calls]
        assert all(r.status_code < 500 for r in bodies)
        ok = [r.content for r in bodies if r.status_code == 200]
        seen[role] = b"\n".join(ok + _documents(c, headers, [mine.id, stranger.id]))
    # the front desk's own writes and an idempotent replay answer masked too
    staff = callers[S]
    keyed = {**staff, "Idempotency-Key": "exposure-1"}
    slot = _slot()
    booking = {
        "patient_id": mine.id,
        "provider_id": world.doctor.id,
        "start": slot["start"].isoformat(),
        "end": slot["end"].isoformat(),
        "notes": own["booking notes"],
    }
    first = c.post(f"{PREFIX}/appointments", json=booking, headers=keyed)
    replay = c.post(f"{PREFIX}/appointments", json=booking, headers=keyed)
    assert first.status_code == replay.status_code == 201, first.text
    assert first.json()["id"] == replay.json()["id"]
    step = c.post(
        f"{PREFIX}/appointments/{first.json()['id']}/notes",
        json={"notes": own["booking notes"]},
        headers={**staff, "If-Match": first.headers["etag"]},
    )
    assert step.status_code == 200, step.text
    seen[S] += b"\n".join([first.content, replay.content, step.content])

    def holds(role: Role, values: dict[str, str], *what: str) -> list[str]:
        return [w for w in what if values[w].encode() in seen[role]]

    everything = tuple(own)
    # the checks can fail: those who may see a value do see it
    assert holds(D, own, *everything) == list(everything)
    assert holds(P, own, *everything) == list(everything)
    assert holds(A, theirs, "ssn", "phone", "memo") == ["ssn", "phone", "memo"]
    assert stranger.last_name.encode() in seen[D]  # the index entry
    # the rules
    assert holds(D, theirs, "ssn", *CONTACT, *CLINICAL, "booking notes", "memo") == []
    for values in (own, theirs):
        assert holds(S, values, "ssn", *CLINICAL, "booking notes") == []
        assert holds(B, values, "note", "booking notes", *CLINICAL) == []
        assert holds(C, values, *CLINICAL, "booking notes") == []
        assert holds(U, values, *everything) == []
    assert holds(P, theirs, *everything) == []
    assert stranger.last_name.encode() not in seen[P]
