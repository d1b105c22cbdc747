"""The authorization matrix: every operation x every role x whose records, on every engine,
each a service called with the caller's practice (as the routes call them). An action's
cells are allowed or denied as the tables below say (written out by hand); a read's come
from the policy table (``carevault.access.policy.decide``), and every entity a read
returns, listings and searches included, is masked exactly as the table says for its
patient: outside a doctor's care, the index entry or nothing. Every denial leaves a DENIED
audit event; another clinic's ids are not found; nothing crosses into that clinic. (That
the table itself is right is checked on the bytes, apart: tests/api/test_exposure.py.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from carevault.access import actions, clients
from carevault.access.caller import Caller
from carevault.access.policy import ROLE_PERMISSIONS, Decision, Principal, decide, hidden_fields
from carevault.audit.trail import fields_of
from carevault.domain.audit import Action, Level, ShredReason
from carevault.domain.base import Entity, FieldClass
from carevault.domain.billing import Invoice, InvoiceStatus
from carevault.domain.clinic import CLINIC_ROLES, ApiClient, Clinic, ProviderProfile, Role, User
from carevault.domain.clinical import (
    ClinicalNote,
    Document,
    DocumentType,
    MedicalRecord,
    RecordType,
    TreatmentRecord,
)
from carevault.domain.ids import new_id
from carevault.domain.intake import (
    Consent,
    InsuranceVerification,
    Registration,
    RegistrationStatus,
    VerificationStatus,
)
from carevault.domain.patient import Patient, PatientStatus
from carevault.domain.scheduling import Appointment, AppointmentStatus, TimeBlock
from carevault.errors import NotFound, PermissionDenied, ValidationError
from carevault.repo.unit import Listing
from carevault.services import (
    audit_trail,
    billing,
    clinical,
    clinics,
    notes,
    patients,
    providers,
    scheduling,
)
from carevault.services.practice import Practice
from carevault.services.scheduling import Timeline
from tests.domain.world import HALF_HOUR, World, local, make_world, utc

A, D, S, B, U, P = Role.ADMIN, Role.DOCTOR, Role.STAFF, Role.BILLING, Role.AUDITOR, Role.PATIENT
ALL, OWN = "all", "own"  # every patient of the clinic; only the principal's own (or cared-for)
counter = itertools.count()


def _slot() -> dict[str, Any]:
    """A half hour no one has booked yet: 16 a weekday, from Monday 2027-03-01 on."""
    n = next(counter)
    week, day = divmod(n // 16, 5)
    start = local(2027, 3, 1, 8) + timedelta(days=7 * week + day, minutes=30 * (n % 16))
    return {"start": start, "end": start + HALF_HOUR}


@dataclass
class Ctx:
    """Whose records a cell acts on, and how to prepare objects of theirs (unguarded)."""

    world: World
    patient: Patient
    setup: Practice  # the practice of the patient's own clinic
    provider: str  # a provider of that clinic (the doctor's, for the doctor's own patient)

    def appointment(self) -> Appointment:
        return scheduling.book(
            practice=self.setup, patient_id=self.patient.id, provider_id=self.provider, **_slot()
        )

    def note(self, signed: bool = False) -> ClinicalNote:
        note = notes.draft(
            practice=self.setup, patient_id=self.patient.id, provider_id=self.provider, plan="Rest"
        )
        return (
            notes.sign(practice=self.setup, note_id=note.id, version=note.version)
            if signed
            else note
        )

    def invoice(self, issued: bool = False) -> Invoice:
        made = billing.create(
            practice=self.setup,
            patient_id=self.patient.id,
            line_items=[{"description": "Visit", "unit_price": 100}],
        )
        return (
            billing.issue(
                practice=self.setup, invoice_id=made.id, version=made.version, due=date(2030, 1, 1)
            )
            if issued
            else made
        )

    def document(self) -> Document:
        return clinical.upload(
            practice=self.setup,
            data=b"lab",
            patient_id=self.patient.id,
            title="Lab",
            file_name="lab.txt",
            mime_type="text/plain",
        )

    def made(self, entity: type[Entity]) -> Entity:
        """One of the patient's records of a clinical or intake kind."""
        fields: dict[type[Entity], dict[str, Any]] = {
            MedicalRecord: {"provider_id": self.provider, "visit_date": utc(2027, 3, 1, 9)},
            TreatmentRecord: {
                "therapist_id": self.provider,
                "session_date": utc(2027, 3, 1, 9),
                "duration_minutes": 50,
            },
            Consent: {"kind": "HIPAA", "granted_at": utc(2027, 1, 1, 9)},
            InsuranceVerification: {"insurance": {"provider": "Aetna", "policy_number": "P1"}},
        }
        return clinical.create(
            practice=self.setup, entity=entity, patient_id=self.patient.id, **fields[entity]
        )

    def active_patient(self) -> Patient:
        current = self.setup.uow[Patient].require(self.patient.id)
        if current.status is not PatientStatus.ACTIVE:
            current = patients.update(
                practice=self.setup, patient=current.changed(status=PatientStatus.ACTIVE)
            )
        return current


