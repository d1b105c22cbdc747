"""Normalizers: the canonical form of a value before it is turned into a beacon.

Two spellings a person would call the same must normalize alike, or an encrypted search
misses; each returns None when nothing searchable is left.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from functools import partial

import jellyfish
import phonenumbers
from anyascii import anyascii

Normalizer = Callable[[str], str | None]
_NOT_LETTERS = re.compile(r"[^a-z]+")
_ID_NOISE = re.compile(r"[\s\-./_]+")


def email(value: str) -> str | None:
    """NFKC, trimmed, lower case."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    return text or None


def phone(value: str, region: str = "US") -> str | None:
    """E.164 (``+14155550132``) via phonenumbers; digits alone if it does not parse."""
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        parsed = phonenumbers.parse(text, region)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    digits = "".join(c for c in text if c.isdigit())
    return digits or None


def phone_in(region: str) -> Normalizer:
    """A phone normalizer for numbers written without a country code in ``region``."""
    return partial(phone, region=region)


def name(value: str) -> str | None:
    """Transliterated to ASCII, case and accents folded, letters only (O'Brien = obrien)."""
    folded = anyascii(unicodedata.normalize("NFKC", value)).casefold()
    letters = _NOT_LETTERS.sub("", folded)
    return letters or None


def prefix(length: int) -> Normalizer:
    """The first ``length`` letters of a folded name (for "starts with" searches)."""

    def first(value: str) -> str | None:
        folded = name(value)
        return folded[:length] if folded and len(folded) >= length else None

    return first


def sounds_like(value: str) -> str | None:
    """The Metaphone code of the folded name (Smith, Smyth -> SM0)."""
    folded = name(value)
    return jellyfish.metaphone(folded) or None if folded else None


def iso_date(value: str | date) -> str | None:
    """A calendar date as YYYY-MM-DD, from a date, a datetime or an ISO string."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def name_birth(value: str) -> str | None:
    """``last|first|YYYY-MM-DD`` as one token: the names folded (as ``name``), the date's
    digits (Baptiste|Théo|1971-09-23 = baptistetheo19710923)."""
    last, _, rest = value.partition("|")
    first, _, born = rest.partition("|")
    names, digits = (name(last) or "") + (name(first) or ""), born.replace("-", "")
    return f"{names}{digits}" if names and len(digits) == 8 and digits.isdigit() else None


def identifier(value: str) -> str | None:
    """Upper case without spaces, dashes, dots or slashes (MRN-00 12 = MRN0012)."""
    text = _ID_NOISE.sub("", unicodedata.normalize("NFKC", value)).upper()
    return text or None
