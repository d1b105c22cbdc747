"""The values the item store takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from carevault.store.conditions import Condition, KeyCondition

Item = dict[str, Any]
"""An item: attribute name -> None, bool, int (64-bit), str, bytes, list or dict of these."""

Key = tuple[str, str]
"""A primary key: (pk, sk)."""

Index = Literal["gsi1", "gsi2", "gsi3", "gsi4", "gsi5"]
INDEXES: tuple[Index, ...] = ("gsi1", "gsi2", "gsi3", "gsi4", "gsi5")


@dataclass(frozen=True, slots=True)
class Put:
    """Write a whole item, replacing any item with the same key."""

    item: Item
    condition: Condition | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove the item with this key, if there is one."""

    pk: str
    sk: str
    condition: Condition | None = None


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """Require a condition on an item without writing it."""

    pk: str
    sk: str
    condition: Condition


Action = Put | Delete | ConditionCheck


@dataclass(slots=True)
class Query:
    """A validated query, as the engines receive it."""

    pk: str
    index: Index | None
    sk: KeyCondition | None
    forward: bool
    limit: int
    after: tuple[str, ...] | None
    filter: Condition | None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a query; ``cursor`` is None when no matching item is left."""

    items: list[Item]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """One committed write: the item before (``old``) and after (``new``) it."""

    pk: str
    sk: str
    old: Item | None
    new: Item | None
    at: float

    @property
    def kind(self) -> Literal["insert", "modify", "remove"]:
        """What the write did to the item."""
        if self.old is None:
            return "insert"
        return "remove" if self.new is None else "modify"


@dataclass(frozen=True, slots=True)
class ChangePage:
    """Changes read from the feed, and the position to read on from."""

    changes: list[Change]
    position: str