Op = Callable[[Practice, Ctx], Any]


def _move(step: Callable[..., Appointment], **extra: Any) -> Op:
    def op(g: Practice, c: Ctx) -> Any:
        appt = c.appointment()
        return step(practice=g, appointment_id=appt.id, version=appt.version, **extra)

    return op


def _complete(g: Practice, c: Ctx) -> Any:
    """Check the patient in, then complete the visit (each step as the same caller)."""
    appt = c.appointment()
    arrived = scheduling.check_in(practice=g, appointment_id=appt.id, version=appt.version)
    return scheduling.complete(practice=g, appointment_id=appt.id, version=arrived.version)


def _bill(step: Callable[..., Invoice], issued: bool, **extra: Any) -> Op:
    def op(g: Practice, c: Ctx) -> Any:
        invoice = c.invoice(issued)
        return step(practice=g, invoice_id=invoice.id, version=invoice.version, **extra)

    return op


def _reschedule(g: Practice, c: Ctx) -> Any:
    appt = c.appointment()
    return scheduling.reschedule(
        practice=g, appointment_id=appt.id, version=appt.version, **_slot()
    )


def _download(g: Practice, c: Ctx) -> Any:
    return clinical.download(practice=g, document_id=c.document().id)


def _deactivate(g: Practice, c: Ctx) -> Any:
    current = c.active_patient()
    return patients.deactivate(practice=g, patient_id=current.id, version=current.version)


def _items(entity: type[Entity]) -> Op:
    return lambda g, c: patients.items_of(practice=g, patient_id=c.patient.id, entity=entity)


def _remove_and_restore(g: Practice, c: Ctx) -> Any:
    """Soft-delete the patient and restore them at once (the other cells need them)."""
    version = c.setup.uow[Patient].require(c.patient.id).version
    patients.remove(practice=g, patient_id=c.patient.id, version=version)
    return patients.restore(practice=g, patient_id=c.patient.id)


def _read(entity: type[Entity], make: Callable[[Ctx], Entity]) -> Op:
    """Read by id one of the patient's items, made for the cell."""
    return lambda g, c: g.uow[entity].require(make(c).id)


def _update(g: Practice, c: Ctx) -> Any:
    current = c.setup.uow[Patient].require(c.patient.id)
    return patients.change(
        practice=g, patient_id=c.patient.id, version=current.version, phone="+1 415 555 0199"
    )


@dataclass(frozen=True)
class Read:
    """A read of one patient's items of ``resource``: its cells come from the policy table."""

    resource: str


