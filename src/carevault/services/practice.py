"""A clinic's working context: its unit of work, time zone, settings and blob store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail
from carevault.blobs import BlobStore
from carevault.crypto.keyring import Keyring
from carevault.domain.base import utcnow
from carevault.domain.clinic import Clinic
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
    ) -> Practice:
        """The practice of an existing clinic (NotFound if there is none)."""
        uow = UnitOfWork(store, ring, clinic_id, actor=actor, clock=clock)
        clinic = uow[Clinic].require(clinic_id)
        if clinic.settings.phone_region != "US":
            uow = UnitOfWork(
                store,
                ring,
                clinic_id,
                actor=actor,
                clock=clock,
                phone_region=clinic.settings.phone_region,
            )
        return cls(uow, clinic, blobs)

    @cached_property
    def audit(self) -> AuditTrail:
        """The clinic's tamper-evident audit trail."""
        signer = Signer(self.uow.records.ring, self.tenant)
        return AuditTrail(self.uow.store, signer, self.tenant)

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
