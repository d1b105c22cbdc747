"""get, batch_get, put and delete, with every kind of value and condition, on every engine."""

from __future__ import annotations

import pytest

from carevault.errors import ConditionFailed, ValidationError
from carevault.store import Attr, Store

VALUES = {
    "s": "héllo wörld ✓",
    "empty": "",
    "n": -(2**63),
    "big": 2**63 - 1,
    "zero": 0,
    "t": True,
    "f": False,
    "nothing": None,
    "raw": b"\x00\xff\x10binary",
    "no_bytes": b"",
    "lst": [1, "two", b"3", None, [True, {"k": "v"}]],
    "mp": {"a": 1, "b": {"c": [b"x", "y"]}, "ü": "unicode key", "$b": "dollar key"},
}


def test_put_get_round_trips_every_value_type(store: Store) -> None:
    item = {"pk": "P#1", "sk": "#", **VALUES}
    store.put(item)
    got = store.get("P#1", "#")
    assert got == item
    assert type(got["t"]) is bool and type(got["n"]) is int and type(got["raw"]) is bytes  # type: ignore[index]


def test_get_missing_is_none_and_put_replaces_whole_item(store: Store) -> None:
    assert store.get("P#1", "#") is None
    store.put({"pk": "P#1", "sk": "#", "a": 1, "b": 2})
    store.put({"pk": "P#1", "sk": "#", "a": 3})
    assert store.get("P#1", "#") == {"pk": "P#1", "sk": "#", "a": 3}


def test_delete_removes_and_deleting_missing_is_quiet(store: Store) -> None:
    store.put({"pk": "P#1", "sk": "#"})
    store.delete("P#1", "#")
    assert store.get("P#1", "#") is None
    store.delete("P#1", "#")


def test_batch_get_returns_in_order_with_none_for_missing(store: Store) -> None:
    for i in range(130):
        store.put({"pk": f"B#{i}", "sk": "#", "i": i})
    keys = [(f"B#{i}", "#") for i in range(129, -1, -1)] + [("B#none", "#"), ("B#5", "#")]
    got = store.batch_get(keys)
    assert [g["i"] if g else None for g in got] == [*range(129, -1, -1), None, 5]


def test_put_if_not_exists_refuses_second_write(store: Store) -> None:
    absent = Attr("pk").not_exists()
    store.put({"pk": "U#1", "sk": "#", "v": 1}, condition=absent)
    with pytest.raises(ConditionFailed):
        store.put({"pk": "U#1", "sk": "#", "v": 2}, condition=absent)
    assert store.get("U#1", "#") == {"pk": "U#1", "sk": "#", "v": 1}


def test_version_equality_is_optimistic_locking(store: Store) -> None:
    store.put({"pk": "V#1", "sk": "#", "version": 1, "x": "a"})
    store.put({"pk": "V#1", "sk": "#", "version": 2, "x": "b"}, condition=Attr("version").eq(1))
    with pytest.raises(ConditionFailed):
        store.put({"pk": "V#1", "sk": "#", "version": 2, "x": "c"}, condition=Attr("version").eq(1))
    assert store.get("V#1", "#")["x"] == "b"  # type: ignore[index]


def test_conditional_delete(store: Store) -> None:
    store.put({"pk": "D#1", "sk": "#", "state": "draft"})
    with pytest.raises(ConditionFailed):
        store.delete("D#1", "#", condition=Attr("state").eq("signed"))
    assert store.get("D#1", "#") is not None
    store.delete("D#1", "#", condition=Attr("state").eq("draft"))
    assert store.get("D#1", "#") is None
    with pytest.raises(ConditionFailed):
        store.delete("D#1", "#", condition=Attr("pk").exists())


ITEM = {
    "pk": "C#1",
    "sk": "#",
    "n": 5,
    "s": "mid",
    "b": b"\x05",
    "t": True,
    "z": None,
    "l": ["x"],
    "m": {"k": 1},
}

