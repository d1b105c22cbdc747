"""Record ids: ULIDs, random and time-sortable, so keys sort by creation time as strings."""

from __future__ import annotations

import re
from datetime import datetime

from ulid import ULID

from carevault.errors import ValidationError


def new_id() -> str:
    """A new id: 26 Crockford base32 characters, sorting by creation time."""
    return str(ULID())


CANONICAL = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.ASCII)
"""An id as carevault writes it: a ULID in upper-case Crockford base32 (no I, L, O, U)."""


def check_id(value: object, field: str = "id") -> str:
    """``value`` if it is an id carevault issued; ValidationError naming ``field`` if not."""
    if type(value) is not str or len(value) != 26:
        raise ValidationError(field, "must be a 26-character ULID")
    if CANONICAL.fullmatch(value):  # the form every id is written in: no decoding needed
        return value
    try:
        return str(ULID.from_str(value))
    except ValueError:
        raise ValidationError(field, "must be a 26-character ULID") from None


def well_formed_id(value: object) -> str | None:
    """``value`` as an id if it is one carevault could have issued, else None."""
    try:
        return check_id(value)
    except ValidationError:
        return None


def id_time(value: str) -> datetime:
    """When an id was made (UTC, millisecond precision)."""
    return ULID.from_str(check_id(value)).datetime


def is_id(value: object) -> bool:
    """Whether ``value`` is exactly an id carevault could have issued."""
    return well_formed_id(value) == value
