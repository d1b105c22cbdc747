"""Racing writers never lose an update: the loser gets a conflict, and a retry succeeds."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from carevault.errors import ConflictError
from carevault.store import Attr, Put, Store, open_store

WORKERS, ROUNDS = 4, 12


def increment(store: Store, pk: str, rounds: int) -> int:
    """Read-modify-write with optimistic locking; returns how many attempts lost."""
    lost = 0
    for _ in range(rounds):
        while True:
            item = store.get(pk, "#")
            assert item is not None
            version = item["version"]
            try:
                store.put(
                    {"pk": pk, "sk": "#", "version": version + 1, "count": item["count"] + 1},
                    condition=Attr("version").eq(version),
                )
                break
            except ConflictError:
                lost += 1
    return lost


def test_threads_never_lose_an_update(store: Store) -> None:
    store.put({"pk": "COUNTER", "sk": "#", "version": 0, "count": 0})
    losses: list[int] = []
    threads = [
        threading.Thread(target=lambda: losses.append(increment(store, "COUNTER", ROUNDS)))
        for _ in range(WORKERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = store.get("COUNTER", "#")
    assert final is not None and final["count"] == WORKERS * ROUNDS
    versions = [c.new["version"] for c in store.changes(limit=1000).changes if c.new]
    assert versions == list(range(WORKERS * ROUNDS + 1))


def test_racing_transactions_claim_each_slot_once(store: Store) -> None:
    """Like two bookings of one time slot: exactly one transaction wins each slot."""
    winners: list[int] = []
    barrier = threading.Barrier(WORKERS)

    def book(worker: int) -> None:
        barrier.wait()
        for slot in range(6):
            while True:
                try:
                    store.transact_write(
                        [
                            Put(
                                {"pk": "PROVIDER#1#SLOT", "sk": f"{slot:02d}", "w": worker},
                                Attr("pk").not_exists(),
                            ),
                            Put({"pk": f"BOOKING#{worker}#{slot}", "sk": "#"}),
                        ]
                    )
                    winners.append(slot)
                    break
                except ConflictError:
                    item = store.get("PROVIDER#1#SLOT", f"{slot:02d}")
                    if item is not None:  # lost to a real winner: the slot is taken
                        break

    threads = [threading.Thread(target=book, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(winners) == list(range(6))
    slots = store.query("PROVIDER#1#SLOT").items
    assert len(slots) == 6
    bookings = sum(store.get(f"BOOKING#{s['w']}#{int(s['sk'])}", "#") is not None for s in slots)
    assert bookings == 6


def _process_worker(url: str, rounds: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(url)
    out.put(increment(store, "COUNTER", rounds))
    store.close()


def test_two_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store = open_store(url)
    store.create_table()
    store.put({"pk": "COUNTER", "sk": "#", "version": 0, "count": 0})
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(url, 40, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    final = store.get("COUNTER", "#")
    assert final is not None and final["count"] == 80
    versions = [c.new["version"] for c in store.changes(limit=1000).changes if c.new]
    assert versions == list(range(81))
    store.close()
