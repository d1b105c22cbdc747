"""What the keyring needs of the table its wrapped keys live in (a store satisfies it).

Key writes are conditional in only two ways: the item must be absent, or one stored field
must hold the value read earlier. ``Expect`` says which, so crypto/ names no store type.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

KeyItem = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Expect:
    """The condition a key write needs of the item it replaces."""

    field: str = "pk"
    absent: bool = True
    value: Any = None

    @classmethod
    def equals(cls, field: str, value: Any) -> Expect:
        """The stored item's ``field`` still holds ``value``."""
        return cls(field, False, value)


ABSENT = Expect()
"""No item is at the key yet."""


class KeyTable(Protocol):
    """Items by (pk, sk), read plainly and written conditionally."""

    def get(self, pk: str, sk: str) -> KeyItem | None: ...

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[KeyItem | None]: ...

    def query_all(self, pk: str, *, index: Literal["gsi1"] | None = None) -> Iterator[KeyItem]: ...

    def put_key(self, item: KeyItem, expect: Expect | None = None) -> None:
        """Write an item; ConditionFailed if ``expect`` does not hold."""
        ...

    def put_keys(self, writes: Sequence[tuple[KeyItem, Expect | None]]) -> None:
        """Write items all at once or none; ConflictError if an ``expect`` does not hold."""
        ...

    def delete(self, pk: str, sk: str) -> None: ...

    def close(self) -> None: ...
