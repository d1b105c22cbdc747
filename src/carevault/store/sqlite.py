"""The embedded engine: one SQLite file in WAL mode, one connection per thread."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from carevault.errors import (
    CarevaultError,
    StoreError,
    StoreNotInitialized,
    StoreUnavailable,
)
from carevault.store.sql import Connection, SqlStore
from carevault.store.types import INDEXES, Key
from carevault.store.validate import KEY_COLUMNS

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS items ("
    + ", ".join(f"{c} TEXT" + (" NOT NULL" if c in ("pk", "sk") else "") for c in KEY_COLUMNS)
    + ", expires_at INTEGER, data BLOB NOT NULL, PRIMARY KEY (pk, sk)) WITHOUT ROWID",
    *(
        f"CREATE INDEX IF NOT EXISTS items_{i} ON items ({i}pk, {i}sk) WHERE {i}pk IS NOT NULL"
        for i in INDEXES
    ),
    "CREATE INDEX IF NOT EXISTS items_expires ON items (expires_at) WHERE expires_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " pk TEXT NOT NULL, sk TEXT NOT NULL, old BLOB, new BLOB, at REAL NOT NULL)",
]


class SqliteStore(SqlStore):
    """Items in a SQLite file; writers serialize on ``BEGIN IMMEDIATE`` across processes."""

    engine = "sqlite"
    P = "?"
    items = "items"
    changes_table = "changes"

    def __init__(self, path: str, *, synchronous: str = "FULL", busy_timeout: float = 30.0) -> None:
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _keys_sql(self, count: int) -> str:
        # SQLite scans the whole table for ``(pk, sk) IN (VALUES …)``; joining the list of
        # keys to the table looks each one up by primary key instead.
        if count == 1:
            return "SELECT pk, sk, data FROM items WHERE pk = ? AND sk = ?"
        values = ", ".join("(?, ?)" for _ in range(count))
        return (
            f"SELECT i.pk, i.sk, i.data FROM (VALUES {values}) AS v"
            " CROSS JOIN items AS i ON i.pk = v.column1 AND i.sk = v.column2"
        )

    def _connect(self, create: bool = False) -> sqlite3.Connection:
        mode = "rwc" if create else "rw"
        uri = f"file:{quote(os.path.abspath(self.path))}?mode={mode}"
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=self.busy_timeout,
            cached_statements=256,
        )
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        with self._lock:
            self._opened.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _fetchone(self, sql: str, params: Sequence[Any]) -> Any:
        return self._conn().execute(sql, params).fetchone()

    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self._conn().execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self, keys: Sequence[Key]) -> Iterator[Connection]:
        conn = self._conn()
        self._begin(conn)
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, retried after short pauses until the busy timeout.

        SQLite's own busy handler sleeps 1, 2, 5 … 100 ms between tries: with several
        writing processes (each worker's audit appender, the workers) the lock then sits
        free while its waiters sleep. Tries 0.1 to 2 ms apart take it soon after release.
        """
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            give_up, pause = time.monotonic() + self.busy_timeout, 0.0001
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > give_up:
                        raise
                time.sleep(pause * random.uniform(0.5, 1.5))
                pause = min(pause * 2, 0.002)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    def _lock_feed(self, conn: Connection) -> None:
        """Writers are already serialized by ``BEGIN IMMEDIATE``."""

    def _many(self, conn: Connection, sql: str, rows: list[Sequence[Any]]) -> None:
        self._conn().executemany(sql, rows)

    def _create_table(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        conn = self._connect(create=True)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            for statement in _SCHEMA:
                conn.execute(statement)
        finally:
            conn.close()
        os.chmod(self.path, 0o600)

    def _drop_table(self) -> None:
        self._close()
        for suffix in ("", "-wal", "-shm"):
            Path(self.path + suffix).unlink(missing_ok=True)

    def _close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()

    def _translate(self, exc: Exception) -> CarevaultError | None:
        if isinstance(exc, sqlite3.OperationalError):
            return self._operational(exc)
        if isinstance(exc, sqlite3.Error):
            return StoreError(f"sqlite: the database failed ({type(exc).__name__})")
        if isinstance(exc, OSError):
            return StoreUnavailable(f"sqlite: file unusable ({type(exc).__name__})")
        return None

    def _operational(self, exc: sqlite3.OperationalError) -> CarevaultError:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return StoreUnavailable("sqlite: the database stayed locked past the busy timeout")
        if "no such table" in text:
            return StoreNotInitialized("sqlite: the store has no tables; create them first")
        if "unable to open" in text:
            if not os.path.exists(self.path):
                return StoreNotInitialized("sqlite: the store file does not exist; create it first")
            return StoreUnavailable("sqlite: the store file cannot be opened")
        return StoreError("sqlite: the database failed (OperationalError)")
