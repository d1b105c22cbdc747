"""The guarded services: every call of a principal goes through the policy and the audit.

A denial is an audit event (DENIED) before it is an error, so refused attempts are as
visible as granted ones. Ids from another clinic name nothing here: they are refused like
any other record the principal may not reach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from carevault.access import clients
from carevault.access.policy import CARE_ROLES, PATIENT_BOUND, PolicyGate, Principal
from carevault.audit.recorder import AuditContext, Auditor
from carevault.audit.trail import verify
from carevault.blobs import BlobStore
from carevault.crypto.keyring import Keyring
from carevault.domain.audit import Action, AuditEvent, Level, Outcome, ShredReason
from carevault.domain.base import Entity, kind_of, utcnow
from carevault.domain.billing import Invoice
from carevault.domain.clinic import ApiClient, Clinic, ProviderProfile, Role, User
from carevault.domain.clinical import ClinicalNote, Document, MedicalRecord
from carevault.domain.ids import is_id
from carevault.domain.intake import Consent, Invitation, Registration
from carevault.domain.patient import Patient
from carevault.domain.scheduling import Appointment, TimeBlock
from carevault.errors import (
    CarevaultError,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationError,
)
from carevault.repo.care import open_break_glass
from carevault.repo.unit import Listing, UnitOfWork
from carevault.services import audit_trail, billing, clinical, clinics, notes, patients, scheduling
from carevault.services.practice import Practice
from carevault.store import Item, Store

HISTORY = {
    "appointment": "APPT#",
    "note": "NOTE#",
    "record": "RECORD#",
    "document": "DOC#",
    "invoice": "INVOICE#",
    "treatment": "TREATMENT#",
    "consent": "CONSENT#",
}


class Guard:
    """One principal's view of the services of its own clinic."""

    def __init__(
        self, store: Store, ring: Keyring, principal: Principal, blobs: BlobStore | None = None
    ) -> None:
        self.store, self.ring, self.principal = store, ring, principal
        purpose = "EMERGENCY" if principal.break_glass_until else "TREATMENT"
        context = AuditContext(
            principal.user_id, principal.role.value, purpose, principal.request_id, principal.origin
        )
        self.gate = PolicyGate(store, principal, utcnow, self._refuse, self._refuse_write)
        self.practice = Practice.open(
            store, ring, principal.tenant, blobs=blobs, audit=context, gate=self.gate
        )
        self._plain = UnitOfWork(store, ring, principal.tenant)  # unaudited existence checks

    @property
    def _auditor(self) -> Auditor:
        auditor = self.practice.uow.audit
        assert isinstance(auditor, Auditor)
        return auditor

    # -- the policy ------------------------------------------------------------------

    def _deny(
        self, permission: str, reason: str, patient_id: str | None = None
    ) -> PermissionDenied:
        resource = permission.split(":", maxsplit=1)[0].upper()
        self._auditor.record(
            Action.DENIED, resource, None, patient_id, Outcome.DENIED, Level.CRITICAL
        )
        return PermissionDenied(permission, reason)

    def _refuse(self, entity: type[Entity], patient_id: str | None) -> CarevaultError:
        """A read by id the gate withholds: an audited denial (not found, for a patient's
        login: another patient's records do not exist for it)."""
        resource = entity.RESOURCE or entity.TYPE.lower()
        permission = f"{resource}:read"
        reason = "no care relationship with this patient"
        if permission not in self.principal.permissions:
            reason = f"the {self.principal.role.value} role does not allow it"
        denied = self._deny(permission, reason, patient_id)
        return NotFound(resource, "") if self.principal.role is Role.PATIENT else denied

    def _refuse_write(self, permission: str, patient_id: str | None) -> PermissionDenied:
        """A write the gate refuses (the operation's own check let it through): audited."""
        return self._deny(permission, "not yours to change", patient_id)

    def check(self, permission: str, patient_id: str | None = None) -> None:
        """Allow ``permission`` (on ``patient_id``'s records) or raise an audited denial."""
        p = self.principal
        if permission not in p.permissions:
            raise self._deny(permission, f"the {p.role.value} role does not allow it", patient_id)
        if patient_id is None:
            return
        if self._stored(Patient, patient_id) is None:
            raise NotFound("patient", patient_id)
        if p.role is Role.PATIENT and patient_id != p.patient_id:
            self._deny(permission, "a patient reaches only their own records", patient_id)
            raise NotFound("patient", patient_id)  # another patient does not exist for them
        resource = permission.split(":", maxsplit=1)[0]
        if (
            p.role is Role.DOCTOR
            and resource in PATIENT_BOUND
            and not self.gate.related(patient_id)
        ):
            raise self._deny(permission, "no care relationship with this patient", patient_id)

    def break_glass(self, reason: str, minutes: int = 60) -> datetime:
        """Open emergency access to every patient for a while: a critical security event."""
        p = self.principal
        if p.role is not Role.DOCTOR:
            raise self._deny("break_glass:write", "only doctors may break the glass")
        until = open_break_glass(self.store, p.tenant, p.user_id, reason, minutes, utcnow())
        self.gate.forget()
        self._auditor.record(
            Action.BREAK_GLASS,
            "USER",
            self.principal.user_id,
            None,
            Outcome.SUCCESS,
            Level.CRITICAL,
        )
        return until

    # -- operations --------------------------------------------------------------------

    def read_patient(self, patient_id: str) -> Patient:
        """A patient as the caller may see it (a doctor outside care: its index entry)."""
        self.check("patient:read")
        return self.practice.uow[Patient].require(patient_id)

    def update_patient(
        self, patient_id: str, version: int | None = None, **changes: Any
    ) -> Patient:
        """Change a patient's details (only if still at ``version``, when given)."""
        self.check("patient:write", patient_id)
        current = self._plain[Patient].require(patient_id)
        if version is not None and current.version != version:
            raise StaleVersion(f"patient: is at version {current.version}, not {version}")
        saved = patients.update(practice=self.practice, patient=current.changed(**changes))
        return saved

    def search_patients(self, by: str, value: str) -> list[Patient]:
        """Patients by an encrypted search, masked for the role."""
        self.check("patient:search")
        return patients.find(practice=self.practice, by=by, value=value)

    def history(self, kind: str, patient_id: str) -> list[Any]:
        """A patient's records of one kind (appointments, notes, invoices, …)."""
        self.check(f"{kind}:read", patient_id)
        listing = self.practice.uow.history(patient_id, prefix=HISTORY[kind])
        return listing.items

    def book(self, **fields: Any) -> Appointment:
        """Book an appointment."""
        self.check("appointment:write", fields.get("patient_id"))
        return scheduling.book(practice=self.practice, **fields)

    def draft_note(self, **fields: Any) -> ClinicalNote:
        """Start a clinical note."""
        self.check("note:write", fields.get("patient_id"))
        return notes.draft(practice=self.practice, **fields)

    def create_invoice(self, **fields: Any) -> Invoice:
        """Create a draft invoice."""
        self.check("invoice:write", fields.get("patient_id"))
        return billing.create(practice=self.practice, **fields)

    def add_consent(self, **fields: Any) -> Consent:
        """Record a consent."""
        self.check("consent:write", fields.get("patient_id"))
        return clinical.create(practice=self.practice, entity=Consent, **fields)

    def disclosures(self, patient_id: str, since: datetime) -> list[AuditEvent]:
        """The accounting of disclosures of one patient."""
        self.check("audit:read")
        if self._stored(Patient, patient_id) is None:
            raise NotFound("patient", patient_id)
        return audit_trail.disclosures(practice=self.practice, patient_id=patient_id, since=since)

    def add_user(self, **fields: Any) -> User:
        """Add a user to the clinic."""
        self.check("user:write")
        return clinics.add_user(practice=self.practice, **fields)

    def add_block(self, **fields: Any) -> TimeBlock:
        """Block a provider's time."""
        self.check("block:write")
        return scheduling.add_block(practice=self.practice, **fields)

    # -- by object: the object is found in this clinic first, then its patient checked -----

    def _stored(self, entity: type[Entity], entity_id: str) -> Item | None:
        """An entity's stored home item in this clinic (plain fields only: nothing decrypted)."""
        if not is_id(entity_id):
            return None  # a malformed id names nothing: the store is not asked
        item = self.store.get(*self._plain.records.home(entity.TYPE, entity_id))
        return None if item is None or item.get("deleted_at") else item

    def _provider(self, provider_id: str) -> None:
        """NotFound unless the provider is one of this clinic's."""
        if self._stored(ProviderProfile, provider_id) is None:
            raise NotFound("provider", provider_id)

    def _owned(self, permission: str, entity: type[Entity], entity_id: str) -> None:
        """Check ``permission`` on the patient an existing object of this clinic belongs to."""
        item = self._stored(entity, entity_id)
        if item is None:
            raise NotFound(entity.RESOURCE or kind_of(entity), entity_id)
        self.check(permission, item["plain"]["patient_id"])

    def move_appointment(
        self, step: str, appointment_id: str, version: int, **extra: Any
    ) -> Appointment:
        """confirm, check_in, complete, no_show, cancel (with a reason) or add_notes."""
        self._owned("appointment:write", Appointment, appointment_id)
        steps: dict[str, Callable[..., Appointment]] = {
            "confirm": scheduling.confirm,
            "check_in": scheduling.check_in,
            "complete": scheduling.complete,
            "no_show": scheduling.no_show,
            "cancel": scheduling.cancel,
            "add_notes": scheduling.add_notes,
        }
        result: Appointment = steps[step](
            practice=self.practice, appointment_id=appointment_id, version=version, **extra
        )
        return result

    def reschedule(
        self, appointment_id: str, version: int, start: datetime, end: datetime
    ) -> Appointment:
        """Move an appointment to another time."""
        self._owned("appointment:write", Appointment, appointment_id)
        moved = scheduling.reschedule(
            practice=self.practice,
            appointment_id=appointment_id,
            version=version,
            start=start,
            end=end,
        )
        return moved

    def sign_note(self, note_id: str, version: int) -> ClinicalNote:
        """Sign a draft note."""
        self._owned("note:write", ClinicalNote, note_id)
        return notes.sign(practice=self.practice, note_id=note_id, version=version)

    def amend_note(self, note_id: str, **content: Any) -> ClinicalNote:
        """Start an amendment of a signed note."""
        self._owned("note:write", ClinicalNote, note_id)
        return notes.amend(practice=self.practice, note_id=note_id, **content)

    def bill(self, step: str, invoice_id: str, version: int, **extra: Any) -> Invoice:
        """issue, record_payment or void an invoice."""
        self._owned("invoice:write", Invoice, invoice_id)
        steps: dict[str, Callable[..., Invoice]] = {
            "issue": billing.issue,
            "record_payment": billing.record_payment,
            "void": billing.void,
        }
        result: Invoice = steps[step](
            practice=self.practice, invoice_id=invoice_id, version=version, **extra
        )
        return result

    # -- patient-scoped creations and reads ------------------------------------------------

    def create_record(self, entity: type[Entity], **fields: Any) -> Entity:
        """A medical record, treatment record or insurance verification for a patient."""
        resource = {"RECORD": "record", "TREATMENT": "treatment", "INSVER": "insurance"}[
            entity.TYPE
        ]
        self.check(f"{resource}:write", fields.get("patient_id"))
        return clinical.create(practice=self.practice, entity=entity, **fields)

    def upload_document(self, data: bytes, **fields: Any) -> Any:
        """Store a document for a patient."""
        self.check("document:write", fields.get("patient_id"))
        return clinical.upload(practice=self.practice, data=data, **fields)

    def download_document(self, document_id: str) -> tuple[Any, bytes]:
        """A document and its bytes."""
        self._owned("document:read", Document, document_id)
        return clinical.download(practice=self.practice, document_id=document_id)

    def deactivate_patient(self, patient_id: str, version: int) -> Patient:
        """Mark a patient inactive."""
        self.check("patient:write", patient_id)
        saved = patients.deactivate(practice=self.practice, patient_id=patient_id, version=version)
        return saved

    def shred_patient(self, patient_id: str, reason: ShredReason) -> int:
        """Destroy a patient's data key for good: a critical event, its reason recorded."""
        self.check("patient:shred", patient_id)
        count = self.practice.uow.records.shred(patient_id)
        self._auditor.record(
            Action.DELETE,
            "PATIENT_KEY",
            patient_id,
            patient_id,
            Outcome.SUCCESS,
            Level.CRITICAL,
            purpose=reason.value,
        )
        return count

    def invite_patient(self, patient_id: str) -> Invitation:
        """Invite a patient to the portal (the code goes to the patient, through the outbox)."""
        self.check("patient:write", patient_id)
        return patients.invite(practice=self.practice, patient_id=patient_id)

    # -- clinic-wide operations ----------------------------------------------------------

    def register_patient(self, **fields: Any) -> Patient:
        """Register a patient."""
        self.check("patient:write")
        return patients.register(practice=self.practice, **fields)

    def patient_by_mrn(self, mrn: str) -> Patient | None:
        """A patient by MRN."""
        self.check("patient:search")
        found = patients.by_mrn(practice=self.practice, mrn=mrn)
        return None if found is None else (found)

    def patients_by_status(self, status: Any) -> list[Patient]:
        """Patients in one status."""
        self.check("patient:search")
        return patients.by_status(practice=self.practice, status=status).items

    def day_schedule(self, day: Any) -> list[Appointment]:
        """The clinic's appointments of a day."""
        return self.schedule_page(day).items

    def schedule_page(self, day: Any, limit: int = 100, cursor: str | None = None) -> Listing[Any]:
        """One page of the clinic's appointments of a day, and the cursor of the next."""
        self.check("appointment:search")
        page: Listing[Any] = scheduling.day_schedule(
            practice=self.practice, day=day, limit=limit, cursor=cursor
        )
        return page

    def provider_timeline(self, provider_id: str, start: datetime, end: datetime) -> Any:
        """A provider's appointments and blocks in a range."""
        self.check("appointment:search")
        self._provider(provider_id)
        return scheduling.provider_timeline(
            practice=self.practice, provider_id=provider_id, start=start, end=end
        )

    def free_slots(self, provider_id: str, day: Any) -> Any:
        """A provider's free times on a day (no PHI)."""
        self.check("provider:read")
        return scheduling.free_slots(practice=self.practice, provider_id=provider_id, day=day)

    def notes_by_code(self, code: str) -> list[ClinicalNote]:
        """Notes with a diagnosis code."""
        self.check("note:search")
        return notes.by_code(practice=self.practice, code=code)

    def records_by(self, by: str, value: str) -> list[MedicalRecord]:
        """Medical records by diagnosis code or medication (encrypted search tokens)."""
        self.check("record:search")
        if by == "code":
            return clinical.records_by_code(practice=self.practice, code=value)
        if by == "medication":
            return clinical.records_by_medication(practice=self.practice, medication=value)
        raise ValidationError("search.by", "must be one of code, medication")

    def user(self, user_id: str) -> User:
        """A user of the clinic (A2)."""
        self.check("user:read")
        if self._stored(User, user_id) is None:
            raise NotFound("user", user_id)
        return self.practice.uow[User].require(user_id)

    def deactivate_user(self, user_id: str, version: int) -> User:
        """Mark a user inactive (their sessions are revoked by the caller, at once)."""
        self.check("user:write")
        if self._stored(User, user_id) is None:
            raise NotFound("user", user_id)
        if user_id == self.principal.user_id:
            raise PermissionDenied("user:write", "an administrator cannot deactivate themselves")
        users = self.practice.uow[User]
        current = users.for_change(user_id)
        if current.version != version:
            raise StaleVersion("the user changed since it was read; read it again")
        saved = users.update(current.changed(active=False))
        self.practice.uow.commit()
        return saved

    def records_by_type(self, record_type: Any) -> Any:
        """Medical records of one type."""
        self.check("record:search")
        return clinical.records_by_type(practice=self.practice, record_type=record_type).items

    def invoices_by_status(self, status: Any) -> list[Invoice]:
        """Invoices in one status."""
        self.check("invoice:search")
        return billing.by_status(practice=self.practice, status=status).items

    def mark_overdue(self) -> int:
        """Mark overdue invoices."""
        self.check("invoice:write")
        return billing.mark_overdue(practice=self.practice)

    def register_intake(self, **fields: Any) -> Any:
        """Record a self-registration."""
        self.check("registration:write")
        return clinical.create(practice=self.practice, entity=Registration, **fields)

    def users_by_role(self, role: Role) -> list[User]:
        """The clinic's users with one role."""
        self.check("user:read")
        return clinics.users_by_role(practice=self.practice, role=role).items

    def has_profile(self, provider_id: str) -> bool:
        """Whether the provider has a profile yet (nothing about it is read)."""
        return self._stored(ProviderProfile, provider_id) is not None

    def put_profile(self, provider_id: str, version: int | None, **fields: Any) -> ProviderProfile:
        """Create a provider's profile (``version`` None) or change it at ``version``."""
        self.check("provider:write")
        if version is None:
            user = self._plain[User].get(provider_id) if is_id(provider_id) else None
            if user is None:
                raise NotFound("user", provider_id)
            if user.role not in CARE_ROLES:
                raise ValidationError("provider.id", "must name a user whose role provides care")
            profile = ProviderProfile.create(id=provider_id, **fields)
        else:
            current = self._plain[ProviderProfile].require(provider_id)
            if current.version != version:
                raise StaleVersion(f"provider: is at version {current.version}, not {version}")
            profile = current.changed(**fields)
        saved: ProviderProfile = self.set_profile(profile)
        return saved

    def set_profile(self, profile: Any) -> Any:
        """Create or change a provider profile."""
        self.check("provider:write")
        return scheduling.set_profile(practice=self.practice, profile=profile)

    def remove_block(self, block_id: str, version: int) -> None:
        """Lift a time block."""
        self.check("block:write")
        scheduling.remove_block(practice=self.practice, block_id=block_id, version=version)

    def audit_day(self, day: Any, level: Level | None = None) -> list[AuditEvent]:
        """The clinic's audit events of a day (of one compliance level, when given)."""
        self.check("audit:read")
        if level is not None:
            return audit_trail.by_level(practice=self.practice, level=level, day=day)
        return audit_trail.on_day(practice=self.practice, day=day)

    def verify_audit(self) -> Any:
        """Recompute the clinic's audit chains."""
        self.check("audit:read")
        return verify(self.practice.audit)

    def export_audit(self) -> Iterator[Item]:
        """Every stored event of the clinic, chain by chain; the export is itself an event.

        The permission is checked and the export recorded now; the events are read as the
        returned iterator is consumed.
        """
        self.check("audit:export")
        self._auditor.record(Action.EXPORT, "AUDIT", None, None, Outcome.SUCCESS, Level.CRITICAL)
        trail = self.practice.audit
        return (item for shard in range(trail.shards) for item in trail.events(shard))

    def clinic(self, clinic_id: str) -> Clinic:
        """The principal's own clinic (A1); any other id names nothing here."""
        self.check("clinic:read")
        if clinic_id != self.principal.tenant:
            raise NotFound("clinic", clinic_id)
        return self.practice.uow[Clinic].require(clinic_id)

    def appointments_by_status(
        self, provider_id: str, status: Any, limit: int = 100, cursor: str | None = None
    ) -> Listing[Any]:
        """A provider's appointments in one status (A9)."""
        self.check("appointment:search")
        self._provider(provider_id)
        page: Listing[Any] = scheduling.by_status(
            practice=self.practice,
            provider_id=provider_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )
        return page

    def documents_by_type(
        self, doc_type: Any, limit: int = 100, cursor: str | None = None
    ) -> Listing[Document]:
        """Documents of one type (A11)."""
        self.check("document:search")
        return clinical.documents_by_type(
            practice=self.practice, doc_type=doc_type, limit=limit, cursor=cursor
        )

    def registrations(
        self, status: Any, limit: int = 100, cursor: str | None = None
    ) -> Listing[Registration]:
        """Self-registrations in one status, oldest first."""
        self.check("registration:search")
        return self.practice.uow[Registration].query(
            "gsi4", f"REGISTRATION#STATUS#{status.value}", limit=limit, cursor=cursor
        )

    def convert_registration(self, registration_id: str, version: int, **extra: Any) -> Patient:
        """Turn a pending self-registration into a patient."""
        self.check("registration:write")
        self.check("patient:write")
        current = self._plain[Registration].require(registration_id)
        if current.version != version:
            raise StaleVersion(f"registration: is at version {current.version}, not {version}")
        made = clinical.convert_registration(
            practice=self.practice, registration_id=registration_id, **extra
        )
        return made

    # -- API clients (service accounts) ----------------------------------------------------

    def create_client(self, name: str, scopes: list[str]) -> tuple[ApiClient, str]:
        """A new API client; it may hold only permissions its creator holds."""
        self.check("client:write")
        for i, scope in enumerate(scopes):
            if scope not in self.principal.permissions:
                raise ValidationError(f"api_client.scopes[{i}]", "must be a permission you hold")
        return clients.create_client(uow=self.practice.uow, name=name, scopes=scopes)

    def api_clients(self) -> list[ApiClient]:
        """The clinic's API clients."""
        self.check("client:read")
        return clients.clients(uow=self.practice.uow)

    def deactivate_client(self, client_id: str, version: int) -> ApiClient:
        """Stop an API client (its tokens stop working at once)."""
        self.check("client:delete")
        return clients.deactivate_client(
            uow=self.practice.uow, client_id=client_id, version=version
        )
