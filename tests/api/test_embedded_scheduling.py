"""Handlers on the embedded engine (``carevault.api.routing``): reads served on the event
loop have their audit events durable before the data leaves, a stuck trail fails them
within the deadline while the loop serves others; changes run one at a time per worker,
and a change that cannot get the writer in time answers 503 busy with nothing written."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from carevault.api import routing
from carevault.api.app import PREFIX, create_app
from carevault.api.runtime import Limits, Runtime
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail, fields_of
from carevault.domain.clinic import Role
from carevault.errors import StoreUnavailable
from carevault.repo.release import holding, settle, settle_all
from carevault.store import Store, open_store
from tests.api.conftest import Api, make_api
from tests.api.served import Served
from tests.appender import ready
from tests.domain.world import make_world


class Clinic:
    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "data.db"
        names = iter(["data", "data-keys"])

        def make() -> Store:
            store = open_store(f"sqlite:///{tmp}/{next(names)}.db")
            store.create_table()
            return store

        self.world = make_world(make, tmp)
        self.api: Api = make_api(self.world, Limits(per_minute=10**6))
        self.headers = self.api.headers(Role.DOCTOR)
        self.staff = self.api.headers(Role.STAFF)
        # served as `carevault serve` serves it: over the store opened from its URL, so
        # reads are audited through that store's appender process
        self.served = open_store(f"sqlite:///{tmp}/data.db")
        rt = Runtime(self.served, self.world.ring, self.world.blobs, Limits(per_minute=10**6))
        self.app = create_app(rt)

    def reads(self) -> set[str]:
        trail = AuditTrail(
            self.served, Signer(self.world.ring, self.world.tenant), self.world.tenant
        )
        found = [fields_of(i) for s in range(trail.shards) for i in trail.events(s)]
        return {f["patient_id"] for f in found if f["action"] == "READ"}


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    found = Clinic(tmp_path)
    yield found
    found.served.close()
    found.world.store.close()


def test_a_read_answered_from_the_loop_is_in_the_trail_before_its_answer(
    clinic: Clinic,
) -> None:
    patients = [clinic.world.patient() for _ in range(3)]
    with Served(clinic.app) as served:
        for patient in patients:
            got = httpx.get(
                f"{served.url}{PREFIX}/patients/{patient.id}", headers=clinic.headers, timeout=60
            )
            assert got.status_code == 200, got.text
            assert got.json()["last_name"] == patient.last_name
            assert patient.id in clinic.reads()  # durable when the answer arrived


def test_a_stuck_trail_fails_the_read_without_its_data_while_the_loop_serves_others(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREVAULT_AUDIT_DEADLINE", "5")
    first, held = clinic.world.patient(), clinic.world.patient()
    with Served(clinic.app) as served:
        url = f"{served.url}{PREFIX}/patients"
        assert httpx.get(f"{url}/{first.id}", headers=clinic.headers, timeout=60).status_code == 200
        frozen = ready(clinic.served)
        assert frozen.pid is not None
        os.kill(frozen.pid, signal.SIGSTOP)  # the appender takes the event and never commits
        answers: list[httpx.Response] = []
        reading = threading.Thread(
            target=lambda: answers.append(
                httpx.get(f"{url}/{held.id}", headers=clinic.headers, timeout=60)
            )
        )
        reading.start()
        time.sleep(0.3)  # the read has handed its event over
        live = httpx.get(f"{served.url}{PREFIX}/health/live", timeout=60)
        assert live.status_code == 200
        assert reading.is_alive(), (
            "the read blocked the loop, or answered before its event was durable"
        )
        reading.join(timeout=60)
        assert not reading.is_alive()
        (answer,) = answers
        assert answer.status_code == 503, answer.text
        assert held.last_name not in answer.text and held.first_name not in answer.text
        assert held.id not in clinic.reads()
        # the frozen appender is given up; the next read is served and recorded
        again = httpx.get(f"{url}/{held.id}", headers=clinic.headers, timeout=60)
        assert again.status_code == 200, again.text
        assert held.id in clinic.reads()


class _Slow:
    """A read's events that become durable after ``delay`` seconds, or fail."""

    def __init__(self, delay: float, fails: bool = False) -> None:
        self.delay, self.fails, self.waited = delay, fails, False

    def wait(self, timeout: float) -> None:
        time.sleep(min(self.delay, timeout))
        self.waited = True
        if self.fails:
            raise StoreUnavailable("audit: the read's event was not recorded")


