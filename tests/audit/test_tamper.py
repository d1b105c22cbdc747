"""Tampering with stored audit events is detected: edit, delete, insert, reorder, truncate.

Mutations go straight to the engine's storage, around carevault, as an attacker with
database access would make them; ``verify`` must name a break after every one, and must
find none on an untouched log.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail, canonical, fields_of, link, verify
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.audit import Action, AuditEvent, Level
from carevault.domain.ids import new_id
from carevault.store import Store, open_store
from tests.audit.raw import Item, Raw
from tests.domain.world import utc

TENANT = new_id()
KINDS = ("edit", "edit-rehash", "delete", "insert", "reorder", "truncate")


def event(i: int) -> AuditEvent:
    return AuditEvent.create(
        at=utc(2027, 3, 1, 9, i % 60),
        actor_id=f"user{i % 3}",
        role="DOCTOR",
        action=[Action.READ, Action.UPDATE, Action.CREATE][i % 3],
        resource_type="PATIENT",
        resource_id=new_id(),
        patient_id=new_id(),
        level=Level.HIPAA,
    )


def build(store: Store, ring: Keyring, count: int = 48) -> AuditTrail:
    trail = AuditTrail(store, Signer(ring, TENANT), TENANT)
    for start in range(0, count, 4):
        trail.append([event(i) for i in range(start, start + 4)])
    return trail


def chain(trail: AuditTrail, raw: Raw, rng: random.Random) -> tuple[int, list[Item]]:
    """A non-empty chain, picked at random, as raw items."""
    shards = [s for s in range(trail.shards) if any(True for _ in trail.events(s))]
    shard = rng.choice(shards)
    items = [raw.get(i["pk"], i["sk"]) for i in trail.events(shard)]
    return shard, [i for i in items if i is not None]


def tamper(kind: str, trail: AuditTrail, raw: Raw, rng: random.Random) -> None:
    """Apply one mutation of ``kind`` at a random place."""
    shard, items = chain(trail, raw, rng)
    k = rng.randrange(len(items))
    victim = items[k]
    if kind in ("edit", "edit-rehash"):
        fields = fields_of(victim)
        field = rng.choice(["actor_id", "action", "resource_id", "at", "outcome"])
        fields[field] = {"action": "DELETE", "outcome": "DENIED", "at": "2027-03-01T00:00:00Z"}.get(
            field, "forged"
        )
        if fields == fields_of(victim):
            fields["purpose"] = "MARKETING"
        changed = {**victim, "event": canonical(fields)}
        if kind == "edit-rehash":  # the attacker fixes up the edited event's own hash
            changed["hash"] = link(bytes(victim["prev"]), canonical(fields))
        raw.put(changed)
    elif kind == "delete":
        raw.delete(victim["pk"], victim["sk"])
    elif kind == "insert":  # a forged event linked onto the last one, past the signed head
        last = items[-1]
        seq = int(last["sk"][2:]) + 1
        fields = {**fields_of(last), "seq": seq, "id": new_id(), "action": "EXPORT"}
        raw.put(
            {
                **last,
                "sk": f"E#{seq:012d}",
                "event": canonical(fields),
                "prev": last["hash"],
                "hash": link(bytes(last["hash"]), canonical(fields)),
            }
        )
    elif kind == "reorder":
        if len(items) < 2:
            raw.delete(victim["pk"], victim["sk"])
            return
        j = rng.choice([x for x in range(len(items)) if x != k])
        a, b = items[k], items[j]
        raw.put({**b, "pk": a["pk"], "sk": a["sk"]})
        raw.put({**a, "pk": b["pk"], "sk": b["sk"]})
    else:  # truncate: drop the last events
        for gone in items[k:]:
            raw.delete(gone["pk"], gone["sk"])
    assert shard >= 0


@dataclass
class Log:
    store: Store
    ring: Keyring
    trail: AuditTrail


@pytest.fixture
def log(make_store: Callable[[], Store], tmp_path: Path) -> Log:
    store = make_store()
    ring = Keyring(make_store(), LocalKeyProvider.create(tmp_path / "root.key"))
    return Log(store, ring, build(store, ring))


def test_an_untouched_log_verifies(log: Log) -> None:
    report = verify(log.trail)
    assert report.intact and report.events == 48


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_tampering_is_detected(
    log: Log, kind: str, engine: str, endpoint: str | None
) -> None:
    raw = Raw(log.store, endpoint)
    try:
        tamper(kind, log.trail, raw, random.Random(kind))
        report = verify(log.trail)
        assert not report.intact, kind
    finally:
        raw.close()


# -- 200+ random mutations on SQLite, each on a fresh copy of one log -------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    root = tmp_path_factory.mktemp("audit-base")
    data, keys = open_store(f"sqlite:///{root}/data.db"), open_store(f"sqlite:///{root}/keys.db")
    data.create_table()
    keys.create_table()
    ring = Keyring(keys, LocalKeyProvider.create(root / "root.key"))
    build(data, ring, 60)
    data.close()
    keys.close()
    yield root / "data.db", root / "keys.db", root / "root.key"


COUNTER = iter(range(10**6))


def _chains(raw: Raw) -> list[tuple[str, str, bytes]]:
    """Every stored audit item, as the engine holds it."""
    rows = raw.sqlite.execute(
        "SELECT pk, sk, data FROM items WHERE pk LIKE ? ORDER BY pk, sk", (f"T#{TENANT}#AUDIT#%",)
    ).fetchall()
    return [(pk, sk, bytes(data)) for pk, sk, data in rows]


@settings(max_examples=220, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3), seed=st.integers(0, 2**32))
def test_random_mutations_on_sqlite_are_all_detected(
    base: tuple[Path, Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    kinds: list[str],
    seed: int,
) -> None:
    data, keys, root_key = base
    copy = tmp_path_factory.getbasetemp() / f"mutant-{next(COUNTER)}.db"
    with sqlite3.connect(data) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    store = open_store(f"sqlite:///{copy}")
    key_store = open_store(f"sqlite:///{keys}")
    ring = Keyring(key_store, LocalKeyProvider.load(root_key))
    trail = AuditTrail(store, Signer(ring, TENANT), TENANT)
    raw = Raw(store)
    rng = random.Random(seed)
    try:
        assert verify(trail).intact  # the copy starts whole
        before = _chains(raw)
        for kind in kinds:
            tamper(kind, trail, raw, rng)
        assume(_chains(raw) != before)  # an insert then its own removal changes nothing
        report = verify(trail)
        assert not report.intact, kinds
        assert all(b.problem for b in report.breaks)
    finally:
        raw.close()
        store.close()
        key_store.close()
        copy.unlink()
