"""What the SQLite and PostgreSQL engines share: the layout, the statements, the write path.

Layout: one ``items`` table keyed by (pk, sk) whose ``data`` column holds the whole item,
key columns beside it for the indexes, a partial index per GSI and one on ``expires_at``;
and a ``changes`` table written in the same transaction as every write.

A write locks its keys (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: advisory locks taken in
key order), reads the current items, evaluates every condition against them (an expired
item counts as absent), and only then writes, so a racing writer waits and then sees the
winner's item. Changes get their sequence numbers under a feed lock held until commit,
so a reader of the feed never sees a later number commit before an earlier one.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from carevault.errors import CancelReason, ConditionFailed, TransactionCanceled, ValidationError
from carevault.store.base import Store, visible
from carevault.store.conditions import KeyCondition, same, successor
from carevault.store.types import (
    Action,
    Change,
    ChangePage,
    Delete,
    Item,
    Key,
    Put,
    Query,
)
from carevault.store.validate import KEY_COLUMNS

CHUNK = 200
PURGE_BATCH = 100
_DIGITS = re.compile(r"[0-9]{1,19}")


class Cursor(Protocol):
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Connection(Protocol):
    def execute(self, sql: Any, params: Sequence[Any] = ...) -> Cursor: ...


def _key_of(action: Action) -> Key:
    if isinstance(action, Put):
        return (action.item["pk"], action.item["sk"])
    return (action.pk, action.sk)


class SqlStore(Store):
    """A Store over one SQL database; subclasses supply connections, locks and dialect."""

    P: str  # the driver's placeholder
    DATA: str  # the placeholder for the JSON payload, with any cast it needs
    items: str  # qualified table names
    changes_table: str

    @abstractmethod
    def _read(self) -> AbstractContextManager[Connection]:
        """A connection for a read outside any transaction."""

    @abstractmethod
    def _transaction(self, keys: Sequence[Key]) -> AbstractContextManager[Connection]:
        """A write transaction holding the locks of ``keys``; commits when the block ends."""

    @abstractmethod
    def _lock_feed(self, conn: Connection) -> None:
        """Hold the change-feed lock until commit."""

    @abstractmethod
    def _many(self, conn: Connection, sql: str, rows: list[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""

    @abstractmethod
    def _dump(self, item: Item) -> Any:
        """The payload parameter for an item."""

    @abstractmethod
    def _load(self, raw: Any) -> Item:
        """An item from the payload column."""

    # -- reads ---------------------------------------------------------------------

    def _get(self, key: Key) -> Item | None:
        p = self.P
        with self._read() as conn:
            row = conn.execute(
                f"SELECT data FROM {self.items} WHERE pk = {p} AND sk = {p}", key
            ).fetchone()
        return None if row is None else self._load(row[0])

    def _fetch(self, conn: Connection, keys: Sequence[Key]) -> dict[Key, Item]:
        found: dict[Key, Item] = {}
        for start in range(0, len(keys), 100):
            chunk = keys[start : start + 100]
            pairs = ", ".join(f"({self.P}, {self.P})" for _ in chunk)
            params = [part for key in chunk for part in key]
            rows = conn.execute(
                f"SELECT data FROM {self.items} WHERE (pk, sk) IN (VALUES {pairs})", params
            ).fetchall()
            for (raw,) in rows:
                item = self._load(raw)
                found[(item["pk"], item["sk"])] = item
        return found

    def _batch_get(self, keys: list[Key]) -> dict[Key, Item]:
        with self._read() as conn:
            return self._fetch(conn, keys)

    def _query(self, q: Query, now: int) -> tuple[list[Item], bool]:
        want = q.limit + 1
        size = want if q.filter is None else max(want, CHUNK)
        order = ("sk",) if q.index is None else (f"{q.index}sk", "pk", "sk")
        out: list[Item] = []
        after = q.after
        with self._read() as conn:
            while True:
                sql, params = self._select(q, now, after, size)
                rows = conn.execute(sql, params).fetchall()
                for (raw,) in rows:
                    item = self._load(raw)
                    if q.filter is None or q.filter.holds(item):
                        out.append(item)
                if len(out) >= want or len(rows) < size:
                    break
                last = self._load(rows[-1][0])
                after = tuple(last[name] for name in order)
        return out[: q.limit], len(out) > q.limit

    def _select(
        self, q: Query, now: int, after: tuple[str, ...] | None, size: int
    ) -> tuple[str, list[Any]]:
        p = self.P
        pk_col, sk_col = ("pk", "sk") if q.index is None else (f"{q.index}pk", f"{q.index}sk")
        order = (sk_col,) if q.index is None else (sk_col, "pk", "sk")
        where: list[str] = [f"{pk_col} = {p}"]
        params: list[Any] = [q.pk]
        if q.sk is not None:
            clause, values = _sort_clause(sk_col, q.sk, p)
            where.append(clause)
            params.extend(values)
        if after is not None:
            columns = ", ".join(order)
            marks = ", ".join(p for _ in order)
            where.append(f"({columns}) {'>' if q.forward else '<'} ({marks})")
            params.extend(after)
        where.append(f"(expires_at IS NULL OR expires_at > {p})")
        params.append(now)
        direction = "ASC" if q.forward else "DESC"
        ordering = ", ".join(f"{c} {direction}" for c in order)
        sql = (
            f"SELECT data FROM {self.items} WHERE {' AND '.join(where)} "
            f"ORDER BY {ordering} LIMIT {p}"
        )
        params.append(size)
        return sql, params

    # -- writes --------------------------------------------------------------------

    def _write(self, actions: list[Action], now: int, single: bool) -> None:
        keys = [_key_of(a) for a in actions]
        with self._transaction(keys) as conn:
            current = self._fetch(conn, keys)
            reasons: list[CancelReason | None] = []
            for action, key in zip(actions, keys, strict=True):
                old = current.get(key)
                seen = old if old is not None and visible(old, now) else None
                ok = action.condition is None or action.condition.holds(seen)
                reasons.append(None if ok else CancelReason.CONDITION_FAILED)
            if any(reasons):
                if single:
                    raise ConditionFailed("the write's condition did not hold; nothing changed")
                raise TransactionCanceled(reasons)
            changes: list[tuple[Key, Item | None, Item | None]] = []
            puts: list[Sequence[Any]] = []
            deletes: list[Key] = []
            for action, key in zip(actions, keys, strict=True):
                old = current.get(key)
                if isinstance(action, Put):
                    puts.append(self._row(action.item))
                    if old is None or not same(old, action.item):
                        changes.append((key, old, action.item))
                elif isinstance(action, Delete) and old is not None:
                    deletes.append(key)
                    changes.append((key, old, None))
            self._apply(conn, puts, deletes)
            self._record(conn, changes, now)

    def _row(self, item: Item) -> tuple[Any, ...]:
        return (*(item.get(c) for c in KEY_COLUMNS), item.get("expires_at"), self._dump(item))

    def _apply(self, conn: Connection, puts: list[Sequence[Any]], deletes: list[Key]) -> None:
        if puts:
            self._many(conn, self._upsert_sql, puts)
        if deletes:
            sql = f"DELETE FROM {self.items} WHERE pk = {self.P} AND sk = {self.P}"
            self._many(conn, sql, list(deletes))

    def _record(
        self, conn: Connection, changes: list[tuple[Key, Item | None, Item | None]], now: float
    ) -> None:
        if not changes:
            return
        self._lock_feed(conn)
        p = self.P
        sql = (
            f"INSERT INTO {self.changes_table} (pk, sk, old, new, at) "
            f"VALUES ({p}, {p}, {self.DATA}, {self.DATA}, {p})"
        )
        rows: list[Sequence[Any]] = [
            (
                pk,
                sk,
                None if old is None else self._dump(old),
                None if new is None else self._dump(new),
                now,
            )
            for (pk, sk), old, new in changes
        ]
        self._many(conn, sql, rows)

    @property
    def _upsert_sql(self) -> str:
        columns = (*KEY_COLUMNS, "expires_at", "data")
        marks = ", ".join([self.P] * (len(columns) - 1) + [self.DATA])
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
        return (
            f"INSERT INTO {self.items} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT (pk, sk) DO UPDATE SET {updates}"
        )

    # -- feed and expiry -------------------------------------------------------------

    def _changes(self, position: str | None, limit: int) -> ChangePage:
        if position is None:
            after = 0
        elif _DIGITS.fullmatch(position):
            after = int(position)
        else:
            raise ValidationError("position", "must be a position from an earlier ChangePage")
        p = self.P
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT seq, pk, sk, old, new, at FROM {self.changes_table} "
                f"WHERE seq > {p} ORDER BY seq LIMIT {p}",
                [after, limit],
            ).fetchall()
        changes = [
            Change(
                pk,
                sk,
                None if old is None else self._load(old),
                None if new is None else self._load(new),
                float(at),
            )
            for _, pk, sk, old, new, at in rows
        ]
        return ChangePage(changes, str(rows[-1][0] if rows else after))

    def _purge(self, now: int) -> int:
        p, removed = self.P, 0
        while True:
            with self._read() as conn:
                keys: list[Key] = [
                    (pk, sk)
                    for pk, sk in conn.execute(
                        f"SELECT pk, sk FROM {self.items} WHERE expires_at <= {p} LIMIT {p}",
                        [now, PURGE_BATCH],
                    ).fetchall()
                ]
            if not keys:
                return removed
            with self._transaction(keys) as conn:
                gone: list[tuple[Key, Item | None, Item | None]] = []
                for key in keys:
                    row = conn.execute(
                        f"DELETE FROM {self.items} WHERE pk = {p} AND sk = {p} "
                        f"AND expires_at <= {p} RETURNING data",
                        [*key, now],
                    ).fetchone()
                    if row is not None:
                        gone.append((key, self._load(row[0]), None))
                self._record(conn, gone, now)
            removed += len(gone)


def _sort_clause(column: str, cond: KeyCondition, p: str) -> tuple[str, list[str]]:
    if cond.op == "between":
        return f"{column} BETWEEN {p} AND {p}", list(cond.values)
    if cond.op == "begins_with":
        prefix = cond.values[0]
        upper = successor(prefix)
        if upper is None:
            return f"{column} >= {p}", [prefix]
        return f"{column} >= {p} AND {column} < {p}", [prefix, upper]
    return f"{column} {cond.op} {p}", [cond.values[0]]
