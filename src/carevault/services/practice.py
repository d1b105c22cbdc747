"""A clinic's working context: its unit of work, time zone, settings and blob store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from carevault.audit.recorder import AuditContext, Auditor
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail
from carevault.blobs import BlobStore
from carevault.crypto.keyring import Keyring
from carevault.domain.base import utcnow
from carevault.domain.clinic import Clinic
from carevault.repo.gate import Gate
from carevault.repo.unit import Clock, UnitOfWork
from carevault.store import Store


@dataclass
class Practice:
    """Services of one clinic run against this; every key it builds is that clinic's."""

    uow: UnitOfWork
    clinic: Clinic
    blobs: BlobStore | None = None

    @classmethod
    def open(
        cls,
        store: Store,
        ring: Keyring,
        clinic_id: str,
        *,
        actor: str | None = None,
        blobs: BlobStore | None = None,
        clock: Clock = utcnow,
        audit: AuditContext | None = None,
        gate: Gate | None = None,
    ) -> Practice:
        """The practice of an existing clinic (NotFound if there is none).

        With an ``audit`` context every write commits with its audit event and every
        read of PHI is recorded before it is returned. With a ``gate`` every read is
        decided and masked for its principal, item by item.
        """
        clinic = UnitOfWork(store, ring, clinic_id)[Clinic].require(clinic_id)
        auditor = None
        if audit is not None:
            trail = AuditTrail(store, Signer(ring, clinic_id), clinic_id)
            auditor = Auditor(trail, audit)
        uow = UnitOfWork(
            store,
            ring,
            clinic_id,
            actor=actor or (audit.actor if audit else None),
            clock=clock,
            phone_region=clinic.settings.phone_region,
            audit=auditor,
            gate=gate,
        )
        return cls(uow, clinic, blobs)

    @cached_property
    def system(self) -> UnitOfWork:
        """The clinic's own unit, without a principal's gate or audit: for what a service
        reads to decide (busy time, blocks), never for what it returns."""
        u = self.uow
        return UnitOfWork(u.store, u.records.ring, u.tenant, phone_region=u.phone_region)

    @cached_property
    def audit(self) -> AuditTrail:
        """The clinic's tamper-evident audit trail."""
        if isinstance(self.uow.audit, Auditor):
            return self.uow.audit.trail
        return AuditTrail(self.uow.store, Signer(self.uow.records.ring, self.tenant), self.tenant)

    @property
    def tenant(self) -> str:
        return self.uow.tenant

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic.time_zone)

    def now(self) -> datetime:
        return self.uow.clock()

    def local_date(self, instant: datetime) -> date:
        """The clinic-local calendar date of an instant."""
        return instant.astimezone(self.zone).date()