Rule = dict[Role, str] | Read
APPT_WRITERS = {A: ALL, D: OWN, S: ALL}  # a doctor books only for patients in their care
CLINICIAN = {D: OWN}
BILLERS = {A: ALL, B: ALL}
PATIENT_WRITERS = {A: ALL, D: OWN, S: ALL}
PATIENT_OPS: dict[str, tuple[Op, Rule]] = {
    "read patient": (lambda g, c: g.uow[Patient].require(c.patient.id), Read("patient")),
    "update patient": (_update, PATIENT_WRITERS),
    "deactivate patient": (_deactivate, PATIENT_WRITERS),
    "invite patient": (
        lambda g, c: patients.invite(practice=g, patient_id=c.patient.id),
        PATIENT_WRITERS,
    ),
    "book": (
        lambda g, c: scheduling.book(
            practice=g, patient_id=c.patient.id, provider_id=c.world.colleague.id, **_slot()
        ),
        APPT_WRITERS,
    ),
    "confirm": (_move(scheduling.confirm), APPT_WRITERS),
    "check in": (_move(scheduling.check_in), APPT_WRITERS),
    "no-show": (_move(scheduling.no_show), APPT_WRITERS),
    "complete": (_complete, APPT_WRITERS),
    "cancel": (_move(scheduling.cancel, reason="Travel"), APPT_WRITERS),
    "appointment notes": (_move(scheduling.add_notes, notes="Bring ECG"), APPT_WRITERS),
    "reschedule": (_reschedule, APPT_WRITERS),
    "read appointments": (_items(Appointment), Read("appointment")),
    "draft note": (
        lambda g, c: notes.draft(
            practice=g, patient_id=c.patient.id, provider_id=c.world.doctor.id
        ),
        CLINICIAN,
    ),
    "sign note": (lambda g, c: notes.sign(practice=g, note_id=c.note().id, version=1), CLINICIAN),
    "amend note": (
        lambda g, c: notes.amend(practice=g, note_id=c.note(signed=True).id, plan="Amended"),
        CLINICIAN,
    ),
    "read notes": (_items(ClinicalNote), Read("note")),
    "create record": (
        lambda g, c: clinical.create(
            practice=g,
            entity=MedicalRecord,
            patient_id=c.patient.id,
            provider_id=c.world.doctor.id,
            visit_date=utc(2027, 3, 1, 9),
        ),
        CLINICIAN,
    ),
    "read records": (_items(MedicalRecord), Read("record")),
    "create treatment": (
        lambda g, c: clinical.create(
            practice=g,
            entity=TreatmentRecord,
            patient_id=c.patient.id,
            therapist_id=c.world.doctor.id,
            session_date=utc(2027, 3, 1, 9),
            duration_minutes=50,
        ),
        CLINICIAN,
    ),
    "read treatments": (_items(TreatmentRecord), Read("treatment")),
    "verify insurance": (
        lambda g, c: clinical.create(
            practice=g,
            entity=InsuranceVerification,
            patient_id=c.patient.id,
            insurance={"provider": "Aetna", "policy_number": "P1"},
        ),
        {A: ALL, S: ALL, B: ALL},
    ),
    "insurance outcome": (
        lambda g, c: clinical.record_outcome(
            practice=g,
            verification_id=(v := c.made(InsuranceVerification)).id,
            version=v.version,
            status=VerificationStatus.VERIFIED,
        ),
        {A: ALL, S: ALL, B: ALL},
    ),
    "upload document": (
        lambda g, c: clinical.upload(
            practice=g,
            data=b"scan",
            patient_id=c.patient.id,
            title="Scan",
            file_name="s.txt",
            mime_type="text/plain",
        ),
        CLINICIAN,
    ),
    "download document": (_download, Read("document")),
    "create invoice": (
        lambda g, c: billing.create(
            practice=g,
            patient_id=c.patient.id,
            line_items=[{"description": "Visit", "unit_price": 100}],
        ),
        BILLERS,
    ),
    "issue invoice": (_bill(billing.issue, False), BILLERS),
    "record payment": (_bill(billing.record_payment, True, amount=50, method="CASH"), BILLERS),
    "void invoice": (_bill(billing.void, False, reason="Duplicate"), BILLERS),
    "read invoices": (_items(Invoice), Read("invoice")),
    "add consent": (
        lambda g, c: clinical.create(
            practice=g,
            entity=Consent,
            patient_id=c.patient.id,
            kind="HIPAA",
            granted_at=utc(2027, 1, 1, 9),
        ),
        {A: ALL, D: OWN, S: ALL, P: OWN},
    ),
}
PATIENT_OPS |= {
    "remove and restore patient": (_remove_and_restore, {A: ALL}),
    "edit note": (
        lambda g, c: notes.edit(practice=g, note_id=c.note().id, version=1, plan="Edited"),
        CLINICIAN,
    ),
    "appointment by id": (_read(Appointment, Ctx.appointment), Read("appointment")),
    "note by id": (_read(ClinicalNote, Ctx.note), Read("note")),
    "invoice by id": (_read(Invoice, Ctx.invoice), Read("invoice")),
    "document by id": (_read(Document, Ctx.document), Read("document")),
    **{
        f"{entity.RESOURCE} by id": (
            _read(entity, lambda c, e=entity: c.made(e)),  # type: ignore[misc]
            Read(str(entity.RESOURCE)),
        )
        for entity in (MedicalRecord, TreatmentRecord, Consent, InsuranceVerification)
    },
}
CALLER_OPS: dict[str, tuple[Callable[[Caller, Ctx], Any], Rule]] = {
    "disclosures": (
        lambda k, c: actions.disclosures(k, c.patient.id, utc(2000, 1, 1, 0)),
        {A: ALL, U: ALL},
    ),
}
FRONT = {A, D, S}


