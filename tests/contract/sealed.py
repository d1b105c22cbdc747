"""Shared record types and fixtures for the sealed-record tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from carevault.crypto import Keyring, LocalKeyProvider
from carevault.crypto.beacons import BeaconIndex
from carevault.crypto.normalize import email, identifier, name, phone, prefix, sounds_like
from carevault.repo.records import Lookup, Records, RecordType
from carevault.store import Store

PATIENT = RecordType(
    "PATIENT",
    phi=frozenset({"first_name", "last_name", "email", "phone", "ssn", "dob", "history"}),
    lookups=(
        Lookup(BeaconIndex("email", email, 32), "email"),
        Lookup(BeaconIndex("phone", phone, 32), "phone"),
        Lookup(BeaconIndex("last_name", name, 16), "last_name"),
        Lookup(BeaconIndex("last_prefix", prefix(3), 4), "last_name"),  # 4 bits: collides often
        Lookup(BeaconIndex("sounds_like", sounds_like, 10), "last_name"),
    ),
)
NOTE = RecordType(
    "NOTE",
    phi=frozenset({"text", "diagnosis"}),
    lookups=(Lookup(BeaconIndex("diagnosis", identifier, 24), "diagnosis"),),
    subject="patient_id",
)
TYPES = (PATIENT, NOTE)


def new_ring(make_store: Callable[[], Store], tmp_path: Path) -> Keyring:
    provider = LocalKeyProvider.create(tmp_path / f"root-{id(make_store)}.key")
    return Keyring(make_store(), provider)


def new_records(store: Store, ring: Keyring, tenant: str = "clinic1") -> Records:
    return Records(store, ring, tenant, TYPES, create=True)


def patient(i: int, last: str = "Whitford") -> dict[str, object]:
    return {
        "first_name": f"Quinlan{i}",
        "last_name": last,
        "email": f"quinlan{i}.{last.lower()}@example.org",
        "phone": f"(415) 555-{i:04d}",
        "ssn": f"987-65-{i:04d}",
        "dob": "1961-07-04",
        "history": f"Chronic migraine, patient {i}",
        "status": "active",
    }
