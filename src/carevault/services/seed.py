"""Demo data (the seeds' own set: 2 clinics, 6 users, 20 patients, 39 appointments, and the
notes, records, documents, invoices, blocks and treatment records around them) and
synthetic patients at scale. Names come from Faker; passwords are generated, never fixed.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyotp
from faker import Faker

from carevault.audit.recorder import AuditContext
from carevault.blobs import BlobStore
from carevault.crypto.keyring import Keyring
from carevault.domain.clinic import Clinic, DayHours, ProviderProfile, Role, User, WorkingHours
from carevault.domain.clinical import MedicalRecord, TreatmentRecord
from carevault.domain.intake import Consent
from carevault.domain.patient import Patient
from carevault.domain.scheduling import Appointment
from carevault.repo.credentials import set_totp, stage_password
from carevault.services import billing, clinical, clinics, notes, patients, scheduling
from carevault.services.practice import Practice
from carevault.store import Store

Progress = Callable[[int], None]
SEEDER = AuditContext(actor="seed", role="ADMIN", purpose="OPERATIONS")
"""Seeding is audited like any other writer."""
DIAGNOSES = [
    ("I10", "Essential hypertension"),
    ("E11.9", "Type 2 diabetes"),
    ("J06.9", "Upper respiratory infection"),
    ("F41.1", "Generalized anxiety"),
    ("M54.5", "Low back pain"),
    ("I25.9", "Chronic ischemic heart disease"),
]
MEDICATIONS = ["Lisinopril", "Metformin", "Atorvastatin", "Sertraline", "Ibuprofen"]
WEEKDAY_HOURS = WorkingHours(
    **{
        d: DayHours(start="08:00", end="17:00")
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
    }
)


@dataclass
class Login:
    """A demo login, printed once."""

    clinic: str
    email: str
    role: str
    password: str
    totp: str = ""  # the TOTP secret of a role that needs a second factor


@dataclass
class Seeded:
    """What a seed created."""

    clinics: list[Clinic] = field(default_factory=list)
    logins: list[Login] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


def _password() -> str:
    return secrets.token_urlsafe(12)


def _user(p: Practice, out: Seeded, fake: Faker, role: Role, domain: str) -> User:
    first, last = fake.first_name(), fake.last_name()
    email = f"{first}.{last}.{secrets.token_hex(2)}@{domain}".lower()
    user = p.uow[User].add(User.create(first_name=first, last_name=last, email=email, role=role))
    password = _password()
    stage_password(p.uow, user.id, password)
    p.uow.commit()
    totp = ""
    if role is Role.ADMIN:  # administrators sign in with a second factor
        totp = pyotp.random_base32()
        set_totp(p.uow, user.id, totp)
    out.logins.append(Login(p.clinic.name, email, role.value, password, totp))
    out.count("users")
    return user


def _portal(p: Practice, out: Seeded, patient: Patient) -> User:
    """The patient's portal login, as an accepted invitation leaves it."""
    assert patient.email is not None
    user = patients.open_portal(p, patient)
    password = _password()
    stage_password(p.uow, user.id, password)
    p.uow.commit()
    out.logins.append(Login(p.clinic.name, patient.email, Role.PATIENT.value, password, ""))
    out.count("users")
    return user


def _patient(
    p: Practice, fake: Faker, rng: random.Random, mrn: str, provider: str | None
) -> Patient:
    first, last = fake.first_name(), fake.last_name()
    return patients.register(
        practice=p,
        mrn=mrn,
        first_name=first,
        last_name=last,
        date_of_birth=fake.date_of_birth(minimum_age=2, maximum_age=95),
        gender=rng.choice(["MALE", "FEMALE", "OTHER"]),
        email=f"{first}.{last}.{rng.randrange(10**6)}@example.org".lower(),
        phone=f"+1 {rng.randrange(201, 989)} 555 {rng.randrange(10**4):04d}",
        ssn=f"{rng.randrange(100, 899)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}",
        address={
            "street": fake.street_address(),
            "city": fake.city(),
            "region": fake.state_abbr(),
            "postal_code": fake.postcode(),
            "country": "US",
        },
        emergency_contact={
            "name": fake.name(),
            "relationship": "Spouse",
            "phone": "+1 415 555 0100",
        },
        insurance={
            "provider": rng.choice(["Aetna", "Cigna", "BlueShield"]),
            "policy_number": f"P{rng.randrange(10**8):08d}",
        },
        allergies=rng.sample(
            ["Penicillin", "Shellfish", "Latex", "Peanuts"], k=rng.randrange(0, 3)
        ),
        medications=rng.sample(MEDICATIONS, k=rng.randrange(0, 3)),
        blood_type=rng.choice(["O+", "A+", "B+", "AB-", "O-"]),
        primary_provider_id=provider,
        external_ids=[{"system": "EHR", "value": f"E{rng.randrange(10**7):07d}"}],
    )


