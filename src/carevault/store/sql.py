"""What the SQLite and PostgreSQL engines share: the layout, the statements, the write path.

Layout: one ``items`` table keyed by (pk, sk) whose ``data`` column holds the whole item
(MessagePack, ``codec.py``),
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
from functools import cached_property
from typing import Any, Protocol

from carevault.errors import CancelReason, ConditionFailed, TransactionCanceled, ValidationError
from carevault.store.base import Store, visible
from carevault.store.codec import decode, encode
from carevault.store.conditions import KeyCondition, same, successor
from carevault.store.types import (
    Action,
    Change,
    ChangePage,
    Delete,
    Index,
    Item,
    Key,
    Put,
    Query,
)
from carevault.store.validate import KEY_COLUMNS

CHUNK = 200
ITEM_COLUMNS = (*KEY_COLUMNS, "expires_at", "data")
UPSERT = "ON CONFLICT (pk, sk) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in ITEM_COLUMNS[2:]
)
INSERT_ROWS = 50  # rows per multi-row INSERT (well under every driver's parameter limit)
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
    items: str  # qualified table names
    changes_table: str

    @abstractmethod
    def _fetchone(self, sql: str, params: Sequence[Any]) -> Any:
        """One row of a read outside any transaction, or None."""

    @abstractmethod
    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """All rows of a read outside any transaction."""

    @abstractmethod
    def _transaction(self, keys: Sequence[Key]) -> AbstractContextManager[Connection]:
        """A write transaction holding the locks of ``keys``; commits when the block ends."""

    @abstractmethod
    def _lock_feed(self, conn: Connection) -> None:
        """Hold the change-feed lock until commit."""

    @abstractmethod
    def _many(self, conn: Connection, sql: str, rows: list[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""

    # -- reads ---------------------------------------------------------------------

    @cached_property
    def _get_sql(self) -> str:
        return f"SELECT data FROM {self.items} WHERE pk = {self.P} AND sk = {self.P}"

    def _get(self, key: Key) -> Item | None:
        row = self._fetchone(self._get_sql, key)
        return None if row is None else decode(row[0])

    def _keys_sql(self, count: int) -> str:
        p = self.P
        if count == 1:
            return f"SELECT pk, sk, data FROM {self.items} WHERE pk = {p} AND sk = {p}"
        pairs = ", ".join(f"({p}, {p})" for _ in range(count))
        return f"SELECT pk, sk, data FROM {self.items} WHERE (pk, sk) IN (VALUES {pairs})"

    def _stored(self, conn: Connection | None, keys: Sequence[Key]) -> dict[Key, bytes]:
        """Stored payloads by key, read in ``conn``'s transaction or, if None, outside one."""
        found: dict[Key, bytes] = {}
        for start in range(0, len(keys), 100):
            chunk = keys[start : start + 100]
            sql, params = self._keys_sql(len(chunk)), [part for key in chunk for part in key]
            if conn is None:
                rows = self._fetchall(sql, params)
            else:
                rows = conn.execute(sql, params).fetchall()
            for pk, sk, raw in rows:
                found[(pk, sk)] = bytes(raw)
        return found

    def _batch_get(self, keys: list[Key]) -> dict[Key, Item]:
        return {key: decode(raw) for key, raw in self._stored(None, keys).items()}

    def _query(self, q: Query, now: int) -> tuple[list[Item], bool]:
        want = q.limit + 1
        size = want if q.filter is None else max(want, CHUNK)
        order = ("sk",) if q.index is None else (f"{q.index}sk", "pk", "sk")
        out: list[Item] = []
        after = q.after
        while True:
            params: list[Any] = [q.pk]
            if q.sk is not None:
                params.extend(_sort_values(q.sk))
            if after is not None:
                params.extend(after)
            params += (now, size)
            shape = (q.index, q.sk.op if q.sk else None, after is not None, q.forward)
            sql = self._select_sql.get(shape) or self._select(*shape)
            rows = self._fetchall(sql, params)
            if q.filter is None:  # one round; the look-ahead row only says whether more match
                return [decode(raw) for (raw,) in rows[: q.limit]], len(rows) > q.limit
            items = [decode(raw) for (raw,) in rows]
            out.extend(filter(q.filter.holds, items))
            if len(out) >= want or len(rows) < size:
                break
            after = tuple(items[-1][name] for name in order)
        return out[: q.limit], len(out) > q.limit

    @cached_property
    def _select_sql(self) -> dict[tuple[Any, ...], str]:
        return {}

    def _select(self, index: Index | None, op: str | None, after: bool, forward: bool) -> str:
        """The SELECT for one query shape (built once, then cached)."""
        p = self.P
        pk_col, sk_col = ("pk", "sk") if index is None else (f"{index}pk", f"{index}sk")
        order = (sk_col,) if index is None else (sk_col, "pk", "sk")
        where: list[str] = [f"{pk_col} = {p}"]
        if op is not None:
            where.append(_sort_clause(sk_col, op, p))
        if after:
            columns, marks = ", ".join(order), ", ".join(p for _ in order)
            where.append(f"({columns}) {'>' if forward else '<'} ({marks})")
        where.append(f"(expires_at IS NULL OR expires_at > {p})")
        direction = "ASC" if forward else "DESC"
        ordering = ", ".join(f"{c} {direction}" for c in order)
        sql = (
            f"SELECT data FROM {self.items} WHERE {' AND '.join(where)} "
            f"ORDER BY {ordering} LIMIT {p}"
        )
        self._select_sql[(index, op, after, forward)] = sql
        return sql

    # -- writes --------------------------------------------------------------------

    def _write(self, actions: list[Action], now: int, single: bool) -> None:
        keys = [_key_of(a) for a in actions]
        with self._transaction(keys) as conn:
            stored = self._stored(conn, keys)
            reasons: list[CancelReason | None] = []
            for action, key in zip(actions, keys, strict=True):
                if action.condition is None:
                    reasons.append(None)
                    continue
                raw = stored.get(key)
                old = None if raw is None else decode(raw)
                seen = old if old is not None and visible(old, now) else None
                ok = action.condition.holds(seen)
                reasons.append(None if ok else CancelReason.CONDITION_FAILED)
            if any(reasons):
                if single:
                    raise ConditionFailed("the write's condition did not hold; nothing changed")
                raise TransactionCanceled(reasons)
            changes: list[tuple[Key, bytes | None, bytes | None]] = []
            puts: list[Sequence[Any]] = []
            deletes: list[Key] = []
            for action, key in zip(actions, keys, strict=True):
                old_raw = stored.get(key)
                if isinstance(action, Put):
                    item = action.item
                    data = encode(item)
                    puts.append((*[item.get(c) for c in KEY_COLUMNS], item.get("expires_at"), data))
                    if old_raw is None or _changed(old_raw, data):
                        changes.append((key, old_raw, data))
                elif isinstance(action, Delete) and old_raw is not None:
                    deletes.append(key)
                    changes.append((key, old_raw, None))
            self._apply(conn, puts, deletes)
            self._record(conn, changes, now)

    def _apply(self, conn: Connection, puts: list[Sequence[Any]], deletes: list[Key]) -> None:
        self._insert(conn, self.items, ITEM_COLUMNS, puts, UPSERT)
        if deletes:
            sql = f"DELETE FROM {self.items} WHERE pk = {self.P} AND sk = {self.P}"
            self._many(conn, sql, list(deletes))

    def _record(
        self, conn: Connection, changes: list[tuple[Key, bytes | None, bytes | None]], now: float
    ) -> None:
        """Append changes (old and new payloads) to the feed, under the feed lock."""
        if not changes:
            return
        self._lock_feed(conn)
        rows: list[Sequence[Any]] = [(pk, sk, old, new, now) for (pk, sk), old, new in changes]
        self._insert(conn, self.changes_table, ("pk", "sk", "old", "new", "at"), rows)

    def _insert(
        self,
        conn: Connection,
        table: str,
        columns: Sequence[str],
        rows: list[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """Insert rows with multi-row VALUES statements, ``INSERT_ROWS`` rows at a time.

        One statement per chunk instead of one per row: the driver steps (and, in Python,
        gives up and takes back the GIL) once per statement, not once per row.
        """
        for start in range(0, len(rows), INSERT_ROWS):
            chunk = rows[start : start + INSERT_ROWS]
            key = (table, len(chunk), tail)
            sql = self._insert_sql.get(key)
            if sql is None:
                row = f"({', '.join([self.P] * len(columns))})"
                sql = self._insert_sql[key] = (
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES {', '.join([row] * len(chunk))} {tail}"
                ).rstrip()
            conn.execute(sql, [value for r in chunk for value in r])

    @cached_property
    def _insert_sql(self) -> dict[tuple[str, int, str], str]:
        return {}

    # -- feed and expiry -------------------------------------------------------------

    def _changes(self, position: str | None, limit: int) -> ChangePage:
        if position is None:
            after = 0
        elif _DIGITS.fullmatch(position):
            after = int(position)
        else:
            raise ValidationError("position", "must be a position from an earlier ChangePage")
        p = self.P
        rows = self._fetchall(
            f"SELECT seq, pk, sk, old, new, at FROM {self.changes_table} "
            f"WHERE seq > {p} ORDER BY seq LIMIT {p}",
            [after, limit],
        )
        changes = [
            Change(
                pk,
                sk,
                None if old is None else decode(old),
                None if new is None else decode(new),
                float(at),
            )
            for _, pk, sk, old, new, at in rows
        ]
        return ChangePage(changes, str(rows[-1][0] if rows else after))

    def _purge(self, now: int) -> int:
        p, removed = self.P, 0
        while True:
            keys: list[Key] = [
                (pk, sk)
                for pk, sk in self._fetchall(
                    f"SELECT pk, sk FROM {self.items} WHERE expires_at <= {p} LIMIT {p}",
                    [now, PURGE_BATCH],
                )
            ]
            if not keys:
                return removed
            with self._transaction(keys) as conn:
                gone: list[tuple[Key, bytes | None, bytes | None]] = []
                for key in keys:
                    row = conn.execute(
                        f"DELETE FROM {self.items} WHERE pk = {p} AND sk = {p} "
                        f"AND expires_at <= {p} RETURNING data",
                        [*key, now],
                    ).fetchone()
                    if row is not None:
                        gone.append((key, bytes(row[0]), None))
                self._record(conn, gone, now)
            removed += len(gone)


def _changed(old: bytes, new: bytes) -> bool:
    """Whether a put changes the stored item (a no-op put records no change).

    Equal bytes: unchanged. Different lengths: changed, since MessagePack's length does not
    depend on key order. Only equal-length payloads that differ are decoded and compared.
    """
    if old == new:
        return False
    return len(old) != len(new) or not same(decode(old), decode(new))


def _sort_clause(column: str, op: str, p: str) -> str:
    if op == "between":
        return f"{column} BETWEEN {p} AND {p}"
    if op == "begins_with":
        return f"{column} >= {p} AND {column} < {p}"
    return f"{column} {op} {p}"


def _sort_values(cond: KeyCondition) -> tuple[str, ...]:
    """Parameters for ``_sort_clause``; a prefix becomes the range [prefix, successor)."""
    if cond.op == "begins_with":
        prefix = cond.values[0]
        # No successor only for a prefix of U+10FFFF alone; 1025 of them exceed any key.
        return (prefix, successor(prefix) or "\U0010ffff" * 1025)
    return cond.values
