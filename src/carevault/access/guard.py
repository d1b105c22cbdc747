"""The guarded services: every call of a principal goes through the policy and the audit.

A denial is an audit event (DENIED) before it is an error, so refused attempts are as
visible as granted ones. Ids from another clinic name nothing here: they are refused like
any other record the principal may not reach.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from carevault.access import policy
from carevault.access.policy import CARE_SCOPED, Principal, mask
from carevault.audit.recorder import AuditContext, Auditor
from carevault.blobs import BlobStore
from carevault.crypto.keyring import Keyring
from carevault.domain.audit import Action, AuditEvent, Level, Outcome
from carevault.domain.base import Entity
from carevault.domain.billing import Invoice
from carevault.domain.clinic import Role, User
from carevault.domain.clinical import ClinicalNote
from carevault.domain.intake import Consent
from carevault.domain.patient import Patient
from carevault.domain.scheduling import Appointment, TimeBlock
from carevault.errors import PermissionDenied
from carevault.repo.unit import UnitOfWork
from carevault.services import audit_trail, billing, clinical, clinics, notes, patients, scheduling
from carevault.services.practice import Practice
from carevault.store import Store

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
            principal.user_id, principal.role.value, purpose, principal.request_id
        )
        self.practice = Practice.open(store, ring, principal.tenant, blobs=blobs, audit=context)
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
        event = self._auditor.event(
            Action.DENIED, resource, None, patient_id, Outcome.DENIED, Level.CRITICAL
        )
        self._auditor.trail.append([event])
        return PermissionDenied(permission, reason)

    def check(self, permission: str, patient_id: str | None = None) -> None:
        """Allow ``permission`` (on ``patient_id``'s records) or raise an audited denial."""
        p = self.principal
        if permission not in p.permissions:
            raise self._deny(permission, f"the {p.role.value} role does not allow it", patient_id)
        if patient_id is None:
            return
        if self._plain[Patient].get(patient_id) is None:
            raise self._deny(permission, "no such patient in this clinic", None)
        if p.role is Role.PATIENT and patient_id != p.patient_id:
            raise self._deny(permission, "a patient reaches only their own records", patient_id)
        resource = permission.split(":", maxsplit=1)[0]
        # booking is how care starts, so it is not care-scoped itself
        scoped = resource in CARE_SCOPED and permission != "appointment:write"
        if p.role is Role.DOCTOR and scoped and not self._cares_for(patient_id):
            raise self._deny(permission, "no care relationship with this patient", patient_id)

    def _cares_for(self, patient_id: str) -> bool:
        p = self.principal
        if self.store.get(*policy.care_key(p.tenant, p.user_id, patient_id)) is not None:
            return True
        return policy.active_break_glass(self.store, p, self.practice.now())

    def break_glass(self, reason: str, minutes: int = 60) -> datetime:
        """Open emergency access to every patient for a while: a critical security event."""
        until = policy.open_break_glass(
            self.store, self.principal, reason, minutes, self.practice.now()
        )
        event = self._auditor.event(
            Action.BREAK_GLASS,
            "USER",
            self.principal.user_id,
            None,
            Outcome.SUCCESS,
            Level.CRITICAL,
        )
        self._auditor.trail.append([event])
        return until

    def _shown(self, entity: Entity) -> Any:
        return mask(entity, self.principal.role)

    # -- operations --------------------------------------------------------------------

    def read_patient(self, patient_id: str) -> Patient:
        """A patient, masked for the role."""
        self.check("patient:read", patient_id)
        return self._shown(self.practice.uow[Patient].require(patient_id))  # type: ignore[no-any-return]

    def update_patient(self, patient_id: str, **changes: Any) -> Patient:
        """Change a patient's details."""
        self.check("patient:write", patient_id)
        current = self._plain[Patient].require(patient_id)
        return patients.update(practice=self.practice, patient=current.changed(**changes))

    def search_patients(self, by: str, value: str) -> list[Patient]:
        """Patients by an encrypted search, masked for the role."""
        self.check("patient:search")
        return [self._shown(x) for x in patients.find(practice=self.practice, by=by, value=value)]

    def history(self, kind: str, patient_id: str) -> list[Any]:
        """A patient's records of one kind (appointments, notes, invoices, …)."""
        self.check(f"{kind}:read", patient_id)
        listing = self.practice.uow.history(patient_id, prefix=HISTORY[kind])
        return [self._shown(x) for x in listing.items]

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
        if self._plain[Patient].get(patient_id) is None:
            raise self._deny("audit:read", "no such patient in this clinic")
        return audit_trail.disclosures(practice=self.practice, patient_id=patient_id, since=since)

    def add_user(self, **fields: Any) -> User:
        """Add a user to the clinic."""
        self.check("user:write")
        return clinics.add_user(practice=self.practice, **fields)

    def add_block(self, **fields: Any) -> TimeBlock:
        """Block a provider's time."""
        self.check("block:write")
        return scheduling.add_block(practice=self.practice, **fields)