def _block(w: World) -> TimeBlock:
    return scheduling.add_block(
        practice=w.practice,
        provider_id=w.doctor.id,
        date=(date(2027, 8, 2) + timedelta(days=next(counter) % 200)).isoformat(),
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
    )


def _client(w: World) -> ApiClient:
    made, _ = clients.create_client(uow=w.practice.uow, name="Spare", scopes=["patient:read"])
    return made


def _registration(w: World) -> Registration:
    return clinical.create(
        practice=w.practice,
        entity=Registration,
        first_name="I",
        last_name="Take",
        email=f"r{next(counter)}@example.org",
    )


def _remove_block(k: Caller, w: World) -> Any:
    block = scheduling.add_block(
        practice=w.practice,
        provider_id=w.doctor.id,
        date="2027-07-01",
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
    )
    return scheduling.remove_block(practice=k.practice, block_id=block.id, version=block.version)


def _set_profile(k: Caller, w: World) -> Any:
    current = w.practice.uow[ProviderProfile].require(w.doctor.id)
    return scheduling.put_profile(
        practice=k.practice,
        provider_id=w.doctor.id,
        version=current.version,
        department="Cardiology",
    )


ClinicOp = Callable[[Caller, World], Any]
CLINIC_OPS: dict[str, tuple[ClinicOp, set[Role]]] = {
    "search patients": (
        lambda k, w: patients.find(practice=k.practice, by="last_name", value="Matrix"),
        FRONT,
    ),
    "patient by MRN": (lambda k, w: patients.by_mrn(practice=k.practice, mrn="MRN-00001"), FRONT),
    "patients by status": (
        lambda k, w: patients.by_status(practice=k.practice, status=PatientStatus.ACTIVE),
        FRONT,
    ),
    "register patient": (
        lambda k, w: patients.register(
            practice=k.practice,
            mrn=f"MX-{next(counter)}",
            first_name="N",
            last_name="Matrix",
            date_of_birth="1990-01-01",
            gender="MALE",
        ),
        FRONT,
    ),
    "register intake": (
        lambda k, w: clinical.create(
            practice=k.practice,
            entity=Registration,
            first_name="I",
            last_name="Take",
            email=f"i{next(counter)}@example.org",
        ),
        {A, S},
    ),
    "registrations": (
        lambda k, w: clinical.registrations(practice=k.practice, status=RegistrationStatus.PENDING),
        {A, S},
    ),
    "day schedule": (
        lambda k, w: scheduling.day_schedule(practice=k.practice, day=date(2027, 3, 1)),
        FRONT,
    ),
    "provider timeline": (
        lambda k, w: scheduling.provider_timeline(
            practice=k.practice,
            provider_id=w.doctor.id,
            start=utc(2027, 3, 1, 0),
            end=utc(2027, 3, 2, 0),
        ),
        FRONT,
    ),
    "appointments by status": (
        lambda k, w: scheduling.by_status(
            practice=k.practice, provider_id=w.doctor.id, status=AppointmentStatus.SCHEDULED
        ),
        FRONT,
    ),
    "free slots": (
        lambda k, w: scheduling.free_slots(
            practice=k.practice, provider_id=w.doctor.id, day=date(2027, 3, 1)
        ),
        {A, D, S, B, P},
    ),
    "notes by code": (lambda k, w: notes.by_code(practice=k.practice, code="I10"), {D}),
    "records by code": (
        lambda k, w: clinical.records_by_code(practice=k.practice, code="I10"),
        {D},
    ),
    "records by type": (
        lambda k, w: clinical.records_by_type(
            practice=k.practice, record_type=RecordType.CONSULTATION
        ),
        {D},
    ),
    "documents by type": (
        lambda k, w: clinical.documents_by_type(
            practice=k.practice, doc_type=DocumentType.LAB_REPORT
        ),
        {D},
    ),
    "invoices by status": (
        lambda k, w: billing.by_status(practice=k.practice, status=InvoiceStatus.ISSUED),
        {A, B},
    ),
    "mark overdue": (lambda k, w: billing.mark_overdue(practice=k.practice), {A, B}),
    "users by role": (
        lambda k, w: clinics.users_by_role(practice=k.practice, role=Role.DOCTOR),
        FRONT,
    ),
    "user by id": (lambda k, w: k.practice.uow[User].require(w.doctor.id), {A, D, S}),
    "own clinic": (
        lambda k, w: k.practice.uow[Clinic].require(w.tenant),
        set(CLINIC_ROLES),  # a payer's roles (no user of this clinic holds one) reach nothing
    ),
    "set provider profile": (_set_profile, {A}),
    "add user": (
        lambda k, w: clinics.add_user(
            practice=k.practice,
            first_name="N",
            last_name="U",
            role=Role.STAFF,
            email=f"n{next(counter)}@example.org",
        ),
        {A},
    ),
    "add block": (
        lambda k, w: scheduling.add_block(
            practice=k.practice,
            provider_id=w.doctor.id,
            date="2027-06-01",
            start_time="12:00",
            end_time="13:00",
            reason="Lunch",
        ),
        FRONT,
    ),
    "remove block": (_remove_block, FRONT),
    "api clients": (lambda k, w: clients.clients(uow=k.practice.uow), {A}),
    # who works here is told to everyone of the clinic who books or is booked, not the auditor
    "provider directory": (lambda k, w: providers.directory(practice=k.practice), {A, D, S, B, P}),
    "provider profile": (
        lambda k, w: k.practice.uow[ProviderProfile].require(w.doctor.id),
        {A, D, S, B, P},
    ),
    "api client by id": (lambda k, w: k.practice.uow[ApiClient].require(_client(w).id), {A}),
    "block by id": (lambda k, w: k.practice.uow[TimeBlock].require(_block(w).id), FRONT),
    "registration by id": (
        lambda k, w: k.practice.uow[Registration].require(_registration(w).id),
        {A, S},
    ),
    "create api client": (
        lambda k, w: actions.create_client(k, f"feed {next(counter)}", ["clinic:read"]),
        {A},
    ),
    "shred patient": (
        lambda k, w: actions.shred_patient(k, w.patient("Shred").id, ShredReason.PATIENT_REQUEST),
        {A},
    ),
    "break glass": (lambda k, w: actions.break_glass(k, "Unconscious patient", minutes=5), {D}),
    "audit day": (lambda k, w: actions.audit_day(k, date(2027, 3, 1)), {A, U}),
    "verify audit": (lambda k, w: actions.verify_audit(k), {A, U}),
    "audit export": (lambda k, w: next(actions.export_audit(k)), {A, U}),
}


