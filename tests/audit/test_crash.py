"""SIGKILL at random points never leaves a change without its event, or a read without one.

A child process registers and reads patients in a loop on SQLite, printing each operation
once it has returned; it is killed at a random moment, twenty times over the same store.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail, event_of, verify
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.services import clinics
from carevault.store import open_store

ROOT = Path(__file__).parents[2]


def test_kill_loop_leaves_no_change_or_read_unaudited(tmp_path: Path) -> None:
    data, keys, root = tmp_path / "data.db", tmp_path / "keys.db", tmp_path / "root.key"
    store, key_store = open_store(f"sqlite:///{data}"), open_store(f"sqlite:///{keys}")
    store.create_table()
    key_store.create_table()
    ring = Keyring(key_store, LocalKeyProvider.create(root))
    tenant = clinics.create_clinic(store=store, ring=ring, name="Crash Clinic").id
    rng = random.Random(20)
    returned_reads: set[str] = set()
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.audit.crasher", str(data), str(keys), str(root), tenant],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        first = child.stdout.readline() if child.stdout else ""  # it is up and writing
        assert first.startswith("W "), first
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        lines = [first, *out.splitlines()]
        returned_reads |= {line.split()[1] for line in lines if line.startswith("R ")}
    trail = AuditTrail(store, Signer(ring, tenant), tenant)
    events = [event_of(i) for s in range(trail.shards) for i in trail.events(s)]
    created = {e.resource_id for e in events if e.action.value == "CREATE"}
    read_requests = {e.request_id for e in events if e.action.value == "READ"}
    homes = {i["id"] for i in store.query_all(f"T#{tenant}#PATIENT", index="gsi1")}
    assert homes and homes <= created, "a committed patient has no CREATE event"
    assert returned_reads and returned_reads <= read_requests, "a returned read was not audited"
    assert verify(trail).intact
