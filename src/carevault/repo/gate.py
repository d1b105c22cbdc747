"""The access gate a unit of work asks before it decrypts an item and masks after.

The repository knows only this protocol; ``carevault.access`` builds the gate of a
principal from the policy derived from the entity declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from carevault.domain.base import Entity


@dataclass(frozen=True, slots=True)
class Sight:
    """What a reader may see of one item: the fields withheld (empty: everything)."""

    hidden: frozenset[str] = frozenset()

    def show(self, entity: Entity) -> Entity:
        """The entity as the reader may see it."""
        return entity.masked_for(self.hidden) if self.hidden else entity


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
