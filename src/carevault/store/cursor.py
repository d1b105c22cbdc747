"""Opaque query cursors: the keys of the last item returned, bound to their query."""

from __future__ import annotations

import base64
import hashlib

import orjson

from carevault.errors import InvalidCursor
from carevault.store.types import Index, Item


def key_names(index: Index | None) -> tuple[str, ...]:
    """The attributes that place an item in a table or index order."""
    if index is None:
        return ("sk",)
    return (f"{index}sk", "pk", "sk")


def _binding(index: Index | None, pk: str, forward: bool) -> str:
    text = f"{index or ''}\x00{pk}\x00{'f' if forward else 'b'}"
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def encode_cursor(index: Index | None, pk: str, forward: bool, last: Item) -> str:
    """A cursor that resumes the query after ``last``."""
    payload = [_binding(index, pk, forward), *(last[n] for n in key_names(index))]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, index: Index | None, pk: str, forward: bool) -> tuple[str, ...]:
    """The key values a cursor resumes after; InvalidCursor if it is not this query's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = orjson.loads(raw)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidCursor("cursor", "is not a cursor carevault issued") from None
    names = key_names(index)
    if (
        type(payload) is not list
        or len(payload) != len(names) + 1
        or not all(type(v) is str and v for v in payload)
    ):
        raise InvalidCursor("cursor", "is not a cursor carevault issued")
    if payload[0] != _binding(index, pk, forward):
        raise InvalidCursor("cursor", "belongs to another query (index, key or direction)")
    return tuple(payload[1:])
