"""Expired items are absent at once, to reads and to conditions, before any purge."""

from __future__ import annotations

import time

import pytest

from carevault.errors import ConditionFailed
from carevault.store import Attr, Store


def test_expired_items_are_invisible_to_every_read(store: Store) -> None:
    past, future = int(time.time()) - 5, int(time.time()) + 3600
    store.put({"pk": "S#1", "sk": "a", "expires_at": past, "gsi1pk": "G", "gsi1sk": "a"})
    store.put({"pk": "S#1", "sk": "b", "expires_at": future, "gsi1pk": "G", "gsi1sk": "b"})
    store.put({"pk": "S#1", "sk": "c", "gsi1pk": "G", "gsi1sk": "c"})
    assert store.get("S#1", "a") is None
    assert store.get("S#1", "b") is not None
    assert store.batch_get([("S#1", "a"), ("S#1", "b")])[0] is None
    assert [i["sk"] for i in store.query("S#1").items] == ["b", "c"]
    assert [i["sk"] for i in store.query("G", index="gsi1").items] == ["b", "c"]
    page = store.query("S#1", limit=1)
    assert [i["sk"] for i in page.items] == ["b"] and page.cursor is not None


def test_item_expires_while_stored(store: Store) -> None:
    store.put({"pk": "S#2", "sk": "#", "expires_at": int(time.time()) + 2})
    assert store.get("S#2", "#") is not None
    time.sleep(3.1)
    assert store.get("S#2", "#") is None


def test_expired_item_counts_as_absent_for_conditions(store: Store) -> None:
    """An expired sentinel (say, an invitation token) can be claimed again."""
    absent = Attr("pk").not_exists()
    store.put({"pk": "TOKEN#1", "sk": "#", "expires_at": int(time.time()) - 1})
    store.put({"pk": "TOKEN#1", "sk": "#", "owner": "u2"}, condition=absent)
    assert store.get("TOKEN#1", "#") == {"pk": "TOKEN#1", "sk": "#", "owner": "u2"}
    with pytest.raises(ConditionFailed):
        store.put({"pk": "TOKEN#1", "sk": "#", "owner": "u3"}, condition=absent)
    store.put({"pk": "TOKEN#2", "sk": "#", "v": 1, "expires_at": int(time.time()) - 1})
    with pytest.raises(ConditionFailed):
        store.put({"pk": "TOKEN#2", "sk": "#", "v": 2}, condition=Attr("v").eq(1))


def test_purge_expired_removes_only_expired(store: Store) -> None:
    now = int(time.time())
    for i in range(5):
        store.put({"pk": f"P#{i}", "sk": "#", "expires_at": now - 10 if i < 3 else now + 600})
    removed = store.purge_expired()
    assert removed == (0 if store.engine == "dynamodb" else 3)  # DynamoDB: its TTL does it
    assert [store.get(f"P#{i}", "#") is not None for i in range(5)] == [False] * 3 + [True] * 2
    if store.engine != "dynamodb":
        removals = [c for c in store.changes().changes if c.kind == "remove"]
        assert sorted(c.pk for c in removals) == ["P#0", "P#1", "P#2"]
        assert store.purge_expired() == 0