CASES = [
    (Attr("n").exists(), True),
    (Attr("missing").exists(), False),
    (Attr("missing").not_exists(), True),
    (Attr("n").eq(5), True),
    (Attr("n").eq("5"), False),
    (Attr("t").eq(True), True),
    (Attr("t").eq(1), False),
    (Attr("z").eq(None), True),
    (Attr("l").eq(["x"]), True),
    (Attr("m").eq({"k": 1}), True),
    (Attr("n").ne(5), False),
    (Attr("n").ne("5"), True),
    (Attr("missing").ne(1), True),
    (Attr("missing").eq(1), False),
    (Attr("n").lt(6), True),
    (Attr("n").lt(5), False),
    (Attr("n").le(5), True),
    (Attr("n").gt(4), True),
    (Attr("n").ge(6), False),
    (Attr("n").lt("zzz"), False),
    (Attr("s").gt("M"), True),
    (Attr("s").lt("mie"), True),
    (Attr("b").gt(b"\x04"), True),
    (Attr("missing").lt(1), False),
    (Attr("n").between(5, 5), True),
    (Attr("n").between(6, 9), False),
    (Attr("s").between("a", "n"), True),
    (Attr("n").between("a", "z"), False),
    (Attr("s").begins_with("mi"), True),
    (Attr("s").begins_with("x"), False),
    (Attr("b").begins_with(b"\x05"), True),
    (Attr("s").begins_with(b"m"), False),
    (Attr("n").is_in(1, 5), True),
    (Attr("n").is_in("5", 6), False),
    (Attr("missing").is_in(1), False),
    (Attr("n").eq(5) & Attr("s").eq("mid"), True),
    (Attr("n").eq(5) & Attr("s").eq("no"), False),
    (Attr("n").eq(1) | Attr("s").eq("mid"), True),
    (~Attr("n").eq(5), False),
    (~Attr("missing").lt(1), True),
    (~(Attr("n").eq(1) | Attr("missing").exists()), True),
]


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_condition_semantics_match_on_every_engine(
    store: Store, condition: object, expected: bool
) -> None:
    store.put(ITEM)
    changed = {**ITEM, "written": 1}
    try:
        store.put(changed, condition=condition)  # type: ignore[arg-type]
        held = True
    except ConditionFailed:
        held = False
    assert held is expected
    assert store.get("C#1", "#") == (changed if expected else ITEM)


def test_condition_on_absent_item(store: Store) -> None:
    with pytest.raises(ConditionFailed):
        store.put({"pk": "A#1", "sk": "#"}, condition=Attr("n").eq(1))
    store.put({"pk": "A#1", "sk": "#"}, condition=Attr("n").ne(1))
    assert store.get("A#1", "#") is not None


@pytest.mark.parametrize(
    "item",
    [
        {"pk": "", "sk": "#"},
        {"pk": "P", "sk": 1},
        {"pk": "P"},
        {"pk": "P", "sk": "#", "x": 1.5},
        {"pk": "P", "sk": "#", "x": 2**63},
        {"pk": "P", "sk": "#", "x": "nul\x00"},
        {"pk": "P", "sk": "#", "x": "\ud800"},
        {"pk": "P", "sk": "#", "x": {"": "empty key"}},
        {"pk": "P", "sk": "#", "x": {1, 2}},
        {"pk": "P", "sk": "#", "bad name": 1},
        {"pk": "P", "sk": "#", "gsi1pk": "only half"},
        {"pk": "P", "sk": "#", "gsi2pk": "G", "gsi2sk": ""},
        {"pk": "P", "sk": "#", "version": -1},
        {"pk": "P", "sk": "#", "expires_at": "tomorrow"},
    ],
)
def test_invalid_items_are_refused_and_change_nothing(
    store: Store, item: dict[str, object]
) -> None:
    with pytest.raises(ValidationError) as caught:
        store.put(item)
    assert caught.value.field.startswith("item")
    assert store.changes().changes == []
