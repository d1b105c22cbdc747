"""PHI sealed in the process: round trips, encrypted search, raw storage, shredding."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import boto3
import psycopg
import pytest

from carevault.crypto import Keyring, LocalKeyProvider
from carevault.errors import ConflictError, IntegrityError, KeyDestroyed, ValidationError
from carevault.repo.records import Records
from carevault.store import Store, open_store
from tests.contract.sealed import TYPES, new_records, new_ring, patient
from tests.engines import PG_URL


@pytest.fixture
def ring(make_store: Callable[[], Store], tmp_path: Path) -> Keyring:
    return new_ring(make_store, tmp_path)


@pytest.fixture
def records(store: Store, ring: Keyring) -> Records:
    return new_records(store, ring)


def test_round_trip_and_optimistic_locking(records: Records) -> None:
    version = records.put("PATIENT", "p1", patient(1))
    got = records.get("PATIENT", "p1")
    assert got is not None and got.fields == patient(1) and got.version == version == 1
    assert (
        records.put("PATIENT", "p1", {**patient(1), "status": "inactive"}, expected_version=1) == 2
    )
    with pytest.raises(ConflictError):
        records.put("PATIENT", "p1", patient(1), expected_version=1)
    records.put("NOTE", "n1", {"patient_id": "p1", "text": "SOAP: stable", "diagnosis": "G43.909"})
    note = records.get("NOTE", "n1")
    assert note is not None and note.fields["text"] == "SOAP: stable"


def test_encrypted_search_removes_false_positives(records: Records) -> None:
    for i, last in enumerate(["Whitford", "Whitman", "Schmidt", "Smith", "Smyth", "Whitford"]):
        records.put("PATIENT", f"p{i}", patient(i, last))
    assert [r.id for r in records.find("PATIENT", "email", " QUINLAN2.SCHMIDT@example.org")] == [
        "p2"
    ]
    assert [r.id for r in records.find("PATIENT", "phone", "+1 415 555 0003")] == ["p3"]
    assert sorted(r.id for r in records.find("PATIENT", "last_name", "whitford")) == ["p0", "p5"]
    prefix = sorted(r.id for r in records.find("PATIENT", "last_prefix", "WHI"))
    assert prefix == ["p0", "p1", "p5"]  # 4-bit beacons collide; decryption removes the rest
    assert {r.id for r in records.find("PATIENT", "sounds_like", "Smithe")} >= {"p3", "p4"}
    assert records.find("PATIENT", "email", "nobody@example.org") == []
    records.put("NOTE", "n1", {"patient_id": "p1", "text": "x", "diagnosis": "G43.909"})
    assert [r.id for r in records.find("NOTE", "diagnosis", "g43909")] == ["n1"]  # same code
    assert [r.id for r in records.find("NOTE", "diagnosis", "G43.919")] == []
    with pytest.raises(ValidationError):
        records.find("PATIENT", "ssn", "x")


def test_updates_move_lookups_and_delete_removes_them(records: Records) -> None:
    records.put("PATIENT", "p1", patient(1))
    records.put("PATIENT", "p1", {**patient(1), "email": "new.address@example.org"})
    assert records.find("PATIENT", "email", patient(1)["email"]) == []  # type: ignore[arg-type]
    assert [r.id for r in records.find("PATIENT", "email", "new.address@example.org")] == ["p1"]
    records.delete("PATIENT", "p1")
    assert records.get("PATIENT", "p1") is None
    assert records.find("PATIENT", "email", "new.address@example.org") == []


def test_a_sealed_field_moved_to_another_record_fails_integrity(
    records: Records, store: Store
) -> None:
    records.put("PATIENT", "p1", patient(1))
    records.put("PATIENT", "p2", patient(2))
    one = store.get("T#clinic1#PATIENT#p1", "#")
    two = store.get("T#clinic1#PATIENT#p2", "#")
    assert one is not None and two is not None
    store.put({**two, "sealed": {**two["sealed"], "ssn": one["sealed"]["ssn"]}})
    with pytest.raises(IntegrityError):
        records.get("PATIENT", "p2")


KNOWN_PHI = ["Quinlan7", "Whitford", "quinlan7.whitford@example.org", "987-65-0007",
             "555-0007", "Chronic migraine", "1961-07-04"]  # fmt: skip


def _raw_storage(engine: str, store: Store, ring: Keyring, endpoint: str | None) -> bytes:
    """Everything the engine holds for the data and key tables, as bytes."""
    if engine == "sqlite":
        blobs = b""
        for s in (store, ring.keys):
            for suffix in ("", "-wal", "-shm"):
                path = Path(s.path + suffix)  # type: ignore[attr-defined]
                blobs += path.read_bytes() if path.exists() else b""
        return blobs
    if engine == "postgresql":
        out = []
        with psycopg.connect(PG_URL) as conn:
            for s in (store, ring.keys):
                for table in ("items", "changes"):
                    rows = conn.execute(f"SELECT * FROM {s.schema}.{table}").fetchall()  # type: ignore[attr-defined]
                    out.append(repr(rows).encode())
                    out.extend(
                        bytes(v) for row in rows for v in row if isinstance(v, bytes | memoryview)
                    )
        return b"".join(out)
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    out = []
    for s in (store, ring.keys):
        for item in client.scan(TableName=s.table)["Items"]:  # type: ignore[attr-defined]
            out.append(repr(item).encode())
            out.extend(v["B"] for v in item.values() if "B" in v)
    return b"".join(out)


def test_raw_storage_holds_no_phi(
    engine: str, endpoint: str | None, store: Store, ring: Keyring, records: Records
) -> None:
    for i in range(10):
        records.put("PATIENT", f"p{i}", patient(i))
    records.put(
        "NOTE", "n1", {"patient_id": "p7", "text": "Chronic migraine, aura", "diagnosis": "G43.109"}
    )
    records.put("PATIENT", "p7", {**patient(7), "status": "inactive"})  # old image in the feed too
    raw = _raw_storage(engine, store, ring, endpoint)
    assert len(raw) > 1000
    assert b"active" in raw  # plain fields are stored as they are: the scan does see data
    for secret in KNOWN_PHI:
        for form in {secret, secret.lower()}:
            assert form.encode() not in raw, form


def test_shredding_makes_a_subject_unreadable_everywhere(
    engine: str, store: Store, ring: Keyring, records: Records, tmp_path: Path
) -> None:
    records.put("PATIENT", "p1", patient(1))
    records.put("NOTE", "n1", {"patient_id": "p1", "text": "private", "diagnosis": "F32.1"})
    records.put("PATIENT", "p2", patient(2))
    copy: Store | None = None
    if engine == "sqlite":  # a backup of the data file taken before the shred
        backup = tmp_path / "backup.db"
        with sqlite3.connect(store.path) as src, sqlite3.connect(backup) as dst:  # type: ignore[attr-defined]
            src.backup(dst)
        copy = open_store(f"sqlite:///{backup}")
    before = {k: store.get(*k) for k in [("T#clinic1#PATIENT#p1", "#"), ("T#clinic1#NOTE#n1", "#")]}
    assert records.shred("p1") == 2
    for record_type, record_id in (("PATIENT", "p1"), ("NOTE", "n1")):
        with pytest.raises(KeyDestroyed):
            records.get(record_type, record_id)
    assert records.find("PATIENT", "email", patient(1)["email"]) == []  # type: ignore[arg-type]
    assert records.get("PATIENT", "p2").fields == patient(2)  # type: ignore[union-attr]
    fresh = Keyring(ring.keys, ring.provider)  # another process: nothing cached
    for item in before.values():  # the pre-shred images, restored as a backup would be
        store.put(item)  # type: ignore[arg-type]
    again = Records(store, fresh, "clinic1", TYPES)
    with pytest.raises(KeyDestroyed):
        again.get("PATIENT", "p1")
    assert again.get("PATIENT", "p2").fields == patient(2)  # type: ignore[union-attr]
    if copy is not None:
        old = Records(copy, fresh, "clinic1", TYPES)
        with pytest.raises(KeyDestroyed):
            old.get("PATIENT", "p1")
        assert old.get("PATIENT", "p2").fields == patient(2)  # type: ignore[union-attr]
        copy.close()


class CountingProvider(LocalKeyProvider):
    """The real local provider, counting how often it is asked to unwrap."""

    unwraps = 0

    def unwrap(self, wrapped: bytes, context: str, root_id: str) -> bytes:
        CountingProvider.unwraps += 1
        return super().unwrap(wrapped, context, root_id)


def test_warm_reads_cost_no_provider_call(
    store: Store, make_store: Callable[[], Store], tmp_path: Path
) -> None:
    ring = Keyring(make_store(), CountingProvider.create(tmp_path / "counted.key"))
    records = new_records(store, ring)
    records.put("PATIENT", "p1", patient(1))
    records.get("PATIENT", "p1")
    records.find("PATIENT", "email", str(patient(1)["email"]))
    before = CountingProvider.unwraps
    for _ in range(20):
        assert records.get("PATIENT", "p1") is not None
        assert len(records.find("PATIENT", "email", str(patient(1)["email"]))) == 1
    assert CountingProvider.unwraps == before
    cold = Keyring(ring.keys, ring.provider)  # a new process: one unwrap per key, then none
    again = Records(store, cold, "clinic1", TYPES)
    again.get("PATIENT", "p1")
    after_cold = CountingProvider.unwraps
    again.get("PATIENT", "p1")
    assert after_cold > before and CountingProvider.unwraps == after_cold
