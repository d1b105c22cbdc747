"""How an entity's declaration becomes a sealed record type (beacon indexes, key slots)."""

from __future__ import annotations

import re
from functools import cache

from carevault.crypto.beacons import BeaconIndex
from carevault.crypto.normalize import (
    Normalizer,
    email,
    identifier,
    name,
    name_birth,
    phone_in,
    prefix,
)
from carevault.crypto.normalize import sounds_like as sounds
from carevault.domain import ENTITIES, Entity, Search
from carevault.repo.records import SELF, Lookup, RecordType, Slot, Unique


def normalizer(kind: str, phone_region: str) -> Normalizer:
    """The normalizer a search declares by name."""
    table: dict[str, Normalizer] = {
        "email": email,
        "phone": phone_in(phone_region),
        "name": name,
        "prefix3": prefix(3),
        "sounds_like": sounds,
        "identifier": identifier,
        "name_birth": name_birth,
    }
    return table[kind]


def _index(search: Search, phone_region: str) -> BeaconIndex:
    return BeaconIndex(search.index, normalizer(search.normalizer, phone_region), search.bits)


@cache
def record_type(entity: type[Entity], phone_region: str = "US") -> RecordType:
    """The sealed-record type an entity class declares."""
    subject = entity.SUBJECT
    return RecordType(
        entity.TYPE,
        phi=entity.PHI,
        lookups=tuple(Lookup(_index(s, phone_region), s.field) for s in entity.LOOKUPS),
        subject=SELF if subject == SELF else subject,
        slots=tuple(Slot(k.index, k.pk, k.sk) for k in entity.KEYS),
        uniques=tuple(
            Unique(_index(s, phone_region), s.field, s.across_tenants) for s in entity.UNIQUE
        ),
        when=entity.WHEN,
    )


def record_types(phone_region: str = "US") -> tuple[RecordType, ...]:
    """Record types of every entity (index rotation and shredding sweep these)."""
    return tuple(record_type(e, phone_region) for e in ENTITIES)


BY_TYPE: dict[str, type[Entity]] = {e.TYPE: e for e in ENTITIES}


def _shapes(entity: type[Entity]) -> set[tuple[str, str]]:
    """(index, partition shape) of each key template, fields blanked: PROVIDER#{}."""
    return {
        (k.index, re.sub(r"\{[^}]*\}", "{}", k.pk.replace("{TYPE}", entity.TYPE)))
        for k in entity.KEYS
    }


_SHAPES = [_shapes(e) for e in ENTITIES]
SHARED = frozenset(
    shape
    for i, mine in enumerate(_SHAPES)
    for shape in mine
    if any(shape in other for j, other in enumerate(_SHAPES) if j != i)
)
"""GSI partitions that hold more than one entity type (a provider's appointments and
treatment sessions): queries of these must filter by type; all others need not."""


@cache
def shares_partitions(entity: type[Entity], index: str) -> bool:
    """Whether ``entity``'s partitions on ``index`` may hold other types too."""
    return any(shape in SHARED for shape in _shapes(entity) if shape[0] == index)