def test_held_reads_are_noted_not_waited_for_and_settled_together() -> None:
    outside = _Slow(0.0)
    settle(outside)
    assert outside.waited  # no holder: the read waits for its events itself
    noted: list[_Slow] = []
    batch = [_Slow(0.01), _Slow(0.01, fails=True), _Slow(0.01)]
    with holding(noted):  # type: ignore[arg-type]
        for waiting in batch:
            settle(waiting)
    assert noted == batch and not any(w.waited for w in batch)
    settle(after := _Slow(0.0))  # the holder's context ended: waits again
    assert after.waited and len(noted) == 3
    with pytest.raises(StoreUnavailable):
        settle_all(noted)  # type: ignore[arg-type]
    assert all(w.waited for w in batch), "a failure must not leave later reads unwaited"


def _registration(n: int) -> dict[str, str]:
    return {
        "mrn": f"W-{n:04d}",
        "first_name": f"Wren{n}",
        "last_name": "Halvorsen",
        "date_of_birth": "1979-05-14",
        "gender": "FEMALE",
    }


def test_changes_queue_for_the_writer_and_give_up_busy_with_nothing_written(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routing, "WRITE_QUEUE_SECONDS", 1.0)
    with Served(clinic.app) as served:
        url = f"{served.url}{PREFIX}/patients"
        answers: dict[str, httpx.Response] = {}

        def register(name: str, n: int) -> None:
            answers[name] = httpx.post(url, json=_registration(n), headers=clinic.staff, timeout=60)

        outside = sqlite3.connect(clinic.path, isolation_level=None, timeout=30)
        outside.execute("BEGIN IMMEDIATE")  # another process holds the file's write lock
        try:
            first = threading.Thread(target=register, args=("first", 1))
            first.start()
            time.sleep(0.5)  # the first change has the worker's writer, waiting on the file
            register("queued", 2)  # waits for the writer past its deadline
            assert answers["queued"].status_code == 503, answers["queued"].text
            assert answers["queued"].json()["type"].endswith("/busy"), answers["queued"].text
            assert first.is_alive(), "the first change should still wait for the file"
            live = httpx.get(f"{served.url}{PREFIX}/health/live", timeout=60)
            assert live.status_code == 200  # the loop serves while changes wait
        finally:
            outside.execute("ROLLBACK")
            outside.close()
        first.join(timeout=60)
        assert answers["first"].status_code == 201, answers["first"].text
        search = {"by": "mrn", "value": "W-0002"}
        found = httpx.post(f"{url}/search", json=search, headers=clinic.staff, timeout=60)
        assert found.status_code == 200 and found.json()["items"] == [], found.text
        register("again", 2)  # refused busy, so nothing was written: it can be sent again
        assert answers["again"].status_code == 201, answers["again"].text


def test_concurrent_changes_on_one_worker_all_land_and_conflicts_still_refuse(
    clinic: Clinic,
) -> None:
    with Served(clinic.app) as served:
        url = f"{served.url}{PREFIX}/patients"
        codes: list[int] = []

        def register(n: int) -> None:
            sent = httpx.post(url, json=_registration(n), headers=clinic.staff, timeout=60)
            codes.append(sent.status_code)

        workers = [threading.Thread(target=register, args=(n % 6,)) for n in range(12)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        # six distinct record numbers, each sent twice: each lands once, its twin is refused
        assert sorted(codes) == [201] * 6 + [409] * 6, codes
