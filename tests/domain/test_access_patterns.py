"""A1-A16: each access pattern answered by its stated number of queries, never a scan.

The store under the clinic is a CountingStore over the real engine; each test resets it
right before the pattern and checks both the answer and what the engine was asked.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from carevault.domain.audit import Action, AuditEvent, Level
from carevault.domain.clinic import Clinic, Role, User
from carevault.domain.clinical import (
    DocumentType,
    MedicalRecord,
    RecordType,
    TreatmentRecord,
)
from carevault.domain.intake import Consent, Session
from carevault.domain.patient import Patient, PatientStatus
from carevault.domain.scheduling import Appointment, AppointmentStatus
from carevault.services import (
    audit_trail,
    billing,
    clinical,
    clinics,
    notes,
    patients,
    scheduling,
)
from carevault.services.practice import Practice
from tests.domain.world import HALF_HOUR, World, local, utc
from tests.outbox import invitation_code

MONDAY = date(2027, 3, 1)


def reads_only(world: World, queries: int, gets: int = 0) -> None:
    """The pattern made at most ``queries`` query pages and ``gets`` (batch) gets, no writes."""
    calls = world.store.calls
    assert set(calls) <= {"get", "batch_get", "query"}, dict(calls)
    assert calls["query"] <= queries, dict(calls)
    assert calls["get"] + calls["batch_get"] <= gets, dict(calls)


def book(world: World, patient: Patient, hour: int, day: int = 1, **extra: object) -> Appointment:
    start = local(2027, 3, day, hour)
    return scheduling.book(
        practice=world.practice,
        patient_id=patient.id,
        provider_id=extra.pop("provider_id", world.doctor.id),  # type: ignore[arg-type]
        start=start,
        end=start + HALF_HOUR,
        **extra,
    )


def test_a1_clinic_by_id_and_clinic_directory(world: World) -> None:
    second = clinics.create_clinic(store=world.store, ring=world.ring, name="Second Clinic")
    world.store.reset()
    found = world.practice.uow[Clinic].get(world.tenant)
    assert found is not None and found.name == "Bayview Clinic"
    listed = clinics.list_clinics(store=world.store).items
    assert {c["id"] for c in listed} == {world.tenant, second.id}
    assert {c["name"] for c in listed} == {"Bayview Clinic", "Second Clinic"}
    reads_only(world, queries=1, gets=1)


def test_a2_users_by_id_login_email_and_role(world: World) -> None:
    staff = clinics.add_user(
        practice=world.practice,
        first_name="Sam",
        last_name="Staff",
        email="Sam.Staff@Example.org",
        role=Role.STAFF,
    )
    world.store.reset()
    assert world.practice.uow[User].require(staff.id).email == "Sam.Staff@example.org"
    located = clinics.find_login(store=world.store, ring=world.ring, email="sam.staff@example.ORG")
    assert located is not None and located[0] == world.tenant and located[1].id == staff.id
    doctors = clinics.users_by_role(practice=world.practice, role=Role.DOCTOR).items
    assert [u.id for u in doctors] == [world.doctor.id]
    reads_only(world, queries=1, gets=3)


def test_a3_patient_by_id_email_phone_mrn_and_external_id(world: World) -> None:
    target = world.patient(external_ids=[{"system": "epic", "value": "E-77"}])
    world.patient()
    p = world.practice
    for lookup in (
        lambda: [p.uow[Patient].require(target.id)],
        lambda: patients.find(practice=p, by="email", value=f" {target.email.upper()} "),  # type: ignore[union-attr]
        lambda: patients.find(practice=p, by="phone", value="+1 " + str(target.phone)),
        lambda: [patients.by_mrn(practice=p, mrn=target.mrn.lower().replace("-", " "))],
        lambda: patients.find(practice=p, by="external_id", value="EPIC:E77"),
    ):
        world.store.reset()
        found = lookup()
        assert [x.id for x in found if x] == [target.id]
        reads_only(world, queries=1, gets=2)


def test_a4_patients_by_status_newest_first(world: World) -> None:
    made = [world.patient() for _ in range(4)]
    for gone in made[:2]:
        patients.deactivate(practice=world.practice, patient_id=gone.id, version=gone.version)
    world.store.reset()
    active = patients.by_status(practice=world.practice, status=PatientStatus.ACTIVE).items
    inactive = patients.by_status(practice=world.practice, status=PatientStatus.INACTIVE).items
    assert [x.id for x in active] == [made[3].id, made[2].id]
    assert {x.id for x in inactive} == {made[0].id, made[1].id}
    reads_only(world, queries=2)


def test_a5_last_name_exact_prefix_and_sounds_like(world: World) -> None:
    smith, smyth, whit, schmidt = (
        world.patient(n) for n in ("Smith", "Smyth", "Whitford", "Schmidt")
    )
    for by, value, expected in (
        ("last_name", "SMITH", {smith.id}),
        ("last_name_prefix", "Whi", {whit.id}),
        ("last_name_prefix", "Smy", {smyth.id}),
        ("sounds_like", "Smithe", {smith.id, smyth.id}),
    ):
        world.store.reset()
        assert {
            x.id for x in patients.find(practice=world.practice, by=by, value=value)
        } == expected
        reads_only(world, queries=1, gets=1)
    assert schmidt.id not in {
        x.id for x in patients.find(practice=world.practice, by="last_name_prefix", value="Smi")
    }


def test_a6_patient_history_all_or_one_type_by_date(world: World) -> None:
    patient = world.patient()
    first = book(world, patient, 9)
    second = book(world, patient, 10, day=2)
    note = notes.draft(
        practice=world.practice,
        patient_id=patient.id,
        provider_id=world.doctor.id,
        subjective="Headache",
    )
    world.store.reset()
    everything = world.practice.uow.history(patient.id).items
    assert {type(x).__name__ for x in everything} == {"Patient", "Appointment", "ClinicalNote"}
    appts = world.practice.uow.history(patient.id, prefix="APPT#").items
    assert [a.id for a in appts] == [first.id, second.id]
    from carevault.store import SortKey

    one_day = world.practice.uow.history(
        patient.id, sk=SortKey.between("APPT#2027-03-02", "APPT#2027-03-03")
    ).items
    assert [a.id for a in one_day] == [second.id]
    assert [n.id for n in world.practice.uow.history(patient.id, prefix="NOTE#").items] == [note.id]
    reads_only(world, queries=4)


def test_a7_provider_appointments_and_blocks_in_a_range(world: World) -> None:
    patient = world.patient()
    morning = book(world, patient, 9)
    book(world, patient, 9, day=3)
    scheduling.add_block(
        practice=world.practice,
        provider_id=world.doctor.id,
        date=MONDAY,
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
        type="BREAK",
        recurrence={"type": "DAILY"},
    )
    world.store.reset()
    line = scheduling.provider_timeline(
        practice=world.practice,
        provider_id=world.doctor.id,
        start=local(2027, 3, 1, 0),
        end=local(2027, 3, 2, 0),
    )
    assert [a.id for a in line.appointments] == [morning.id]
    assert [(s, e) for _, s, e in line.blocks] == [(local(2027, 3, 1, 12), local(2027, 3, 1, 13))]
    reads_only(world, queries=2)


def test_a8_clinic_daily_schedule(world: World) -> None:
    other = world.provider()
    a, b = world.patient(), world.patient()
    late = book(world, a, 15)
    early = book(world, b, 9, provider_id=other.id)
    book(world, a, 9, day=2)
    world.store.reset()
    day = scheduling.day_schedule(practice=world.practice, day=MONDAY).items
    assert [x.id for x in day] == [early.id, late.id]
    reads_only(world, queries=1)


def test_a9_provider_appointments_by_status(world: World) -> None:
    patient = world.patient()
    kept, gone = book(world, patient, 9), book(world, patient, 10)
    scheduling.cancel(
        practice=world.practice, appointment_id=gone.id, version=gone.version, reason="Travel"
    )
    world.store.reset()
    for status, expected in (
        (AppointmentStatus.SCHEDULED, [kept.id]),
        (AppointmentStatus.CANCELLED, [gone.id]),
    ):
        found = scheduling.by_status(
            practice=world.practice, provider_id=world.doctor.id, status=status
        ).items
        assert [x.id for x in found] == expected
    reads_only(world, queries=2)


def test_a10_invoices_by_status_by_due_date(world: World) -> None:
    patient = world.patient()
    made = []
    for days in (30, 10, 20):
        inv = billing.create(
            practice=world.practice,
            patient_id=patient.id,
            line_items=[{"description": "Visit", "unit_price": 5000}],
        )
        made.append(
            billing.issue(
                practice=world.practice,
                invoice_id=inv.id,
                version=inv.version,
                due=MONDAY + timedelta(days=days),
            )
        )
    world.store.reset()
    issued = billing.by_status(practice=world.practice, status=billing.InvoiceStatus.ISSUED).items
    assert [i.id for i in issued] == [made[1].id, made[2].id, made[0].id]
    soon = billing.by_status(
        practice=world.practice,
        status=billing.InvoiceStatus.ISSUED,
        due_before=MONDAY + timedelta(days=15),
    ).items
    assert [i.id for i in soon] == [made[1].id]
    reads_only(world, queries=2)


def test_a11_records_by_type_and_documents_by_type(world: World) -> None:
    patient = world.patient()
    lab = clinical.create(
        practice=world.practice,
        entity=MedicalRecord,
        patient_id=patient.id,
        provider_id=world.doctor.id,
        visit_date=utc(2027, 3, 1, 14),
        record_type=RecordType.LAB_RESULT,
    )
    clinical.create(
        practice=world.practice,
        entity=MedicalRecord,
        patient_id=patient.id,
        provider_id=world.doctor.id,
        visit_date=utc(2027, 3, 1, 15),
    )
    doc = clinical.upload(
        practice=world.practice,
        data=b"ECG trace",
        patient_id=patient.id,
        doc_type=DocumentType.ECG_REPORT,
        title="ECG",
        file_name="ecg.txt",
        mime_type="text/plain",
    )
    world.store.reset()
    labs = clinical.records_by_type(practice=world.practice, record_type=RecordType.LAB_RESULT)
    assert [r.id for r in labs.items] == [lab.id]
    ecgs = clinical.documents_by_type(practice=world.practice, doc_type=DocumentType.ECG_REPORT)
    assert [d.id for d in ecgs.items] == [doc.id]
    reads_only(world, queries=2)


def test_a12_notes_and_records_by_diagnosis_code_or_medication(world: World) -> None:
    patient = world.patient()
    note = notes.draft(
        practice=world.practice,
        patient_id=patient.id,
        provider_id=world.doctor.id,
        diagnosis_codes=["I25.9"],
        medications=["Atorvastatin"],
    )
    notes.draft(
        practice=world.practice,
        patient_id=patient.id,
        provider_id=world.doctor.id,
        diagnosis_codes=["E11.9"],
    )
    record = clinical.create(
        practice=world.practice,
        entity=MedicalRecord,
        patient_id=patient.id,
        provider_id=world.doctor.id,
        visit_date=utc(2027, 3, 1, 14),
        diagnoses=[{"code": "I259"}],
        prescriptions=[{"medication": "Atorvastatin", "dosage": "20mg", "frequency": "daily"}],
    )
    world.store.reset()
    assert [n.id for n in notes.by_code(practice=world.practice, code="i25.9")] == [note.id]
    assert [r.id for r in clinical.records_by_code(practice=world.practice, code="I25.9")] == [
        record.id
    ]
    assert [
        n.id for n in notes.by_medication(practice=world.practice, medication="ATORVASTATIN")
    ] == [note.id]
    by_med = clinical.records_by_medication(practice=world.practice, medication="atorvastatin")
    assert [r.id for r in by_med] == [record.id]
    reads_only(world, queries=4, gets=4)


def test_a13_treatment_records_of_a_client_by_session_date(world: World) -> None:
    client = world.patient()
    made = [
        clinical.create(
            practice=world.practice,
            entity=TreatmentRecord,
            patient_id=client.id,
            therapist_id=world.doctor.id,
            session_date=utc(2027, 3, day, 15),
            duration_minutes=50,
            notes="Grounding practice",
        )
        for day in (8, 1, 15)
    ]
    clinical.create(
        practice=world.practice,
        entity=Consent,
        patient_id=client.id,
        kind="HIPAA",
        granted_at=utc(2027, 3, 1, 9),
    )
    world.store.reset()
    found = clinical.treatment_records(practice=world.practice, patient_id=client.id).items
    assert [t.id for t in found] == [made[1].id, made[0].id, made[2].id]
    reads_only(world, queries=1)


def test_a14_session_by_id_and_invitation_by_token_expire_by_ttl(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, user = world.practice, world.doctor
    now = p.now()
    live = clinical.create(
        practice=p, entity=Session, user_id=user.id, expires_at=now + timedelta(hours=1)
    )
    dead = clinical.create(
        practice=p, entity=Session, user_id=user.id, expires_at=now - timedelta(seconds=5)
    )
    patient = world.patient()
    patients.invite(practice=p, patient_id=patient.id)
    token = invitation_code(p, patient.id)
    past = Practice.open(
        world.store, world.ring, world.tenant, clock=lambda: now - timedelta(days=8)
    )
    stale_patient = world.patient()
    # its message expired with it, so the outbox no longer has it: choose the token
    stale_token = "stale-invitation-token-" + "x" * 20
    monkeypatch.setattr(patients.secrets, "token_urlsafe", lambda n: stale_token)
    patients.invite(practice=past, patient_id=stale_patient.id)
    world.store.reset()
    assert p.uow[Session].get(live.id) is not None
    assert p.uow[Session].get(dead.id) is None
    found = patients.invitation_by_token(store=world.store, ring=world.ring, token=token)
    assert found is not None and found[1].patient_id == patient.id
    assert (
        patients.invitation_by_token(store=world.store, ring=world.ring, token=stale_token) is None
    )
    reads_only(world, queries=0, gets=5)


def test_a15_audit_by_clinic_and_time_patient_and_level(world: World) -> None:
    patient = world.patient()
    events = []
    for minute in range(12):
        event = AuditEvent.create(
            at=utc(2027, 3, 1, 10, minute),
            actor_id=world.doctor.id,
            role="DOCTOR",
            action=Action.READ,
            resource_type="PATIENT",
            patient_id=patient.id if minute % 3 == 0 else None,
            level=Level.CRITICAL if minute % 4 == 0 else Level.HIPAA,
        )
        events.append(audit_trail.record(practice=world.practice, event=event))
    audit_trail.record(
        practice=world.practice,
        event=AuditEvent.create(
            at=utc(2027, 3, 2, 10),
            actor_id="u",
            role="ADMIN",
            action=Action.LOGIN,
            resource_type="SESSION",
        ),
    )
    world.store.reset()
    day = audit_trail.on_day(practice=world.practice, day=MONDAY)
    assert [e.id for e in day] == [e.id for e in events]
    told = audit_trail.disclosures(
        practice=world.practice, patient_id=patient.id, since=utc(2027, 3, 1, 10, 1)
    )
    assert [e.at.minute for e in told] == [3, 6, 9]
    critical = audit_trail.by_level(practice=world.practice, level=Level.CRITICAL, day=MONDAY)
    assert [e.at.minute for e in critical] == [0, 4, 8]
    reads_only(world, queries=9)


def test_a16_free_slots_are_hours_minus_appointments_and_blocks(world: World) -> None:
    patient = world.patient()
    book(world, patient, 9)
    scheduling.add_block(
        practice=world.practice,
        provider_id=world.doctor.id,
        date=MONDAY,
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
        type="BREAK",
        recurrence={"type": "WEEKLY", "days_of_week": [1, 3]},
    )
    world.store.reset()
    slots = scheduling.free_slots(
        practice=world.practice, provider_id=world.doctor.id, day=MONDAY, minutes=60
    )
    starts = [s.astimezone(local(2027, 3, 1, 0).tzinfo).strftime("%H:%M") for s, _ in slots]
    assert starts[0] == "08:00" and "08:15" not in starts  # 08:15-09:15 would hit the 9:00 visit
    assert "09:30" in starts and "11:00" in starts and "11:15" not in starts  # lunch
    assert "13:00" in starts and starts[-1] == "16:00"
    reads_only(world, queries=2, gets=1)
    tuesday = scheduling.free_slots(
        practice=world.practice,
        provider_id=world.doctor.id,
        day=MONDAY + timedelta(days=1),
        minutes=60,
    )
    assert len(tuesday) == 33  # 08:00..16:00 every 15 minutes: no visit, no block on Tuesday
