"""A clinic to test against: a counting store over the engine, keys, a doctor with hours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from carevault.blobs import LocalBlobs
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.clinic import DayHours, ProviderProfile, Role, User, WorkingHours
from carevault.domain.patient import Patient
from carevault.services import clinics, patients, scheduling
from carevault.services.practice import Practice
from carevault.store import Store
from carevault.store.counting import CountingStore

ZONE = "America/New_York"
WEEKDAYS = WorkingHours(
    **{
        d: DayHours(start="08:00", end="17:00")
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
    }
)


def local(y: int, m: int, d: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in the test clinic's zone."""
    return datetime(y, m, d, hour, minute, tzinfo=ZoneInfo(ZONE))


@dataclass
class World:
    store: CountingStore
    ring: Keyring
    practice: Practice
    doctor: User
    blobs: LocalBlobs
    make_store: Callable[[], Store]
    tmp: Path
    seq: int = 0

    @property
    def tenant(self) -> str:
        return self.practice.tenant

    def other_practice(self, actor: str | None = None) -> Practice:
        """A second handle on the same clinic (another request, another thread)."""
        return Practice.open(
            self.store, self.ring, self.tenant, actor=actor or self.doctor.id, blobs=self.blobs
        )

    def patient(self, last: str = "Whitford", **extra: Any) -> Patient:
        self.seq += 1
        fields: dict[str, Any] = {
            "mrn": f"MRN-{self.seq:05d}",
            "first_name": f"Quinlan{self.seq}",
            "last_name": last,
            "date_of_birth": "1961-07-04",
            "gender": "FEMALE",
            "email": f"q{self.seq}.{last.lower()}@example.org",
            "phone": f"(415) 555-{self.seq:04d}",
            "ssn": f"987-65-{self.seq:04d}",
        }
        return patients.register(practice=self.practice, **{**fields, **extra})

    def provider(self, hours: WorkingHours = WEEKDAYS, specialization: str = "Cardiology") -> User:
        self.seq += 1
        user = clinics.add_user(
            practice=self.practice,
            first_name="Dana",
            last_name=f"Doc{self.seq}",
            email=f"doc{self.seq}.{self.tenant.lower()}@example.org",
            role=Role.DOCTOR,
        )
        profile = ProviderProfile.create(
            id=user.id,
            license_number=f"L{self.seq}",
            specialization=specialization,
            working_hours=hours,
        )
        scheduling.set_profile(practice=self.practice, profile=profile)
        return user


def make_world(
    make_store: Callable[[], Store],
    tmp_path: Path,
    zone: str = ZONE,
    shared: World | None = None,
) -> World:
    """A clinic with a doctor; ``shared``: in that world's store and keyring (a neighbour)."""
    if shared is None:
        store = CountingStore(make_store())
        ring = Keyring(make_store(), LocalKeyProvider.create(tmp_path / "root.key"))
    else:
        store, ring = shared.store, shared.ring
    clinic = clinics.create_clinic(store=store, ring=ring, name="Bayview Clinic", time_zone=zone)
    blobs = LocalBlobs(tmp_path / "blobs")
    practice = Practice.open(store, ring, clinic.id, actor="admin-1", blobs=blobs)
    world = World(store, ring, practice, None, blobs, make_store, tmp_path)  # type: ignore[arg-type]
    world.doctor = world.provider()
    world.practice = Practice.open(store, ring, clinic.id, actor=world.doctor.id, blobs=blobs)
    return world


def utc(y: int, m: int, d: int, hour: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=UTC)


HALF_HOUR = timedelta(minutes=30)
