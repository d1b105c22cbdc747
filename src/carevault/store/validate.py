"""Item rules and limits, enforced before any engine sees a write (DynamoDB's numbers)."""

from __future__ import annotations

import re
from typing import Any

from carevault.errors import ItemTooLarge, ValidationError

MAX_ITEM_BYTES = 400 * 1024
MAX_PK_BYTES = 2048
MAX_SK_BYTES = 1024
MAX_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
KEY_PAIRS = (("pk", "sk"), *((f"gsi{n}pk", f"gsi{n}sk") for n in range(1, 6)))
KEY_COLUMNS = tuple(name for pair in KEY_PAIRS for name in pair)
_NAMES_SEEN: set[str] = set()  # attribute names already found valid


def string_size(value: str, field: str) -> int:
    """UTF-8 size of a string that every engine can store (no NUL, no lone surrogate)."""
    if value.isascii():
        if "\x00" in value:
            raise ValidationError(field, "must not contain NUL (U+0000)")
        return len(value)
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError(field, "must be valid Unicode (no lone surrogates)") from None
    if "\x00" in value:
        raise ValidationError(field, "must not contain NUL (U+0000)")
    return size


def key_string(value: object, field: str, max_bytes: int) -> str:
    """Check a key attribute: a non-empty string within the engine's key size."""
    if type(value) is not str or not value:
        raise ValidationError(field, "must be a non-empty string")
    if string_size(value, field) > max_bytes:
        raise ValidationError(field, f"must be at most {max_bytes} bytes in UTF-8")
    return value


def value_size(value: Any, field: str, depth: int = 0) -> int:
    """DynamoDB's size of one attribute value, checking that every engine can store it."""
    kind = type(value)
    if kind is str:
        return string_size(value, field)
    if kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise ValidationError(field, "integer must fit in 64 bits")
        return (len(str(abs(value))) + 1) // 2 + 1
    if kind is bool or value is None:
        return 1
    if kind is bytes:
        return len(value)
    if depth >= MAX_DEPTH:
        raise ValidationError(field, f"must nest at most {MAX_DEPTH} levels")
    if kind is list:
        return 3 + sum(1 + value_size(v, f"{field}[{i}]", depth + 1) for i, v in enumerate(value))
    if kind is dict:
        size = 3
        for k, v in value.items():
            if type(k) is not str or not k:
                raise ValidationError(field, "map keys must be non-empty strings")
            size += 1 + string_size(k, f"{field} key") + value_size(v, f"{field}.{k}", depth + 1)
        return size
    if kind is float:
        raise ValidationError(
            field, "floats are not stored exactly by every engine; use int or str"
        )
    raise ValidationError(field, f"type {kind.__name__} is not storable")


def check_item(item: object, field: str = "item") -> int:
    """Validate a whole item and return its size in bytes."""
    if type(item) is not dict:
        raise ValidationError(field, "must be a dict of attributes")
    key_string(item.get("pk"), f"{field}.pk", MAX_PK_BYTES)
    key_string(item.get("sk"), f"{field}.sk", MAX_SK_BYTES)
    for pk_name, sk_name in KEY_PAIRS[1:]:
        has_pk, has_sk = pk_name in item, sk_name in item
        if has_pk != has_sk:
            raise ValidationError(f"{field}.{pk_name}", f"{pk_name} and {sk_name} go together")
        if has_pk:
            key_string(item[pk_name], f"{field}.{pk_name}", MAX_PK_BYTES)
            key_string(item[sk_name], f"{field}.{sk_name}", MAX_SK_BYTES)
    for name in ("version", "expires_at"):
        if name in item:
            number = item[name]
            if type(number) is not int or number < 0:
                raise ValidationError(f"{field}.{name}", "must be a non-negative integer")
    size = 0
    for name, value in item.items():
        if name not in _NAMES_SEEN:
            check_name(name, field)
            if len(_NAMES_SEEN) < 10_000:
                _NAMES_SEEN.add(name)
        size += len(name) + value_size(value, f"{field}.{name}")
    if size > MAX_ITEM_BYTES:
        raise ItemTooLarge(field, f"item is {size} bytes; the limit is {MAX_ITEM_BYTES}")
    return size


def check_name(name: object, field: str) -> str:
    """Check a top-level attribute name used in a condition or filter."""
    if type(name) is not str or not NAME_RE.fullmatch(name):
        raise ValidationError(field, "attribute names must match [A-Za-z_][A-Za-z0-9_]{0,63}")
    return name
