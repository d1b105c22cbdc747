"""Items as MessagePack for the SQL engines: every storable type round-trips exactly.

MessagePack keeps bytes, booleans and 64-bit integers apart natively, so encrypted fields
(bytes) need no tagging and a read needs no second pass over the item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from carevault.store.types import Item

_pack = msgpack.Packer(use_bin_type=True).pack


def encode(item: Item) -> bytes:
    """An item as compact MessagePack bytes."""
    packed: bytes = _pack(item)
    return packed


decode: Callable[[Any], Item] = msgpack.unpackb
"""An item from bytes produced by ``encode`` (msgpack >= 1.0 decodes str as str)."""
