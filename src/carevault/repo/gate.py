"""The access gate a unit of work asks before it decrypts an item and masks after.

The repository knows only this protocol; ``carevault.access`` builds the gate of a
principal from the policy derived from the entity declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from carevault.domain.base import BASE_FIELDS, Entity, checked

E = TypeVar("E", bound=Entity)


@dataclass(frozen=True, slots=True)
class Sight:
    """What a reader may see of one item: the fields withheld (empty: everything)."""

    hidden: frozenset[str] = frozenset()

    def show(self, entity: Entity) -> Entity:
        """The entity as the reader may see it."""
        return entity.masked_for(self.hidden) if self.hidden else entity

    def built(self, cls: type[E], stored: dict[str, Any]) -> E | None:
        """The entity as the reader may see it, validated from its stored fields with the
        withheld ones emptied first (no copy afterwards); None if it has none withheld or
        one of them is not optional (``show`` then masks the validated entity)."""
        hidden = self.hidden & frozenset(cls.model_fields) - BASE_FIELDS
        if not hidden or not hidden <= _optional(cls):
            return None
        entity = checked(cls, {**stored, **dict.fromkeys(hidden)}, stored=True)
        return entity.as_masked(hidden)


_OPTIONAL: dict[type[Entity], frozenset[str]] = {}


def _optional(cls: type[Entity]) -> frozenset[str]:
    """Fields of ``cls`` that may be empty: not required, empty unless given."""
    found = _OPTIONAL.get(cls)
    if found is None:
        found = frozenset(
            name
            for name, f in cls.model_fields.items()
            if not f.is_required() and f.default is None and f.default_factory is None
        )
        _OPTIONAL[cls] = found
    return found


FULL = Sight()


class Gate(Protocol):
    """One principal's access to the items of its clinic."""

    def sight(self, entity: type[Entity], patient_id: str | None) -> Sight | None:
        """What the principal may see of an item of ``entity`` about ``patient_id``.

        None: nothing; a listing leaves the item out, a read by id is refused.
        """
        ...

    def refused(self, entity: type[Entity], patient_id: str | None) -> Exception:
        """The (audited) error a read by id of a withheld item raises."""
        ...

    def refuses_write(self, entity: type[Entity], patient_id: str | None) -> Exception | None:
        """None if the principal may write an item of ``entity`` about ``patient_id``; else
        the (audited) error the write raises before anything is staged."""
        ...

    def refuses(
        self, entity: type[Entity], action: str, patient_id: str | None = None
    ) -> Exception | None:
        """None if the principal may ``action`` ("read", "search") items of ``entity`` at
        all; else the (audited) error raised before anything is read."""
        ...
