"""Items as JSON for the SQL engines: bytes travel as ``{"$b": base64}``.

Map keys may not start with ``$`` (validate.py), so the tag cannot be confused with data.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from carevault.store.types import Item

_TAG = b'"$b"'


def _default(value: Any) -> Any:
    if type(value) is bytes:
        return {"$b": base64.b64encode(value).decode("ascii")}
    raise TypeError(type(value).__name__)


def encode(item: Item) -> bytes:
    """An item as compact JSON bytes."""
    return orjson.dumps(item, default=_default)


def _untag(value: Any) -> Any:
    if type(value) is dict:
        if len(value) == 1 and "$b" in value:
            return base64.b64decode(value["$b"])
        return {k: _untag(v) for k, v in value.items()}
    if type(value) is list:
        return [_untag(v) for v in value]
    return value


def decode(raw: bytes | bytearray | memoryview | str) -> Item:
    """An item from JSON produced by ``encode`` (or by PostgreSQL's jsonb output)."""
    if isinstance(raw, memoryview):
        raw = bytes(raw)
    item: Item = orjson.loads(raw)
    needle: Any = _TAG if not isinstance(raw, str) else _TAG.decode()
    if needle in raw:
        return {k: _untag(v) for k, v in item.items()}
    return item
