"""Pure parts of the store: the JSON codec, cursors, prefix bounds, value rules and URLs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carevault.errors import ConfigurationError, InvalidCursor, ValidationError
from carevault.store import open_store, redact
from carevault.store.codec import decode, encode
from carevault.store.conditions import Attr, SortKey, successor
from carevault.store.cursor import decode_cursor, encode_cursor
from carevault.store.validate import check_item, value_size

text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
keys = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=8
)
scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | text | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), values, max_size=6))
def test_codec_round_trips_every_storable_value(attrs: dict[str, object]) -> None:
    item = {**attrs, "pk": "P", "sk": "#"}
    check_item(item)
    back = decode(encode(item))
    assert back == item
    assert encode(back) == encode(item)


@given(
    st.text(min_size=1, max_size=10).filter(
        lambda s: (
            "\x00" not in s
            and s.encode("utf-8", "surrogatepass")
            and all(not 0xD800 <= ord(c) <= 0xDFFF for c in s)
        )
    ),
    st.text(max_size=6).filter(lambda s: all(not 0xD800 <= ord(c) <= 0xDFFF for c in s)),
)
def test_successor_bounds_exactly_the_strings_with_the_prefix(prefix: str, tail: str) -> None:
    upper = successor(prefix)
    candidate = prefix + tail
    if upper is not None:
        assert candidate.encode() < upper.encode()
        assert prefix.encode() < upper.encode()


@given(
    st.lists(
        st.text(min_size=1, max_size=12).filter(
            lambda s: all(not 0xD800 <= ord(c) <= 0xDFFF for c in s) and "\x00" not in s
        ),
        min_size=3,
        max_size=3,
    ),
    st.booleans(),
)
def test_cursor_round_trips_and_binds_to_its_query(parts: list[str], forward: bool) -> None:
    last = {"gsi2sk": parts[0], "pk": parts[1], "sk": parts[2]}
    cursor = encode_cursor("gsi2", "T#1#PATIENT#9", forward, last)
    assert decode_cursor(cursor, "gsi2", "T#1#PATIENT#9", forward) == tuple(parts)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "gsi3", "T#1#PATIENT#9", forward)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor[:-3], "gsi2", "T#1#PATIENT#9", forward)


def test_item_size_counts_like_dynamodb() -> None:
    assert check_item({"pk": "ab", "sk": "c"}) == 2 + 2 + 2 + 1
    assert value_size("é", "f") == 2
    assert value_size([1, "ab"], "f") == 3 + (1 + 2) + (1 + 2)
    assert value_size({"k": True}, "f") == 3 + 1 + 1 + 1


@pytest.mark.parametrize(
    "build",
    [
        lambda: Attr("n").lt(True),
        lambda: Attr("n").between(1, "z"),
        lambda: Attr("n").between(9, 1),
        lambda: Attr("n").begins_with(1),
        lambda: Attr("n").is_in(),
        lambda: Attr("bad name"),
        lambda: SortKey.between("b", "a"),
        lambda: SortKey.begins_with(""),
        lambda: Attr("n").eq(1.5),
    ],
)
def test_conditions_refuse_operands_some_engine_would_reject(build: object) -> None:
    with pytest.raises(ValidationError):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "url",
    [
        "nothing",
        "mysql://x",
        "sqlite://",
        "sqlite:///x.db?synchronous=sometimes",
        "sqlite:///x.db?colour=blue",
        "dynamodb://ab",
        "dynamodb://table?endpoint=ftp://x",
        "dynamodb://table?timeout=-1",
        "postgresql://u@127.0.0.1/db?schema=Bad-Schema",
    ],
)
def test_bad_store_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_store(url)
    assert str(caught.value).startswith("store URL:")


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://u:secret@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert redact("sqlite:///a.db") == "sqlite:///a.db"


def test_sqlite_reads_many_keys_by_primary_key_not_by_scan(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/plan.db")
    store.create_table()
    sql = store._keys_sql(3)  # type: ignore[attr-defined]
    with sqlite3.connect(tmp_path / "plan.db") as conn:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", ["a", "#"] * 3).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING PRIMARY KEY" in details and "SCAN items" not in details, details