def _clinic(store: Store, ring: Keyring, blobs: BlobStore | None, name: str, zone: str) -> Practice:
    clinic = clinics.create_clinic(
        store=store,
        ring=ring,
        name=name,
        time_zone=zone,
        phone="+1 415 555 0199",
        email="front-desk@example.org",
    )
    return Practice.open(store, ring, clinic.id, blobs=blobs, audit=SEEDER)


def _provider(p: Practice, user: User, specialization: str) -> None:
    scheduling.set_profile(
        practice=p,
        profile=ProviderProfile.create(
            id=user.id,
            license_number=f"LIC-{secrets.token_hex(3).upper()}",
            specialization=specialization,
            working_hours=WEEKDAY_HOURS,
            consultation_fee=20000,
        ),
    )
    scheduling.add_block(
        practice=p,
        provider_id=user.id,
        date=p.local_date(p.now()) - timedelta(days=30),
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
        type="BREAK",
        recurrence={"type": "DAILY"},
    )


def _weekdays(today: date, offsets: range) -> list[date]:
    days = [today + timedelta(days=o) for o in offsets]
    return [d for d in days if d.weekday() < 5]


def _visit(p: Practice, out: Seeded, rng: random.Random, appt: Appointment, index: int) -> None:
    code, text = DIAGNOSES[index % len(DIAGNOSES)]
    medication = MEDICATIONS[index % len(MEDICATIONS)]
    note = notes.draft(
        practice=p,
        patient_id=appt.patient_id,
        provider_id=appt.provider_id,
        appointment_id=appt.id,
        subjective="Reports feeling better overall.",
        objective="Vitals stable.",
        assessment=text,
        plan=f"Continue {medication}; follow up in 3 months.",
        diagnosis_codes=[code],
        medications=[medication],
    )
    notes.sign(practice=p, note_id=note.id, version=note.version)
    clinical.create(
        practice=p,
        entity=MedicalRecord,
        patient_id=appt.patient_id,
        provider_id=appt.provider_id,
        appointment_id=appt.id,
        visit_date=appt.start,
        chief_complaint="Routine follow-up",
        symptoms=["fatigue"],
        vitals={
            "blood_pressure": f"{rng.randrange(110, 140)}/{rng.randrange(70, 90)}",
            "heart_rate": rng.randrange(60, 90),
            "temperature_f": "98.6",
            "weight_kg": "75.5",
            "height_cm": "180",
        },
        diagnoses=[{"code": code, "description": text, "severity": "MILD"}],
        prescriptions=[
            {
                "medication": medication,
                "dosage": "20mg",
                "frequency": "Once daily",
                "duration": "30 days",
            }
        ],
        recommendations=["Regular exercise"],
        follow_up={"required": True, "timeframe": "3 months"},
    )
    invoice = billing.create(
        practice=p,
        patient_id=appt.patient_id,
        appointment_id=appt.id,
        line_items=[{"description": "Office visit", "code": "99213", "unit_price": 15000}],
        tax=0,
    )
    invoice = billing.issue(practice=p, invoice_id=invoice.id, version=invoice.version)
    if index % 3 == 0:
        billing.record_payment(
            practice=p, invoice_id=invoice.id, version=invoice.version, amount=15000, method="CARD"
        )
    elif index % 3 == 1:
        billing.record_payment(
            practice=p, invoice_id=invoice.id, version=invoice.version, amount=5000, method="CASH"
        )
    out.count("notes")
    out.count("records")
    out.count("invoices")


def _appointments(
    p: Practice,
    out: Seeded,
    rng: random.Random,
    doctors: list[User],
    people: list[Patient],
    total: int,
) -> None:
    zone = ZoneInfo(p.clinic.time_zone)
    today = p.local_date(p.now())
    days = _weekdays(today, range(-14, 15))
    made = 0
    slot = 0
    while made < total:
        day = days[slot % len(days)]
        rnd = slot // len(days)  # the how-manyth pass over the days: 9, 10, 11, 13, 14, 15 h
        hour = 9 + rnd % 3 + rnd // 3 * 4
        doctor = doctors[made % len(doctors)]
        patient = people[made % len(people)]
        slot += 1
        start = datetime(day.year, day.month, day.day, hour, 0, tzinfo=zone)
        appt = scheduling.book(
            practice=p,
            past_visit=start < p.now(),  # today's earlier hours are past visits too
            patient_id=patient.id,
            provider_id=doctor.id,
            start=start,
            end=start + timedelta(minutes=30),
            type=rng.choice(["CONSULTATION", "FOLLOW_UP", "CHECKUP"]),
            reason="Follow-up visit",
            location="Room 2",
        )
        made += 1
        out.count("appointments")
        v = appt.version
        if day < today:
            kind = made % 5
            if kind == 3:
                scheduling.cancel(
                    practice=p,
                    appointment_id=appt.id,
                    version=v,
                    reason="Patient asked to reschedule",
                )
            elif kind == 4:
                scheduling.no_show(practice=p, appointment_id=appt.id, version=v)
            else:
                a = scheduling.check_in(practice=p, appointment_id=appt.id, version=v)
                a = scheduling.complete(practice=p, appointment_id=appt.id, version=a.version)
                _visit(p, out, rng, a, made)
        elif made % 2 == 0:
            scheduling.confirm(practice=p, appointment_id=appt.id, version=v)


