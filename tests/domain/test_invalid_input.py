"""Bad input for every entity is refused with its field and rule, and changes nothing.

"Nothing" is checked on the engine itself: the number of stored items and the length of
the change feed are the same before and after each refused call.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import boto3
import psycopg
import pytest

from carevault.domain.audit import AuditEvent
from carevault.domain.clinic import ProviderProfile, Role
from carevault.domain.clinical import MedicalRecord, TreatmentRecord
from carevault.domain.intake import Consent, InsuranceVerification, Registration, Session
from carevault.errors import (
    CarevaultError,
    DuplicateValue,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from carevault.services import (
    audit_trail,
    billing,
    clinical,
    clinics,
    notes,
    patients,
    scheduling,
)
from carevault.store import Store
from tests.domain.world import World, local, make_world, utc
from tests.engines import PG_URL


def item_count(engine: str, store: Store, endpoint: str | None) -> int:
    """Items the engine holds, counted by the engine itself."""
    if engine == "sqlite":
        with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    if engine == "postgresql":
        with psycopg.connect(PG_URL) as conn:
            row = conn.execute(f"SELECT count(*) FROM {store.schema}.items").fetchone()  # type: ignore[attr-defined]
            return int(row[0]) if row else 0
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return int(client.scan(TableName=store.table, Select="COUNT")["Count"])  # type: ignore[attr-defined]


def feed_length(store: Store) -> int:
    count, position = 0, None
    while True:
        page = store.changes(position, limit=1000)
        if not page.changes:
            return count
        count += len(page.changes)
        position = page.position


Case = tuple[str, Callable[[], Any], type[CarevaultError], str]


def cases(w: World, other: World) -> list[Case]:
    """(what, call, error, field) for every entity; ``other`` is another clinic."""
    p, doctor = w.practice, w.doctor.id
    patient = w.patient("Keeling")
    stranger = other.patient("Outsider")
    appt = scheduling.book(
        practice=p,
        patient_id=patient.id,
        provider_id=doctor,
        start=local(2027, 3, 1, 9),
        end=local(2027, 3, 1, 9, 30),
    )
    note = notes.draft(practice=p, patient_id=patient.id, provider_id=doctor, subjective="ok")
    signed = notes.sign(practice=p, note_id=note.id, version=note.version)
    invoice = billing.create(
        practice=p, patient_id=patient.id, line_items=[{"description": "Visit", "unit_price": 100}]
    )
    paid = billing.issue(
        practice=p, invoice_id=invoice.id, version=invoice.version, due=date(2027, 4, 1)
    )
    paid = billing.record_payment(
        practice=p, invoice_id=paid.id, version=paid.version, amount=100, method="CARD"
    )
    no_email = w.patient("Quiet", email=None)
    data = b"%PDF-1.4 lab values"

    def book(**kw: Any) -> Any:
        args = {
            "practice": p,
            "patient_id": patient.id,
            "provider_id": doctor,
            "start": local(2027, 3, 2, 10),
            "end": local(2027, 3, 2, 10, 30),
            **kw,
        }
        return scheduling.book(**args)

    def register(**kw: Any) -> Any:
        base = {
            "mrn": "MRN-NEW",
            "first_name": "A",
            "last_name": "B",
            "date_of_birth": "1990-01-01",
            "gender": "MALE",
        }
        return patients.register(practice=p, **{**base, **kw})

    def record(**kw: Any) -> Any:
        base = {"patient_id": patient.id, "provider_id": doctor, "visit_date": utc(2027, 3, 1, 9)}
        return clinical.create(practice=p, entity=MedicalRecord, **{**base, **kw})

    def upload(**kw: Any) -> Any:
        base = {
            "data": data,
            "patient_id": patient.id,
            "title": "Lab",
            "file_name": "lab.pdf",
            "mime_type": "application/pdf",
        }
        return clinical.upload(practice=p, **{**base, **kw})

    return [
        (
            "patient born in the future",
            lambda: register(date_of_birth=date.today() + timedelta(days=2)),
            ValidationError,
            "patient.date_of_birth",
        ),
        (
            "patient with a bad email",
            lambda: register(email="not-an-email"),
            ValidationError,
            "patient.email",
        ),
        ("patient with a bad SSN", lambda: register(ssn="12-345"), ValidationError, "patient.ssn"),
        (
            "patient with a taken MRN",
            lambda: register(mrn=patient.mrn.lower()),
            DuplicateValue,
            "patient.mrn",
        ),
        (
            "patient with an unknown gender",
            lambda: register(gender="x"),
            ValidationError,
            "patient.gender",
        ),
        (
            "another clinic's patient deactivated",
            lambda: patients.deactivate(practice=p, patient_id=stranger.id, version=1),
            NotFound,
            "",
        ),
        (
            "invitation without an email",
            lambda: patients.invite(practice=p, patient_id=no_email.id),
            ValidationError,
            "patient.email",
        ),
        (
            "appointment ending before it starts",
            lambda: book(end=local(2027, 3, 2, 9)),
            ValidationError,
            "appointment.end",
        ),
        (
            "appointment off the 5-minute grid",
            lambda: book(start=local(2027, 3, 2, 10, 3)),
            ValidationError,
            "appointment.start",
        ),
        (
            "appointment for another clinic's patient",
            lambda: book(patient_id=stranger.id),
            ValidationError,
            "appointment.patient_id",
        ),
        (
            "appointment with another clinic's provider",
            lambda: book(provider_id=other.doctor.id),
            ValidationError,
            "appointment.provider_id",
        ),
        (
            "appointment completed before check-in",
            lambda: scheduling.complete(practice=p, appointment_id=appt.id, version=appt.version),
            InvalidTransition,
            "appointment.status",
        ),
        (
            "cancellation without a reason",
            lambda: scheduling.cancel(
                practice=p, appointment_id=appt.id, version=appt.version, reason=" "
            ),
            ValidationError,
            "appointment.cancellation_reason",
        ),
        (
            "time block ending before it starts",
            lambda: scheduling.add_block(
                practice=p,
                provider_id=doctor,
                date=date(2027, 3, 1),
                start_time="13:00",
                end_time="12:00",
                reason="Lunch",
            ),
            ValidationError,
            "time_block.end_time",
        ),
        (
            "time block with a bad rule",
            lambda: scheduling.add_block(
                practice=p,
                provider_id=doctor,
                date=date(2027, 3, 1),
                start_time="12:00",
                end_time="13:00",
                reason="x",
                recurrence={"type": "CUSTOM", "rule": "FREQ=SOMETIMES"},
            ),
            ValidationError,
            "time_block.recurrence.rule",
        ),
        (
            "time block on 25 o'clock",
            lambda: scheduling.add_block(
                practice=p,
                provider_id=doctor,
                date=date(2027, 3, 1),
                start_time="25:00",
                end_time="26:00",
                reason="x",
            ),
            ValidationError,
            "time_block.start_time",
        ),
        (
            "provider hours ending before they start",
            lambda: scheduling.set_profile(
                practice=p,
                profile=ProviderProfile.create(
                    id=w.doctor.id,
                    license_number="L",
                    specialization="x",
                    working_hours={"monday": {"start": "17:00", "end": "08:00"}},
                ),
            ),
            ValidationError,
            "provider_profile.working_hours.monday.end",
        ),
        (
            "user with an unknown role",
            lambda: clinics.add_user(
                practice=p, first_name="A", last_name="B", email="ab@example.org", role="GOD"
            ),
            ValidationError,
            "user.role",
        ),
        (
            "user with a login taken in another clinic",
            lambda: clinics.add_user(
                practice=p, first_name="A", last_name="B", email=other.doctor.email, role=Role.STAFF
            ),
            DuplicateValue,
            "user.email",
        ),
        (
            "note with a bad ICD-10 code",
            lambda: notes.draft(
                practice=p, patient_id=patient.id, provider_id=doctor, diagnosis_codes=["XYZ.1"]
            ),
            ValidationError,
            "clinical_note.diagnosis_codes.0",
        ),
        (
            "note for another clinic's patient",
            lambda: notes.draft(practice=p, patient_id=stranger.id, provider_id=doctor),
            ValidationError,
            "clinical_note.patient_id",
        ),
        (
            "signed note edited",
            lambda: notes.edit(
                practice=p, note_id=signed.id, version=signed.version, plan="changed"
            ),
            InvalidTransition,
            "note.status",
        ),
        (
            "record with a bad ICD-10 code",
            lambda: record(diagnoses=[{"code": "I2"}]),
            ValidationError,
            "medical_record.diagnoses.0.code",
        ),
        (
            "record with an impossible heart rate",
            lambda: record(vitals={"heart_rate": 900}),
            ValidationError,
            "medical_record.vitals.heart_rate",
        ),
        (
            "invoice with a negative price",
            lambda: billing.create(
                practice=p,
                patient_id=patient.id,
                line_items=[{"description": "x", "unit_price": -5}],
            ),
            ValidationError,
            "invoice.line_items.0.unit_price",
        ),
        (
            "invoice without lines",
            lambda: billing.create(practice=p, patient_id=patient.id, line_items=[]),
            ValidationError,
            "invoice.line_items",
        ),
        (
            "payment of a negative amount",
            lambda: billing.record_payment(
                practice=p, invoice_id=paid.id, version=paid.version, amount=-1, method="CASH"
            ),
            ValidationError,
            "payment.amount",
        ),
        (
            "paid invoice voided",
            lambda: billing.void(practice=p, invoice_id=paid.id, version=paid.version, reason="x"),
            InvalidTransition,
            "invoice.status",
        ),
        (
            "document over the size limit",
            lambda: upload(max_bytes=10),
            ValidationError,
            "document.size",
        ),
        (
            "document with a wrong checksum",
            lambda: upload(checksum="sha256:" + hashlib.sha256(b"other").hexdigest()),
            ValidationError,
            "document.checksum",
        ),
        (
            "document of an unknown type",
            lambda: upload(mime_type="application/x-msdownload"),
            ValidationError,
            "document.mime_type",
        ),
        (
            "treatment of negative length",
            lambda: clinical.create(
                practice=p,
                entity=TreatmentRecord,
                patient_id=patient.id,
                therapist_id=doctor,
                session_date=utc(2027, 3, 1, 9),
                duration_minutes=-50,
            ),
            ValidationError,
            "treatment_record.duration_minutes",
        ),
        (
            "consent revoked before it was given",
            lambda: clinical.create(
                practice=p,
                entity=Consent,
                patient_id=patient.id,
                kind="HIPAA",
                granted_at=utc(2027, 3, 2, 9),
                revoked_at=utc(2027, 3, 1, 9),
            ),
            ValidationError,
            "consent.revoked_at",
        ),
        (
            "insurance verification without insurance",
            lambda: clinical.create(
                practice=p, entity=InsuranceVerification, patient_id=patient.id
            ),
            ValidationError,
            "insurance_verification.insurance",
        ),
        (
            "registration with a naive time",
            lambda: clinical.create(
                practice=p,
                entity=Registration,
                first_name="A",
                last_name="B",
                email="a@example.org",
                created_at="2027-03-01T10:00:00",
            ),
            ValidationError,
            "registration.created_at",
        ),
        (
            "session with a naive expiry",
            lambda: clinical.create(
                practice=p, entity=Session, user_id=doctor, expires_at="2027-03-01T10:00:00"
            ),
            ValidationError,
            "session.expires_at",
        ),
        (
            "session of a user of another clinic",
            lambda: clinical.create(
                practice=p,
                entity=Session,
                user_id=other.doctor.id,
                expires_at=utc(2027, 3, 1, 10),
            ),
            ValidationError,
            "session.user_id",
        ),
        (
            "audit event naming a resource in lower case",
            lambda: audit_trail.record(
                practice=p,
                event=AuditEvent.create(
                    at=utc(2027, 3, 1, 10),
                    actor_id="u1",
                    role="DOCTOR",
                    action="READ",
                    resource_type="patient",
                ),
            ),
            ValidationError,
            "audit_event.resource_type",
        ),
        (
            "clinic in an unknown time zone",
            lambda: clinics.create_clinic(
                store=w.store, ring=w.ring, name="X", time_zone="Mars/Olympus"
            ),
            ValidationError,
            "clinic.time_zone",
        ),
        (
            "search by an unknown field",
            lambda: patients.find(practice=p, by="ssn", value="1"),
            ValidationError,
            "search.by",
        ),
    ]


def test_every_bad_input_is_refused_and_changes_nothing(
    engine: str, endpoint: str | None, world: World, make_store: Callable[[], Store], tmp_path: Any
) -> None:
    other = make_world(make_store, tmp_path, shared=world)
    store = world.store.inner
    table = cases(world, other)
    assert len(table) >= 30
    for what, call, error, field in table:
        before = (item_count(engine, store, endpoint), feed_length(store))
        with pytest.raises(error) as refused:
            call()
        if field:
            assert getattr(refused.value, "field", None) == field, (what, str(refused.value))
            assert getattr(refused.value, "rule", ""), what
        after = (item_count(engine, store, endpoint), feed_length(store))
        assert after == before, what