def _user(world: World, role: Role, **extra: Any) -> User:
    return clinics.add_user(
        practice=world.practice,
        first_name="M",
        last_name=role.value,
        email=f"{role.value.lower()}.{world.tenant.lower()}@example.org",
        role=role,
        **extra,
    )


def allowed(rule: Rule, role: Role, whose: str, permissions: frozenset[str] | None = None) -> bool:
    """Whether a cell is allowed: by the policy table for a read, by hand for an action."""
    if whose == "foreign":
        return False  # another clinic's ids name nothing here
    if isinstance(rule, Read):
        granted = ROLE_PERMISSIONS[role] if permissions is None else permissions
        decision, _ = decide(role, granted, rule.resource, whose == "own")
        return decision is not Decision.DENY
    if role is Role.SERVICE:
        return False
    given = rule.get(role)
    return given == ALL or (given == OWN and whose == "own")


def entities(result: Any) -> list[Entity]:
    """Every entity a guarded call returned, wherever it sits in the result."""
    if isinstance(result, Entity):
        return [result]
    if isinstance(result, Listing):
        return entities(result.items)
    if isinstance(result, Timeline):
        return entities(result.appointments)
    if isinstance(result, (list, tuple)):
        return [e for x in result for e in entities(x)]
    return []


def assert_masked_as_the_table_says(
    result: Any, role: Role, related: Callable[[str | None], bool], what: str
) -> int:
    """Each returned entity shows exactly the field classes the table gives its patient."""
    found = entities(result)
    for entity in found:
        resource = type(entity).RESOURCE
        if resource is None:
            continue
        decision, visible = decide(role, ROLE_PERMISSIONS[role], resource, related(entity.patient))
        assert decision is not Decision.DENY, f"{what}: a withheld {resource} was returned"
        expected = hidden_fields(type(entity), visible)
        assert entity.masked == expected, f"{what}: {resource} masked {sorted(entity.masked)}"
    return len(found)