def demo(
    store: Store,
    ring: Keyring,
    blobs: BlobStore | None,
    *,
    seed: int = 2025,
    progress: Progress | None = None,
) -> Seeded:
    """Create the demo set; returns what was made and the logins (passwords shown once)."""
    fake, rng, out = Faker("en_US"), random.Random(seed), Seeded()
    fake.seed_instance(seed)
    step = progress or (lambda n: None)
    plan = [
        (
            "Harbor Family Practice",
            "America/New_York",
            ["Cardiology", "Family Medicine"],
            [Role.ADMIN, Role.STAFF, Role.BILLING, Role.AUDITOR],
            10,
            25,
        ),
        (
            "Northside Wellness",
            "America/Chicago",
            ["Psychotherapy"],
            [Role.ADMIN, Role.STAFF],
            10,
            14,
        ),
    ]
    mrn = 1000
    for name, zone, specialties, others, n_patients, n_appts in plan:
        p = _clinic(store, ring, blobs, name, zone)
        out.clinics.append(p.clinic)
        domain = name.split()[0].lower() + ".example.org"
        doctors = [_user(p, out, fake, Role.DOCTOR, domain) for _ in specialties]
        for role in others:
            _user(p, out, fake, role, domain)
        for doctor, specialty in zip(doctors, specialties, strict=True):
            _provider(p, doctor, specialty)
            out.count("time blocks")
        people = []
        for i in range(n_patients):
            mrn += 1
            people.append(_patient(p, fake, rng, f"MRN-{mrn}", doctors[i % len(doctors)].id))
            out.count("patients")
            step(1)
        if len(out.clinics) == 1:  # one patient of the first clinic uses the portal
            _portal(p, out, people[0])
        _appointments(p, out, rng, doctors, people, n_appts)
        step(n_appts)
        for i, person in enumerate(people[:4]):
            if blobs is not None:
                clinical.upload(
                    practice=p,
                    data=_report(person, i),
                    patient_id=person.id,
                    provider_id=doctors[0].id,
                    doc_type="LAB_REPORT",
                    title="Lab report",
                    file_name=f"lab-{i}.txt",
                    mime_type="text/plain",
                )
                out.count("documents")
            clinical.create(
                practice=p,
                entity=Consent,
                patient_id=person.id,
                kind="HIPAA",
                granted_at=p.now(),
                channels=["EMAIL", "PORTAL"],
            )
            out.count("consents")
        if specialties == ["Psychotherapy"]:
            for i, person in enumerate(people):
                clinical.create(
                    practice=p,
                    entity=TreatmentRecord,
                    patient_id=person.id,
                    therapist_id=doctors[0].id,
                    session_date=p.now() - timedelta(days=7 * (i % 4 + 1)),
                    session_type="INDIVIDUAL",
                    duration_minutes=50,
                    notes="Practised grounding techniques.",
                    plan={
                        "goals": ["Reduce anxiety"],
                        "interventions": ["CBT"],
                        "progress": "Improving",
                    },
                )
                out.count("treatment records")
    return out


def _report(person: Patient, i: int) -> bytes:
    return f"Lab report {i}\nHbA1c 5.{i}%\nLDL 1{i}0 mg/dL\n".encode()


def synthetic(
    store: Store,
    ring: Keyring,
    clinic_id: str,
    count: int,
    *,
    seed: int = 7,
    progress: Progress | None = None,
) -> int:
    """Register ``count`` realistic synthetic patients in a clinic; returns how many."""
    p = Practice.open(store, ring, clinic_id, audit=SEEDER)
    fake, rng = Faker("en_US"), random.Random(seed)
    fake.seed_instance(seed)
    step = progress or (lambda n: None)
    base = rng.randrange(10**6)
    for i in range(count):
        _patient(p, fake, rng, f"SYN-{base}-{i:07d}", None)
        step(1)
    return count
