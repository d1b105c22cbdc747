"""The audit appender process: read events committed off the reading process."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from carevault.audit.appender import appender_for
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
from tests.appender import ready
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
                gender="FEMALE",
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
    appender = ready(clinic.store)
    assert appender.pid is not None and appender.pid != os.getpid()

    def read(k: int) -> None:
        mine = clinic.reader(f"reader{k}")
        for n in range(10):
            assert mine.uow[Patient].get(clinic.patients[(k + n) % 4]) is not None

    assert not concurrently(read, 8)
    assert appender_for(clinic.store) is appender and appender.ready
    assert _events(clinic) - before == 80


def _first_moment(store: Store, ring: Keyring, tenant: str, person: str, tag: str) -> list[str]:
    """32 threads read one patient at once through ``store``; the readers that got it."""
    barrier = threading.Barrier(32, timeout=30)
    returned: list[str] = []

    def read(k: int) -> None:
        context = AuditContext(actor=f"{tag}-{k}", role="DOCTOR")
        mine = Practice.open(store, ring, tenant, audit=context)
        barrier.wait()
        if mine.uow[Patient].get(person) is not None:
            returned.append(f"{tag}-{k}")

    failures = concurrently(read, 32, timeout=30)
    assert not failures, failures
    assert len(returned) == 32
    return returned


def test_reads_at_the_first_moment_of_fresh_stores_never_hang(clinic: Clinic) -> None:
    """30 fresh store handles, each read by 32 threads while its appender starts: no hang.

    Each round opens the store anew, so its first audited read starts its own appender
    while 31 other threads read too: every round is a store's first moment.
    """
    give_up = time.monotonic() + 240  # a hang, not slowness: generous on a shared machine
    assert clinic.store.url is not None
    returned: list[str] = []
    for round_ in range(30):
        assert time.monotonic() < give_up, f"30 rounds took over 4 minutes: a hang (round {round_})"
        fresh = open_store(clinic.store.url)
        try:
            person = clinic.patients[round_ % 4]
            returned += _first_moment(fresh, clinic.ring, clinic.tenant, person, f"r{round_}")
            if round_ % 5 == 0:  # and once it beats, a burst through the new appender
                ready(fresh)
                returned += _first_moment(fresh, clinic.ring, clinic.tenant, person, f"a{round_}")
        finally:
            fresh.close()  # stops its appender
    found = [fields_of(i) for s in range(clinic.trail.shards) for i in clinic.trail.events(s)]
    readers = {f["actor_id"] for f in found if f["action"] == "READ"}
    assert len(returned) == 36 * 32 and readers >= set(returned)  # every returned read audited


def _reading(reader: Practice, person: str) -> tuple[threading.Thread, list[object]]:
    """A thread reading ``person``; what it got (the patient, or the error) lands in the list."""
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(reader.uow[Patient].get(person))
        except StoreUnavailable as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    return thread, outcome


def test_a_frozen_appender_fails_reads_within_the_deadline_and_is_replaced(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREVAULT_AUDIT_DEADLINE", "2")
    reader = clinic.reader()
    frozen = ready(clinic.store)
    assert frozen.pid is not None
    os.kill(frozen.pid, signal.SIGSTOP)  # the appender is stuck
    started = time.monotonic()
    thread, outcome = _reading(reader, clinic.patients[1])
    thread.join(timeout=30)
    assert not thread.is_alive(), "a read waited on a frozen appender past its deadline"
    waited = time.monotonic() - started
    assert len(outcome) == 1 and isinstance(outcome[0], StoreUnavailable), outcome
    assert "Odile" not in str(outcome[0])
    assert waited < 30
    assert clinic.patients[1] not in clinic.reads()
    assert frozen.broken
    # the next reads are served (in this process while a new appender starts, then by it)
    assert reader.uow[Patient].get(clinic.patients[2]) is not None
    assert clinic.patients[2] in clinic.reads()
    fresh = ready(clinic.store)
    assert fresh is not frozen and fresh.pid != frozen.pid
    assert reader.uow[Patient].get(clinic.patients[3]) is not None
    assert clinic.patients[3] in clinic.reads()
    give_up = time.monotonic() + 30
    while frozen.alive:  # the frozen one was killed, not left behind
        assert time.monotonic() < give_up, "the frozen appender was left running"
        time.sleep(0.05)
    assert _events(clinic) >= 2


def test_a_dead_appender_fails_the_read_holding_its_event(clinic: Clinic) -> None:
    reader = clinic.reader()
    dead = ready(clinic.store)
    assert dead.pid is not None
    os.kill(dead.pid, signal.SIGSTOP)
    thread, outcome = _reading(reader, clinic.patients[1])
    time.sleep(0.3)  # the read has handed its event over to the stopped appender
    os.kill(dead.pid, signal.SIGKILL)  # ... which dies holding it
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], StoreUnavailable), outcome
    assert clinic.patients[1] not in clinic.reads()
    assert reader.uow[Patient].get(clinic.patients[2]) is not None
    assert clinic.patients[2] in clinic.reads()


def test_closing_the_store_stops_its_appender(clinic: Clinic) -> None:
    assert clinic.store.url is not None
    other = open_store(clinic.store.url)  # another handle on the same store
    appender = ready(other)
    assert appender is not ready(clinic.store)
    context = AuditContext(actor="reader", role="DOCTOR")
    Practice.open(other, clinic.ring, clinic.tenant, audit=context).uow[Patient].get(
        clinic.patients[0]
    )
    other.close()
    assert not appender.alive
    assert clinic.patients[0] in clinic.reads()


def test_a_rotated_signing_key_reaches_the_appender(clinic: Clinic) -> None:
    reader = clinic.reader()
    ready(clinic.store)
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
    ready(clinic.store)
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