def test_authorization_matrix(world: World) -> None:
    other = make_world(world.make_store, world.tmp, shared=world)
    mine = world.patient("Matrix")  # in the doctor's care after the booking below
    stranger = world.patient("Matrix")  # in the clinic, not in this doctor's care
    foreign = other.patient("Matrix")  # another clinic's patient
    colleague = world.colleague = world.provider()  # type: ignore[attr-defined]
    scheduling.book(
        practice=world.practice, patient_id=mine.id, provider_id=world.doctor.id, **_slot()
    )
    scheduling.book(
        practice=world.practice, patient_id=stranger.id, provider_id=colleague.id, **_slot()
    )
    users = {role: _user(world, role) for role in (A, S, B, U)}
    users[D] = world.doctor
    users[P] = _user(world, P, patient_id=mine.id)
    contexts = {
        "own": Ctx(world, mine, world.practice, world.doctor.id),
        "other": Ctx(world, stranger, world.practice, colleague.id),
        "foreign": Ctx(world, foreign, other.practice, other.doctor.id),
    }
    foreign_before = other.practice.uow[Patient].require(foreign.id)
    cells = shown = 0

    def caller(role: Role, request: str) -> Caller:
        extra: dict[str, Any] = {"patient_id": mine.id} if role is P else {}
        if role is Role.SERVICE:  # an API client with no scopes reaches nothing
            principal = Principal.of(
                world.tenant, "client:matrix", role, request_id=request, permissions=frozenset()
            )
        else:  # a payer's role at a clinic holds no user there: it must reach nothing
            user_id = users[role].id if role in users else new_id()
            principal = Principal.of(world.tenant, user_id, role, request_id=request, **extra)
        return Caller(world.store, world.ring, principal, blobs=world.blobs)

    def related(role: Role) -> Callable[[str | None], bool]:
        # the doctor cares for ``mine`` only; a patient's login is ``mine``'s
        return lambda patient: role in (D, P) and patient == mine.id

    def run(
        request: str, role: Role, call: Callable[[Caller], Any], allowed: bool, what: str
    ) -> None:
        nonlocal cells, shown
        cells += 1
        try:
            result = call(caller(role, request))
            outcome = True
        except PermissionDenied:
            outcome, result = False, None
            critical = audit_trail.by_level(
                practice=world.practice, level=Level.CRITICAL, day=_today(world)
            )
            denied = [e for e in critical if e.request_id == request]
            assert [e.action for e in denied] == [Action.DENIED], what
        except NotFound:  # another clinic's, or for a patient's login another patient's
            outcome, result = False, None
            assert "foreign" in request or (role is P and "other" in request), what
        except ValidationError as e:  # a body naming another clinic's patient names nothing
            outcome, result = False, None
            assert "foreign" in request and e.field.endswith("patient_id"), f"{what}: {e}"
        assert outcome == allowed, f"{what}: {role.value} {'denied' if allowed else 'allowed'}"
        if outcome and role is not Role.SERVICE:
            shown += assert_masked_as_the_table_says(result, role, related(role), what)

    ops: dict[str, tuple[Callable[[Caller, Ctx], Any], Rule]] = {
        name: (lambda k, c, op=op: op(k.practice, c), rule)
        for name, (op, rule) in PATIENT_OPS.items()
    }
    ops.update(CALLER_OPS)
    for name, (op, rule) in ops.items():
        for role in Role:
            for whose, ctx in contexts.items():
                run(
                    f"{name}/{role.value}/{whose}",
                    role,
                    lambda k, op=op, c=ctx: op(k, c),
                    allowed(rule, role, whose),
                    f"{name} on {whose} patient",
                )
    for name, (clinic_op, roles) in CLINIC_OPS.items():
        for role in Role:
            run(
                f"{name}/{role.value}",
                role,
                lambda k, op=clinic_op: op(k, world),
                role in roles,
                name,
            )
    assert cells == len(ops) * len(Role) * 3 + len(CLINIC_OPS) * len(Role)
    assert shown > 200  # the masks were checked on many entities, not on none
    # nothing reached the other clinic: its patient is untouched, its trail names no one of ours
    assert other.practice.uow[Patient].require(foreign.id).version == foreign_before.version
    theirs = Practice.open(other.store, other.ring, other.tenant)
    ours = {u.id for u in users.values()}
    for shard in range(theirs.audit.shards):
        assert not [i for i in theirs.audit.events(shard) if fields_of(i)["actor_id"] in ours]
    assert (
        patients.find(practice=other.practice, by="last_name", value="Matrix")[0].id == foreign.id
    )


