"""Queries on the table and on GSI1..GSI5: sort-key operators, order, limit, cursors, filters."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carevault.errors import InvalidCursor, ValidationError
from carevault.store import INDEXES, Attr, SortKey, Store

DAYS = [f"2026-03-{d:02d}" for d in range(1, 11)]


def _seed_days(store: Store, pk: str = "T#1#SCHED") -> None:
    for i, day in enumerate(DAYS):
        store.put({"pk": pk, "sk": f"{day}#A{i}", "n": i, "kind": "even" if i % 2 == 0 else "odd"})


def _sks(items: list[dict[str, object]]) -> list[object]:
    return [i["sk"] for i in items]


ALL_SK = [f"{d}#A{i}" for i, d in enumerate(DAYS)]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, ALL_SK),
        (SortKey.eq("2026-03-03#A2"), ALL_SK[2:3]),
        (SortKey.lt("2026-03-03"), ALL_SK[:2]),
        (SortKey.le("2026-03-03#A2"), ALL_SK[:3]),
        (SortKey.gt("2026-03-08"), ALL_SK[7:]),
        (SortKey.ge("2026-03-08#A7"), ALL_SK[7:]),
        (SortKey.between("2026-03-02#A1", "2026-03-04#A3"), ALL_SK[1:4]),
        (SortKey.begins_with("2026-03-1"), ALL_SK[9:]),
        (SortKey.begins_with("2026-03-0"), ALL_SK[:9]),
        (SortKey.begins_with("2027"), []),
    ],
    ids=["none", "eq", "lt", "le", "gt", "ge", "between", "prefix", "prefix-many", "prefix-none"],
)
def test_sort_key_operators_both_directions(
    store: Store, condition: object, expected: list[str]
) -> None:
    _seed_days(store)
    forward = store.query("T#1#SCHED", sk=condition)  # type: ignore[arg-type]
    backward = store.query("T#1#SCHED", sk=condition, forward=False)  # type: ignore[arg-type]
    assert _sks(forward.items) == expected
    assert _sks(backward.items) == expected[::-1]
    assert forward.cursor is None and backward.cursor is None


def test_query_other_partition_is_empty(store: Store) -> None:
    _seed_days(store)
    assert store.query("T#2#SCHED").items == []


def test_limit_returns_pages_with_cursor_until_exhausted(store: Store) -> None:
    _seed_days(store)
    first = store.query("T#1#SCHED", limit=4)
    assert _sks(first.items) == ALL_SK[:4] and first.cursor
    second = store.query("T#1#SCHED", limit=4, cursor=first.cursor)
    assert _sks(second.items) == ALL_SK[4:8] and second.cursor
    third = store.query("T#1#SCHED", limit=4, cursor=second.cursor)
    assert _sks(third.items) == ALL_SK[8:] and third.cursor is None
    exact = store.query("T#1#SCHED", limit=10)
    assert len(exact.items) == 10 and exact.cursor is None


@pytest.mark.parametrize("index", INDEXES)
def test_every_gsi_is_queryable_and_sparse(store: Store, index: str) -> None:
    for i in range(6):
        item = {"pk": f"E#{i}", "sk": "#", "n": i}
        if i % 2 == 0:
            item[f"{index}pk"] = "T#1#TYPE#X"
            item[f"{index}sk"] = f"2026-01-0{i}#E{i}"
        store.put(item)
    page = store.query("T#1#TYPE#X", index=index)  # type: ignore[arg-type]
    assert [i["n"] for i in page.items] == [0, 2, 4]
    back = store.query("T#1#TYPE#X", index=index, forward=False, sk=SortKey.gt("2026-01-01"))  # type: ignore[arg-type]
    assert [i["n"] for i in back.items] == [4, 2]
    store.put({"pk": "E#2", "sk": "#", "n": 2})  # leaves the index when its keys go
    assert [i["n"] for i in store.query("T#1#TYPE#X", index=index).items] == [0, 4]  # type: ignore[arg-type]


def test_gsi_pages_through_equal_sort_keys(store: Store) -> None:
    for i in range(7):
        store.put({"pk": f"S#{i}", "sk": "#", "gsi4pk": "STATUS#open", "gsi4sk": "same"})
    seen: list[str] = []
    cursor = None
    while True:
        page = store.query("STATUS#open", index="gsi4", limit=2, cursor=cursor)
        seen += [i["pk"] for i in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(seen) == [f"S#{i}" for i in range(7)] and len(seen) == 7


def test_filter_applies_after_key_condition_and_fills_pages(store: Store) -> None:
    _seed_days(store)
    page = store.query("T#1#SCHED", filter=Attr("kind").eq("odd"), limit=2)
    assert [i["n"] for i in page.items] == [1, 3] and page.cursor
    rest = store.query("T#1#SCHED", filter=Attr("kind").eq("odd"), limit=10, cursor=page.cursor)
    assert [i["n"] for i in rest.items] == [5, 7, 9] and rest.cursor is None
    combined = Attr("n").gt(2) & ~Attr("kind").eq("odd")
    assert [i["n"] for i in store.query("T#1#SCHED", filter=combined).items] == [4, 6, 8]


def test_filter_may_not_name_queried_keys(store: Store) -> None:
    with pytest.raises(ValidationError):
        store.query("T#1", filter=Attr("sk").eq("x"))
    with pytest.raises(ValidationError):
        store.query("T#1", index="gsi2", filter=Attr("gsi2sk").eq("x"))


def test_cursor_from_another_query_is_refused(store: Store) -> None:
    _seed_days(store)
    cursor = store.query("T#1#SCHED", limit=2).cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        store.query("T#2#SCHED", limit=2, cursor=cursor)
    with pytest.raises(InvalidCursor):
        store.query("T#1#SCHED", limit=2, cursor=cursor, forward=False)
    with pytest.raises(InvalidCursor):
        store.query("T#1#SCHED", cursor="not-a-cursor")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 1001}, "query.limit"),
        ({"index": "gsi9"}, "query.index"),
        ({"sk": "2026"}, "query.sk"),
        ({"filter": "n = 1"}, "query.filter"),
    ],
)
def test_bad_query_arguments_are_refused(
    store: Store, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        store.query("T#1", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


SK_ALPHABET = st.sampled_from([*list("#~09aZ_-:"), "é", "ß", "中", "😀", "\xa0", "\uffff", "ǅ"])
SORT_KEYS = st.lists(
    st.text(SK_ALPHABET, min_size=1, max_size=6), min_size=1, max_size=25, unique=True
)
counter = itertools.count()


@given(keys=SORT_KEYS, prefix=st.text(SK_ALPHABET, min_size=1, max_size=2))
def test_sort_keys_order_as_utf8_bytes(store: Store, keys: list[str], prefix: str) -> None:
    pk = f"ORDER#{next(counter)}"
    for k in keys:
        store.put({"pk": pk, "sk": k, "gsi5pk": pk, "gsi5sk": k})
    by_bytes = sorted(keys, key=lambda s: s.encode("utf-8"))
    assert _sks(list(store.query_all(pk))) == by_bytes
    assert _sks(list(store.query_all(pk, forward=False))) == by_bytes[::-1]
    assert [i["gsi5sk"] for i in store.query_all(pk, index="gsi5")] == by_bytes
    expected = [k for k in by_bytes if k.startswith(prefix)]
    assert _sks(list(store.query_all(pk, sk=SortKey.begins_with(prefix)))) == expected
    pivot = keys[0]
    below = [k for k in by_bytes if k.encode() < pivot.encode()]
    assert _sks(list(store.query_all(pk, sk=SortKey.lt(pivot)))) == below


@given(
    size=st.integers(min_value=0, max_value=30),
    page=st.integers(min_value=1, max_value=12),
    forward=st.booleans(),
    use_index=st.booleans(),
    odd_only=st.booleans(),
)
def test_paginating_returns_exactly_the_unpaginated_result(
    store: Store, size: int, page: int, forward: bool, use_index: bool, odd_only: bool
) -> None:
    pk = f"PAGE#{next(counter)}"
    for i in range(size):
        store.put({"pk": pk, "sk": f"{i:03d}", "gsi3pk": pk, "gsi3sk": f"{i % 4}", "odd": i % 2})
    index = "gsi3" if use_index else None
    flt = Attr("odd").eq(1) if odd_only else None
    whole = store.query(pk, index=index, forward=forward, limit=1000, filter=flt)
    assert whole.cursor is None
    collected, cursor, pages = [], None, 0
    while True:
        got = store.query(pk, index=index, forward=forward, limit=page, cursor=cursor, filter=flt)
        assert len(got.items) <= page
        collected += got.items
        pages += 1
        cursor = got.cursor
        if cursor is None:
            break
        assert len(got.items) == page
    assert collected == whole.items
    assert pages == max(1, -(-len(whole.items) // page))
