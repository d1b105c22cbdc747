"""The item store seam: one public API, validated once here, and three engines behind it.

An engine implements the underscored hooks. Everything a caller passes is checked in this
module before an engine sees it, so every engine accepts and refuses exactly the same
input, and every engine hook runs inside ``_Translate``, which maps driver errors
into carevault's (``errors.py``).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import ClassVar

from carevault.crypto.keytable import Expect
from carevault.errors import CarevaultError, TransactionTooLarge, ValidationError
from carevault.store.conditions import Attr, Condition, KeyCondition
from carevault.store.cursor import decode_cursor, encode_cursor
from carevault.store.types import (
    INDEXES,
    Action,
    ChangePage,
    ConditionCheck,
    Delete,
    Index,
    Item,
    Key,
    Page,
    Put,
    Query,
)
from carevault.store.validate import MAX_PK_BYTES, MAX_SK_BYTES, check_item, key_string

MAX_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
MAX_PAGE = 1000


def visible(item: Item, now: int) -> bool:
    """Whether an item is alive: no ``expires_at``, or one still in the future."""
    expires = item.get("expires_at")
    return expires is None or expires > now


def _key(pk: object, sk: object, field: str) -> Key:
    return (
        key_string(pk, f"{field}.pk", MAX_PK_BYTES),
        key_string(sk, f"{field}.sk", MAX_SK_BYTES),
    )


def _condition(condition: object, field: str) -> None:
    if condition is not None and not isinstance(condition, Condition):
        raise ValidationError(field, "must be a Condition (build one with Attr)")


def check_actions(actions: Sequence[Action]) -> list[Action]:
    """Validate a transaction: 1-100 actions, 4 MB, one action per key."""
    actions = list(actions)
    if not actions:
        raise ValidationError("actions", "a transaction needs at least one action")
    if len(actions) > MAX_ACTIONS:
        raise TransactionTooLarge("actions", f"at most {MAX_ACTIONS} actions per transaction")
    total, seen = 0, set()
    for i, action in enumerate(actions):
        field = f"actions[{i}]"
        if isinstance(action, Put):
            total += check_item(action.item, f"{field}.item")
            key = (action.item["pk"], action.item["sk"])
        elif isinstance(action, Delete | ConditionCheck):
            key = _key(action.pk, action.sk, field)
            total += len(key[0].encode()) + len(key[1].encode())
            if isinstance(action, ConditionCheck) and action.condition is None:
                raise ValidationError(f"{field}.condition", "a condition check needs a condition")
        else:
            raise ValidationError(field, "must be Put, Delete or ConditionCheck")
        _condition(action.condition, f"{field}.condition")
        if key in seen:
            raise ValidationError(field, "one action per key per transaction")
        seen.add(key)
    if total > MAX_TRANSACTION_BYTES:
        raise TransactionTooLarge(
            "actions", f"at most {MAX_TRANSACTION_BYTES} bytes per transaction"
        )
    return actions


class _Translate:
    """Turns an engine's driver errors into carevault's as they leave a store call."""

    __slots__ = ("store",)

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, Exception) and not isinstance(exc, CarevaultError):
            mapped = self.store._translate(exc)
            if mapped is not None:
                raise mapped from exc


class Store(ABC):
    """An item store. Open one with ``carevault.store.open_store(url)``."""

    engine: ClassVar[str]
    url: str | None = None  # the URL it was opened from (another process can open it again)

    # -- reads ---------------------------------------------------------------------

    def get(self, pk: str, sk: str) -> Item | None:
        """The item with this key, or None (expired items are never returned)."""
        key = _key(pk, sk, "key")
        with _Translate(self):
            item = self._get(key)
        return item if item is not None and visible(item, int(time.time())) else None

    def batch_get(self, keys: Sequence[Key]) -> list[Item | None]:
        """Items for many keys, in the order asked, None where absent or expired."""
        wanted = [_key(pk, sk, f"keys[{i}]") for i, (pk, sk) in enumerate(keys)]
        with _Translate(self):
            found = self._batch_get(list(dict.fromkeys(wanted)))
        now = int(time.time())
        out: list[Item | None] = []
        for key in wanted:
            item = found.get(key)
            out.append(item if item is not None and visible(item, now) else None)
        return out

    def query(
        self,
        pk: str,
        *,
        index: Index | None = None,
        sk: KeyCondition | None = None,
        forward: bool = True,
        limit: int = 100,
        cursor: str | None = None,
        filter: Condition | None = None,
    ) -> Page:
        """Items with partition key ``pk`` on the table or a GSI, in sort-key byte order."""
        key_string(pk, "query.pk", MAX_PK_BYTES)
        if index is not None and index not in INDEXES:
            raise ValidationError("query.index", "must be one of gsi1..gsi5 or None")
        if sk is not None and not isinstance(sk, KeyCondition):
            raise ValidationError("query.sk", "must be a KeyCondition (build one with SortKey)")
        if type(limit) is not int or not 1 <= limit <= MAX_PAGE:
            raise ValidationError("query.limit", f"must be an integer from 1 to {MAX_PAGE}")
        _condition(filter, "query.filter")
        if filter is not None:
            keys = {"pk", "sk"} if index is None else {f"{index}pk", f"{index}sk"}
            if filter.names() & keys:
                raise ValidationError("query.filter", "cannot name the queried key attributes")
        after = None if cursor is None else decode_cursor(cursor, index, pk, forward)
        q = Query(pk, index, sk, bool(forward), limit, after, filter)
        with _Translate(self):
            items, more = self._query(q, int(time.time()))
        next_cursor = encode_cursor(index, pk, q.forward, items[-1]) if more and items else None
        return Page(items, next_cursor)

    def query_all(
        self,
        pk: str,
        *,
        index: Index | None = None,
        sk: KeyCondition | None = None,
        forward: bool = True,
        filter: Condition | None = None,
        page_size: int = 100,
    ) -> Iterator[Item]:
        """Every matching item, fetching page after page."""
        cursor = None
        while True:
            page = self.query(
                pk,
                index=index,
                sk=sk,
                forward=forward,
                limit=page_size,
                cursor=cursor,
                filter=filter,
            )
            yield from page.items
            if page.cursor is None:
                return
            cursor = page.cursor

    # -- writes --------------------------------------------------------------------

    def put(self, item: Item, *, condition: Condition | None = None) -> None:
        """Write a whole item; ConditionFailed if ``condition`` is false of the current one."""
        check_item(item)
        _condition(condition, "condition")
        with _Translate(self):
            self._write([Put(item, condition)], int(time.time()), single=True)

    def put_key(self, item: Item, expect: Expect | None = None) -> None:
        """A key table's write (``carevault.crypto.keytable``): ``put`` with its condition."""
        self.put(item, condition=_expected(expect))

    def put_keys(self, writes: Sequence[tuple[Item, Expect | None]]) -> None:
        """A key table's atomic writes: one transaction of conditional puts."""
        self.transact_write([Put(item, _expected(e)) for item, e in writes])

    def delete(self, pk: str, sk: str, *, condition: Condition | None = None) -> None:
        """Remove an item; ConditionFailed if ``condition`` is false of it."""
        key = _key(pk, sk, "key")
        _condition(condition, "condition")
        with _Translate(self):
            self._write([Delete(*key, condition)], int(time.time()), single=True)

    def transact_write(self, actions: Sequence[Action]) -> None:
        """Apply all actions or none; TransactionCanceled names each failed action."""
        checked = check_actions(actions)
        with _Translate(self):
            self._write(checked, int(time.time()), single=False)

    # -- change feed, expiry, lifecycle ----------------------------------------------

    def changes(self, position: str | None = None, *, limit: int = 100) -> ChangePage:
        """Committed writes after ``position`` (None: from the start), oldest first."""
        if position is not None and (type(position) is not str or not position):
            raise ValidationError("position", "must be a position from an earlier ChangePage")
        if type(limit) is not int or not 1 <= limit <= MAX_PAGE:
            raise ValidationError("limit", f"must be an integer from 1 to {MAX_PAGE}")
        with _Translate(self):
            return self._changes(position, limit)

    def purge_expired(self) -> int:
        """Remove expired items now, returning how many (DynamoDB: its TTL does it; 0)."""
        with _Translate(self):
            return self._purge(int(time.time()))

    def create_table(self) -> None:
        """Create the store's tables and indexes if they do not exist yet."""
        with _Translate(self):
            self._create_table()

    def drop_table(self) -> None:
        """Delete the store's tables and everything in them."""
        with _Translate(self):
            self._drop_table()

    def close(self) -> None:
        """Release connections (and stop what was started for this store)."""
        for callback in self.__dict__.pop("_on_close", []):
            callback()
        with _Translate(self):
            self._close()

    def scoped(self, tenant: str) -> Store:
        """This store as one tenant's repository uses it.

        On an engine with row-level security (PostgreSQL) every statement of the returned
        view may touch only rows of ``tenant`` and platform-level rows: a key built for
        another tenant names nothing, whatever the code above asks. Others return ``self``.
        """
        return self

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the store is closed."""
        self.__dict__.setdefault("_on_close", []).append(callback)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- engine hooks ----------------------------------------------------------------

    @abstractmethod
    def _translate(self, exc: Exception) -> CarevaultError | None:
        """This engine's driver error as a carevault error; None if it is not one."""

    @abstractmethod
    def _get(self, key: Key) -> Item | None:
        """The stored item, expired or not."""

    @abstractmethod
    def _batch_get(self, keys: list[Key]) -> dict[Key, Item]:
        """Stored items for distinct keys, expired or not."""

    @abstractmethod
    def _query(self, q: Query, now: int) -> tuple[list[Item], bool]:
        """Up to ``q.limit`` visible, filtered items, and whether more match."""

    @abstractmethod
    def _write(self, actions: list[Action], now: int, single: bool) -> None:
        """Apply validated actions atomically; expired items count as absent for conditions."""

    @abstractmethod
    def _changes(self, position: str | None, limit: int) -> ChangePage:
        """Read the change feed."""

    @abstractmethod
    def _purge(self, now: int) -> int:
        """Delete expired items."""

    @abstractmethod
    def _create_table(self) -> None: ...

    @abstractmethod
    def _drop_table(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...


def _expected(expect: Expect | None) -> Condition | None:
    """The store condition a key table's ``Expect`` stands for."""
    if expect is None:
        return None
    if expect.absent:
        return Attr(expect.field).not_exists()
    return Attr(expect.field).eq(expect.value)
