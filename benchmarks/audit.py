"""The cost of auditing: patient reads and writes per second with the audit trail on vs off,
and audited writes with the witness log vs without it.

Reads run on ``THREADS`` threads at once (a server's concurrent requests), so group commit
can share one chain append among the readers waiting at the same moment; writes carry
their event in their own transaction.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.engines import store_url

from carevault.audit.appender import appender_for
from carevault.audit.recorder import AuditContext
from carevault.audit.witness import WITNESS_VAR
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.patient import Patient
from carevault.services import clinics, patients
from carevault.services.practice import Practice

THREADS = 32  # a FastAPI server runs sync endpoints on a pool of 40 threads


def _person(i: int) -> dict[str, Any]:
    return {
        "mrn": f"A-{i:09d}",
        "first_name": f"Quinlan{i}",
        "last_name": "Whitford",
        "date_of_birth": "1961-07-04",
        "gender": "FEMALE",
        "email": f"q{i}@example.org",
        "ssn": f"987-65-{i % 10000:04d}",
    }


def _reads_per_second(practices: list[Practice], ids: list[str], seconds: float) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * len(practices)
    start = threading.Barrier(len(practices), timeout=60)

    def read(k: int) -> None:
        p, n = practices[k], 0
        start.wait()
        while time.perf_counter() < stop:
            p.uow[Patient].get(ids[(k * 7 + n) % len(ids)])
            n += 1
        counts[k] = n

    threads = [threading.Thread(target=read, args=(k,)) for k in range(len(practices))]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    if any(t.is_alive() for t in threads):
        raise RuntimeError("audit bench: a reader hung (no read may wait without a deadline)")
    return sum(counts) / (time.perf_counter() - began)


def _writes_per_second(writer: Practice, seconds: float, counter: Iterator[int]) -> float:
    began, n = time.perf_counter(), 0
    while time.perf_counter() - began < seconds:
        patients.register(practice=writer, **_person(10**6 + next(counter)))
        n += 1
    return n / (time.perf_counter() - began)


def _keep(best: dict[tuple[str, str], float], key: tuple[str, str], rate: float) -> None:
    best[key] = max(best.get(key, 0.0), rate)


def _appender_ready(store: Any, seconds: float = 60) -> None:
    """Wait until the store's audit appender beats (reads before it append in process)."""
    give_up = time.monotonic() + seconds
    while True:
        found = appender_for(store)
        if found is None or found.ready:
            return
        if time.monotonic() > give_up:
            raise RuntimeError("audit bench: the appender did not start within a minute")
        time.sleep(0.05)


def run(engines: list[str], seconds: float, rounds: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="carevault-bench-audit-"))
    for engine in [e for e in engines if e in ("sqlite", "postgresql")]:
        store, keys = open_pair(engine, tmp)
        ring = Keyring(keys, LocalKeyProvider.create(tmp / f"root-{engine}.key"))
        tenant = clinics.create_clinic(store=store, ring=ring, name="Bench").id

        def practice(audited: bool, k: int = 0) -> Practice:
            context = AuditContext(actor=f"u{k}", role="DOCTOR") if audited else None
            return Practice.open(store, ring, tenant, audit=context)  # noqa: B023

        plain = practice(False)
        ids = [patients.register(practice=plain, **_person(i)).id for i in range(200)]
        counter = iter(range(10**9))
        best: dict[tuple[str, str], float] = {}
        _appender_ready(store)
        for _ in range(rounds):
            for audited in (False, True):
                readers = [practice(audited, k) for k in range(THREADS)]
                _keep(best, ("read", str(audited)), _reads_per_second(readers, ids, seconds))
                rate = _writes_per_second(practice(audited), seconds, counter)
                _keep(best, ("write", str(audited)), rate)
            # audited writes with the witness log (on: the default) and without it
            chosen = os.environ.get(WITNESS_VAR)
            for witnessed in (False, True):
                os.environ[WITNESS_VAR] = (chosen or "") if witnessed else "none"
                try:
                    rate = _writes_per_second(practice(True), seconds, counter)
                finally:
                    os.environ.pop(WITNESS_VAR, None)
                    if chosen is not None:
                        os.environ[WITNESS_VAR] = chosen
                _keep(best, ("witness", str(witnessed)), rate)
        rows = (
            ("audited_read", ("read", "True"), ("read", "False"), "unaudited"),
            ("audited_write", ("write", "True"), ("write", "False"), "unaudited"),
            ("witnessed_write", ("witness", "True"), ("witness", "False"), "no witness"),
        )
        for operation, on_key, off_key, baseline in rows:
            on, off = best[on_key], best[off_key]
            results.append(
                {
                    "engine": engine,
                    "operation": operation,
                    "carevault_ops": on,
                    "raw_ops": off,
                    "ratio": on / off,
                }
            )
            print(
                f"  {engine:<11} {operation:<16} {on:.0f}/s vs {off:.0f}/s {baseline}"
                f" (ratio {on / off:.2f})",
                flush=True,
            )
        for s in (store, keys):
            s.drop_table()
            s.close()
    return results


def open_pair(engine: str, tmp: Path) -> tuple[Any, Any]:
    from carevault.store import open_store

    pair = [open_store(store_url(engine, tmp, None)) for _ in range(2)]
    for s in pair:
        s.create_table()
    return pair[0], pair[1]