def test_out_of_care_doctors_get_index_entries_or_nothing(world: World) -> None:
    """Searches and listings give a doctor, for a patient outside care, the index entry at
    most; items about that patient are left out, and not recorded as read."""
    stranger = world.patient("Outside", allergies=["Latex"])
    note = notes.draft(
        practice=world.practice,
        patient_id=stranger.id,
        provider_id=world.provider().id,
        subjective="Chest pain",
        diagnosis_codes=["I10"],
    )
    doctor = _caller(world, world.doctor.id, D).practice
    (entry,) = patients.find(practice=doctor, by="last_name", value="Outside")
    assert entry.masked == hidden_fields(Patient, frozenset({FieldClass.INDEX}))
    assert (entry.last_name, entry.mrn) == ("Outside", stranger.mrn)
    assert entry.ssn is None and entry.allergies is None  # emptied, and named in ``masked``
    listed = patients.by_status(practice=doctor, status=PatientStatus.ACTIVE).items
    assert [p.id for p in listed] == [stranger.id]
    assert notes.by_code(practice=doctor, code="I10") == []
    assert (
        clinical.records_by_type(practice=doctor, record_type=RecordType.CONSULTATION).items == []
    )
    events = audit_trail.on_day(practice=world.practice, day=_today(world))
    reads = {(e.resource_type, e.resource_id) for e in events if e.action is Action.READ}
    assert ("NOTE", note.id) not in reads  # withheld: not read


def _caller(world: World, user_id: str, role: Role) -> Caller:
    return Caller(world.store, world.ring, Principal.of(world.tenant, user_id, role))


def _today(world: World) -> date:
    return world.practice.now().date()


