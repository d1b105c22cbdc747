"""Root, branch and index key rotation under live traffic, and resuming interrupted jobs."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest

from carevault.crypto import Keyring
from carevault.crypto.rotation import rewrap_subjects, rotate_branch, rotate_root
from carevault.errors import ConflictError
from carevault.repo.index_rotation import rotate_index
from carevault.repo.records import Records
from carevault.store import Store
from tests.contract.sealed import new_records, new_ring, patient

PATIENTS = 12


class Traffic:
    """Reads, searches and writes records on another thread until stopped."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.failures: list[BaseException] = []
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        rng = random.Random(7)
        while not self._stop.is_set():
            i = rng.randrange(PATIENTS)
            try:
                action = rng.random()
                if action < 0.3:
                    fields = {**patient(i), "status": rng.choice(["active", "inactive"])}
                    with suppress(ConflictError):  # lost to the job's own write: fine
                        self.records.put("PATIENT", f"p{i}", fields)
                elif action < 0.65:
                    record = self.records.get("PATIENT", f"p{i}")
                    assert record is not None and record.fields["ssn"] == patient(i)["ssn"]
                    self.reads += 1
                else:
                    found = self.records.find("PATIENT", "email", str(patient(i)["email"]))
                    assert [r.id for r in found] == [f"p{i}"]
                    self.reads += 1
            except BaseException as exc:
                self.failures.append(exc)
                return

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def setup(store: Store, make_store: Callable[[], Store], tmp_path: Path) -> tuple[Records, Keyring]:
    ring = new_ring(make_store, tmp_path)
    records = new_records(store, ring)
    for i in range(PATIENTS):
        records.put("PATIENT", f"p{i}", patient(i))
    return records, ring


def _read_cold(records: Records, ring: Keyring, i: int) -> None:
    """A process with nothing cached still reads the record after the rotation."""
    fresh = Records(
        records.store, Keyring(ring.keys, ring.provider), "clinic1", records.types.values()
    )
    assert fresh.get("PATIENT", f"p{i}").fields["ssn"] == patient(i)["ssn"]  # type: ignore[union-attr]


def test_root_rotation_under_traffic(setup: tuple[Records, Keyring]) -> None:
    records, ring = setup
    old_root = ring.provider.current_id()
    with Traffic(records) as traffic:
        assert rotate_root(ring) == 2  # one branch key, one index key
        ring.forget()  # later loads unwrap under the new root
    assert traffic.failures == [] and traffic.reads > 0
    root = ring.provider.current_id()
    assert root != old_root
    for kind in ("BRANCH", "INDEX"):
        wrapped = [i for i in ring.keys.query_all(f"T#clinic1#{kind}") if i["sk"] != "#"]
        assert wrapped and all(i["root"] == root for i in wrapped)
    _read_cold(records, ring, 3)


def test_branch_rotation_under_traffic_and_resume(setup: tuple[Records, Keyring]) -> None:
    records, ring = setup
    with Traffic(records) as traffic:
        new = rotate_branch(ring, "clinic1")
        records.put("PATIENT", "late", patient(99))  # a new subject gets the new branch at once
        seen = 0

        def interrupt(step: int) -> None:
            nonlocal seen
            seen += step
            if seen == 5:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            rewrap_subjects(ring, "clinic1", progress=interrupt)
        assert rewrap_subjects(ring, "clinic1") == PATIENTS - 5
    assert traffic.failures == [] and traffic.reads > 0
    assert ring.keys.query("T#clinic1#SUBJECTS#B00000001", index="gsi1").items == []
    moved = list(ring.keys.query_all(f"T#clinic1#SUBJECTS#B{new:08d}", index="gsi1"))
    assert len(moved) == PATIENTS + 1
    _read_cold(records, ring, 0)


def test_index_rotation_under_traffic_and_resume(setup: tuple[Records, Keyring]) -> None:
    records, ring = setup
    with Traffic(records) as traffic:
        assert rotate_index(records, settle=0.05, limit=5) is False  # interrupted in phase 1
        assert rotate_index(records, settle=0.05, limit=PATIENTS) is False  # into phase 2
        assert rotate_index(records, settle=0.05) is True
    assert traffic.failures == [] and traffic.reads > 0
    keys = ring.index_keys("clinic1")
    assert keys.write == keys.read == (2,) and set(keys.keys) == {2}
    assert ring.keys.get("T#clinic1#INDEX", "V#00000001") is None
    assert ring.keys.get("T#clinic1#INDEX", "JOB") is None
    for i in range(PATIENTS):
        home = records.store.get(f"T#clinic1#PATIENT#p{i}", "#")
        assert home is not None and home["lookups"]
        assert all("#2:" in pk for pk, _ in home["lookups"]), home["lookups"]
        assert [r.id for r in records.find("PATIENT", "email", str(patient(i)["email"]))] == [
            f"p{i}"
        ]
