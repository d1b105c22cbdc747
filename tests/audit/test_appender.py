"""The audit appender process: read events committed off the reading process."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from carevault.audit import appender as appender_module
from carevault.audit.appender import READY, SLOT_BYTES, appender_for
from carevault.audit.recorder import AuditContext
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail, fields_of, verify
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.audit import Action
from carevault.domain.patient import Patient
from carevault.errors import StoreUnavailable
from carevault.services import clinics, patients
from carevault.services.practice import Practice
from carevault.store import Store, open_store
from tests.threads import concurrently

pytestmark = pytest.mark.engines


class Clinic:
    def __init__(self, store: Store, keys: Store, tmp: Path) -> None:
        self.store = store
        self.ring = Keyring(keys, LocalKeyProvider.create(tmp / "root.key"))
        self.tenant = clinics.create_clinic(store=store, ring=self.ring, name="Harbor").id
        self.trail = AuditTrail(store, Signer(self.ring, self.tenant), self.tenant)
        plain = Practice.open(store, self.ring, self.tenant)
        self.patients = [
            patients.register(
                practice=plain,
                mrn=f"H-{i}",
                first_name=f"Odile{i}",
                last_name="Marchetti",
                date_of_birth="1958-02-11",
                gender="female",
            ).id
            for i in range(4)
        ]

    def reader(self, name: str = "reader") -> Practice:
        context = AuditContext(actor=name, role="DOCTOR")
        return Practice.open(self.store, self.ring, self.tenant, audit=context)

    def reads(self) -> list[str]:
        """The resources of the READ events in the clinic's chains."""
        found = [fields_of(i) for s in range(self.trail.shards) for i in self.trail.events(s)]
        return [f["resource_id"] for f in found if f["action"] == "READ"]


@pytest.fixture
def clinic(store: Store, make_store: Callable[[], Store], tmp_path: Path) -> Clinic:
    return Clinic(store, make_store(), tmp_path)


def _events(clinic: Clinic) -> int:
    report = verify(clinic.trail)
    assert report.intact, report.breaks
    return report.events


def test_concurrent_reads_are_committed_by_the_appender_process(clinic: Clinic) -> None:
    before = _events(clinic)

    def read(k: int) -> None:
        mine = clinic.reader(f"reader{k}")
        for n in range(10):
            assert mine.uow[Patient].get(clinic.patients[(k + n) % 4]) is not None

    assert not concurrently(read, 8)
    appender = appender_for(clinic.store)
    assert appender is not None and appender.alive
    assert appender._process.pid != os.getpid()
    assert _events(clinic) - before == 80


def test_a_read_whose_event_is_lost_with_the_appender_is_not_returned(clinic: Clinic) -> None:
    reader = clinic.reader()
    reader.uow[Patient].get(clinic.patients[0])  # starts the appender
    appender = appender_for(clinic.store)
    assert appender is not None
    pid = appender._process.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the appender is stuck ...
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(reader.uow[Patient].get(clinic.patients[1]))
        except StoreUnavailable as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    deadline = time.monotonic() + 10
    shared = appender._shared
    while not any(shared[s * SLOT_BYTES] == READY for s in range(appender_module.SLOTS)):
        assert time.monotonic() < deadline, "the read never handed its event over"
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)  # ... and dies holding the read's event
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], StoreUnavailable)
    assert "Odile" not in str(outcome[0])
    assert clinic.patients[1] not in clinic.reads()
    # the next read starts another appender and is recorded
    assert reader.uow[Patient].get(clinic.patients[2]) is not None
    assert clinic.patients[2] in clinic.reads()
    assert _events(clinic) >= 2


def test_closing_the_store_stops_its_appender(clinic: Clinic) -> None:
    assert clinic.store.url is not None
    other = open_store(clinic.store.url)  # another handle on the same store
    context = AuditContext(actor="reader", role="DOCTOR")
    Practice.open(other, clinic.ring, clinic.tenant, audit=context).uow[Patient].get(
        clinic.patients[0]
    )
    appender = appender_for(other)
    assert appender is not None and appender.alive and appender is not appender_for(clinic.store)
    other.close()
    assert not appender.alive
    assert clinic.patients[0] in clinic.reads()


def test_a_rotated_signing_key_reaches_the_appender(clinic: Clinic) -> None:
    reader = clinic.reader()
    reader.uow[Patient].get(clinic.patients[0])
    signer = Signer(clinic.ring, clinic.tenant)
    assert signer.rotate() == 2
    fresh = clinic.reader("after")  # a new request sees the new key version
    for person in clinic.patients:
        fresh.uow[Patient].get(person)
    kids = {
        int(h["kid"])
        for s in range(clinic.trail.shards)
        if (h := clinic.store.get(clinic.trail.partition(s), "HEAD")) is not None
    }
    assert 2 in kids
    assert _events(clinic) >= 5


def test_thread_mode_and_oversized_batches_append_in_process(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = clinic.reader()
    many = [
        reader.uow.audit.event(Action.READ, "PATIENT", p, p)  # type: ignore[union-attr]
        for p in clinic.patients * 100
    ]
    reader.uow.audit.reads(many)  # type: ignore[union-attr]
    assert _events(clinic) == 400
    monkeypatch.setenv("CAREVAULT_AUDIT_APPENDER", "thread")
    assert appender_for(clinic.store) is None
    reader.uow[Patient].get(clinic.patients[0])
    assert _events(clinic) == 401