def test_masking_and_break_glass(world: World) -> None:
    patient = world.patient("Masked", allergies=["Latex"])
    staff = _user(world, S)
    seen = _caller(world, staff.id, S).practice.uow[Patient].require(patient.id)
    assert {"ssn", "allergies"} <= seen.masked and seen.last_name == "Masked"
    written = patients.change(
        practice=_caller(world, staff.id, S).practice,
        patient_id=patient.id,
        version=seen.version,
        phone="+1 415 555 0101",
    )
    assert {"ssn", "allergies"} <= written.masked and written.phone == "+1 415 555 0101"
    stored = world.practice.uow[Patient].require(patient.id)
    assert stored.ssn == patient.ssn and stored.allergies == ["Latex"]  # a masked write kept them
    doctor = _caller(world, world.doctor.id, D)
    entry = doctor.practice.uow[Patient].require(patient.id)  # outside care: the index entry
    assert {"ssn", "allergies", "phone", "address"} <= entry.masked and entry.mrn == patient.mrn
    with pytest.raises(PermissionDenied):
        patients.items_of(practice=doctor.practice, patient_id=patient.id, entity=ClinicalNote)
    actions.break_glass(doctor, "Unconscious patient in the emergency room", minutes=30)
    full = doctor.practice.uow[Patient].require(patient.id)
    assert not full.masked and full.ssn == patient.ssn and full.allergies == ["Latex"]
    events = audit_trail.by_level(practice=world.practice, level=Level.CRITICAL, day=_today(world))
    assert any(e.action is Action.BREAK_GLASS for e in events)


def test_the_gate_refuses_writes_whatever_service_makes_them(world: World) -> None:
    """A service called with a principal's practice cannot write what the principal may
    not: the repository asks the gate on each write, and nothing is staged."""
    stranger = world.patient("Gated")
    doctor = _caller(world, world.doctor.id, D)
    with pytest.raises(PermissionDenied):
        notes.draft(practice=doctor.practice, patient_id=stranger.id, provider_id=world.doctor.id)
    billing_user = _user(world, B)
    biller = _caller(world, billing_user.id, B)
    current = world.practice.uow[Patient].require(stranger.id)
    with pytest.raises(PermissionDenied):  # BILLING reads patients, never changes them
        patients.update(practice=biller.practice, patient=current.changed(phone="+14155550100"))
    assert world.practice.uow[Patient].require(stranger.id).version == current.version
    assert world.practice.uow.history(stranger.id, prefix="NOTE#").items == []  # nothing staged
    events = audit_trail.by_level(practice=world.practice, level=Level.CRITICAL, day=_today(world))
    assert [e.action for e in events if e.patient_id == stranger.id] == [Action.DENIED] * 2


def test_free_times_are_the_same_whoever_asks(world: World) -> None:
    """A patient's login and the billing office see another patient's visit and the
    provider's blocks as busy time, though they may read neither."""
    visitor, asker = world.patient("Visitor"), world.patient("Asker")
    slot = _slot()
    scheduling.book(
        practice=world.practice, patient_id=visitor.id, provider_id=world.doctor.id, **slot
    )
    day = slot["start"].astimezone(local(2027, 3, 1, 0).tzinfo).date()
    scheduling.add_block(
        practice=world.practice,
        provider_id=world.doctor.id,
        date=day.isoformat(),
        start_time="12:00",
        end_time="13:00",
        reason="Lunch",
    )
    login = _user(world, P, patient_id=asker.id)
    biller = _user(world, B)
    readers = {
        "patient": Caller(
            world.store,
            world.ring,
            Principal.of(world.tenant, login.id, P, patient_id=asker.id),
        ),
        "billing": _caller(world, biller.id, B),
    }
    expected = scheduling.free_slots(practice=world.practice, provider_id=world.doctor.id, day=day)
    assert expected and all(not (s < slot["end"] and slot["start"] < e) for s, e in expected)
    lunch = (local(day.year, day.month, day.day, 12), local(day.year, day.month, day.day, 13))
    assert all(not (s < lunch[1] and lunch[0] < e) for s, e in expected)
    for who, reader in readers.items():
        seen = scheduling.free_slots(practice=reader.practice, provider_id=world.doctor.id, day=day)
        assert seen == expected, who
