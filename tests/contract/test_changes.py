"""The change feed: every committed write once, old and new images, resumable, in key order."""

from __future__ import annotations

import pytest

from carevault.errors import ConditionFailed, ValidationError
from carevault.store import Attr, Delete, Put, Store


def test_feed_carries_old_and_new_images(store: Store) -> None:
    store.put({"pk": "P", "sk": "#", "v": 1})
    store.put({"pk": "P", "sk": "#", "v": 2})
    store.delete("P", "#")
    changes = store.changes().changes
    assert [(c.kind, c.old, c.new) for c in changes] == [
        ("insert", None, {"pk": "P", "sk": "#", "v": 1}),
        ("modify", {"pk": "P", "sk": "#", "v": 1}, {"pk": "P", "sk": "#", "v": 2}),
        ("remove", {"pk": "P", "sk": "#", "v": 2}, None),
    ]
    assert all(c.at > 0 for c in changes)


def test_feed_images_keep_empty_maps_and_lists(store: Store) -> None:
    item = {"pk": "P", "sk": "#", "m": {}, "l": [], "nested": {"m": {}, "l": [{}]}}
    store.put(item)
    assert store.get("P", "#") == item
    assert store.changes().changes[0].new == item


def test_no_change_for_writes_that_change_nothing(store: Store) -> None:
    store.put({"pk": "P", "sk": "#", "v": 1, "b": b"\x01"})
    store.put({"pk": "P", "sk": "#", "v": 1, "b": b"\x01"})
    store.delete("Q", "#")
    with pytest.raises(ConditionFailed):
        store.put({"pk": "P", "sk": "#", "v": 9}, condition=Attr("v").eq(0))
    store.put({"pk": "P", "sk": "#", "v": True, "b": b"\x01"})
    kinds = [(c.kind, c.new["v"] if c.new else None) for c in store.changes().changes]
    assert kinds == [("insert", 1), ("modify", True)]


def test_feed_resumes_from_saved_position_without_gaps_or_repeats(store: Store) -> None:
    for i in range(7):
        store.put({"pk": f"K#{i}", "sk": "#", "i": i})
    first = store.changes(limit=3)
    assert [c.new["i"] for c in first.changes] == [0, 1, 2]  # type: ignore[index]
    second = store.changes(first.position, limit=3)
    assert [c.new["i"] for c in second.changes] == [3, 4, 5]  # type: ignore[index]
    third = store.changes(second.position, limit=3)
    assert [c.new["i"] for c in third.changes] == [6]  # type: ignore[index]
    idle = store.changes(third.position)
    assert idle.changes == []
    store.put({"pk": "K#7", "sk": "#", "i": 7})
    assert [c.new["i"] for c in store.changes(idle.position).changes] == [7]  # type: ignore[index]
    assert [c.new["i"] for c in store.changes(second.position).changes] == [6, 7]  # type: ignore[index]


def test_transactions_appear_whole_and_writes_to_one_key_stay_ordered(store: Store) -> None:
    store.transact_write([Put({"pk": f"T#{i}", "sk": "#", "v": 0}) for i in range(5)])
    for v in range(1, 4):
        store.transact_write([Put({"pk": "T#0", "sk": "#", "v": v}), Delete(f"T#{v}", "#")])
    changes = store.changes(limit=100).changes
    assert len(changes) == 5 + 3 * 2
    assert [c.new["v"] for c in changes if c.pk == "T#0" and c.new] == [0, 1, 2, 3]
    assert sorted(c.pk for c in changes if c.kind == "remove") == ["T#1", "T#2", "T#3"]


def test_bad_position_is_refused(store: Store) -> None:
    with pytest.raises(ValidationError) as caught:
        store.changes("not a position!")
    assert caught.value.field == "position"
