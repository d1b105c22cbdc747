"""The counting store: it sees every engine request, so tests can bound access patterns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from carevault.store import Store
from carevault.store.counting import CountingStore
from tests.contract.sealed import new_records, new_ring, patient


def test_counts_each_request_and_store_has_no_scan(store: Store) -> None:
    counted = CountingStore(store)
    for i in range(7):
        counted.put({"pk": "P", "sk": f"{i}"})
    assert counted.calls["write"] == 7
    counted.reset()
    assert len(list(counted.query_all("P", page_size=3))) == 7
    assert counted.calls["query"] == 3 and counted.reads == 3
    counted.get("P", "1")
    counted.batch_get([("P", "1"), ("P", "2")])
    assert counted.reads == 5
    assert not hasattr(Store, "scan")  # a full-table read cannot even be expressed


def test_encrypted_search_is_one_query_and_one_batch_get(
    store: Store, make_store: Callable[[], Store], tmp_path: Path
) -> None:
    counted = CountingStore(store)
    records = new_records(counted, new_ring(make_store, tmp_path))
    for i in range(5):
        records.put("PATIENT", f"p{i}", patient(i, "Whitford"))
    counted.reset()
    assert len(records.find("PATIENT", "last_name", "whitford")) == 5
    assert counted.calls["query"] == 1 and counted.calls["batch_get"] == 1
    assert counted.reads == 2
