"""A store that counts the operations it passes on: tests prove access patterns with it.

It is a real Store over a real engine (httpx's MockTransport is the model: a test double
that implements the same protocol), so what it counts is what the engine was asked.
"""

from __future__ import annotations

from collections import Counter

from carevault.errors import CarevaultError
from carevault.store.base import Store
from carevault.store.types import Action, ChangePage, Item, Key, Query


class CountingStore(Store):
    """Passes every call to ``inner`` and counts them by operation in ``calls``."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.engine = inner.engine  # type: ignore[misc]
        self.calls: Counter[str] = Counter()

    def reset(self) -> None:
        """Forget the counts so far."""
        self.calls.clear()

    @property
    def reads(self) -> int:
        """Read requests: gets, batch gets and query pages."""
        return self.calls["get"] + self.calls["batch_get"] + self.calls["query"]

    def _translate(self, exc: Exception) -> CarevaultError | None:
        return self.inner._translate(exc)

    def _get(self, key: Key) -> Item | None:
        self.calls["get"] += 1
        return self.inner._get(key)

    def _batch_get(self, keys: list[Key]) -> dict[Key, Item]:
        self.calls["batch_get"] += 1
        return self.inner._batch_get(keys)

    def _query(self, q: Query, now: int) -> tuple[list[Item], bool]:
        self.calls["query"] += 1
        return self.inner._query(q, now)

    def _write(self, actions: list[Action], now: int, single: bool) -> None:
        self.calls["write" if single else "transact_write"] += 1
        self.inner._write(actions, now, single)

    def _changes(self, position: str | None, limit: int) -> ChangePage:
        self.calls["changes"] += 1
        return self.inner._changes(position, limit)

    def _purge(self, now: int) -> int:
        self.calls["purge"] += 1
        return self.inner._purge(now)

    def _create_table(self) -> None:
        self.inner._create_table()

    def _drop_table(self) -> None:
        self.inner._drop_table()

    def _close(self) -> None:
        self.inner._close()
