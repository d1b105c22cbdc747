"""The server engine: PostgreSQL through psycopg 3 and a connection pool, one schema."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast
from weakref import WeakKeyDictionary

import psycopg
import psycopg.errors as pgerr
from psycopg_pool import ConnectionPool, PoolTimeout

from carevault.errors import (
    CarevaultError,
    ConfigurationError,
    ConflictError,
    StoreError,
    StoreNotInitialized,
    StoreUnavailable,
)
from carevault.store.base import _Translate
from carevault.store.sql import Connection, SqlStore
from carevault.store.types import INDEXES, Key
from carevault.store.validate import KEY_COLUMNS

SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
APP_ROLE = "carevault_app"
"""The role statements run as when the store connects as a superuser (who would bypass
row-level security): it may read and write the store's tables, and nothing else."""
LOCKS = "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k"
SCOPE = "SELECT set_config('carevault.tenant', %s, false)"
_SETTING = "current_setting('carevault.tenant', true)"
TENANT_ROWS = (
    f"coalesce({_SETTING}, '') = '*' OR left(pk, 2) <> 'T#'"
    f" OR left(pk, length({_SETTING}) + 3) = 'T#' || {_SETTING} || '#'"
)
"""Row-level security: a tenant-scoped transaction sees its tenant's rows and platform rows
(keys not under ``T#``); an unscoped connection (``*``) sees all; any other sees no tenant's."""
_CREATE_ROLE = (
    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '"
    + APP_ROLE
    + "') THEN CREATE ROLE "
    + APP_ROLE
    + " NOLOGIN; END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
)


def _configure(conn: psycopg.Connection[Any]) -> None:
    """A new pooled connection: unscoped, and never with a superuser's bypass of security."""
    conn.execute("SELECT set_config('carevault.tenant', '*', false)")
    row = conn.execute("SELECT current_setting('is_superuser')").fetchone()
    if row is not None and row[0] == "on":
        conn.execute(_CREATE_ROLE)
        conn.execute(f"SET ROLE {APP_ROLE}")


def _lock_id(*parts: str) -> int:
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresStore(SqlStore):
    """Items in one PostgreSQL schema; keys compare byte-wise (``COLLATE "C"``)."""

    engine = "postgresql"
    P = "%s"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "carevault",
        pool_min: int = 1,
        pool_max: int = 10,
        timeout: float = 10.0,
    ) -> None:
        if not SCHEMA_RE.fullmatch(schema):
            raise ConfigurationError("store URL: schema must match [a-z_][a-z0-9_]{0,62}")
        self.schema = schema
        self._tenant: str | None = None
        self._scopes: WeakKeyDictionary[Any, str] = WeakKeyDictionary()  # connection -> tenant
        self.items = f"{schema}.items"
        self.changes_table = f"{schema}.changes"
        feed = _lock_id(schema, "feed")
        self._feed_lock = (feed >> 32, feed & 0x7FFFFFFF)
        self._pool = ConnectionPool(
            conninfo,
            min_size=pool_min,
            max_size=pool_max,
            kwargs={"autocommit": True},
            configure=_configure,
            timeout=timeout,
            open=False,
        )
        with _Translate(self):
            self._pool.open(wait=True, timeout=timeout)

    def scoped(self, tenant: str) -> PostgresStore:
        view = copy.copy(self)  # the same pool; every statement scoped to the tenant
        view._tenant = tenant
        return view

    def _scope(self, conn: Any) -> None:
        """Set the connection's tenant for row-level security, when it is not set already.

        Set for the session, outside any transaction (autocommit), so a rollback cannot
        undo it behind the record kept here; a connection scoped for one tenant is reused
        for that tenant without another statement.
        """
        wanted = self._tenant or "*"
        if self._scopes.get(conn) != wanted:
            conn.execute(SCOPE, [wanted])
            self._scopes[conn] = wanted

    def _fetchone(self, sql: str, params: Sequence[Any]) -> Any:
        with self._pool.connection() as conn, conn.pipeline():
            self._scope(conn)
            return conn.execute(sql, params).fetchone()

    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._pool.connection() as conn, conn.pipeline():
            self._scope(conn)
            return conn.execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self, keys: Sequence[Key]) -> Iterator[Connection]:
        locks = sorted({_lock_id(self.schema, pk, sk) for pk, sk in keys})
        # Pipeline mode sends BEGIN, the lock and the first read in one round trip; the
        # server still runs them in order, so the read sees every earlier lock holder's commit.
        with self._pool.connection() as conn, conn.pipeline():
            self._scope(conn)
            with conn.transaction():
                conn.execute(LOCKS, [locks])
                yield conn

    def _lock_feed(self, conn: Connection) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._feed_lock)

    def _many(self, conn: Connection, sql: str, rows: list[Sequence[Any]]) -> None:
        with cast("psycopg.Connection[Any]", conn).cursor() as cur:
            cur.executemany(sql, rows)

    def _create_table(self) -> None:
        s = self.schema
        columns = ", ".join(
            f'{c} text COLLATE "C"' + (" NOT NULL" if c in ("pk", "sk") else "")
            for c in KEY_COLUMNS
        )
        statements = [
            f"CREATE SCHEMA IF NOT EXISTS {s}",
            f"CREATE TABLE IF NOT EXISTS {s}.items ({columns}, expires_at bigint,"
            " data bytea NOT NULL, PRIMARY KEY (pk, sk))",
            *(
                f"CREATE INDEX IF NOT EXISTS items_{i} ON {s}.items ({i}pk, {i}sk, pk, sk)"
                f" WHERE {i}pk IS NOT NULL"
                for i in INDEXES
            ),
            f"CREATE INDEX IF NOT EXISTS items_expires ON {s}.items (expires_at)"
            " WHERE expires_at IS NOT NULL",
            f"CREATE TABLE IF NOT EXISTS {s}.changes (seq bigserial PRIMARY KEY,"
            ' pk text COLLATE "C" NOT NULL, sk text COLLATE "C" NOT NULL,'
            " old bytea, new bytea, at double precision NOT NULL)",
            f"ALTER TABLE {s}.items ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {s}.items FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS tenant_rows ON {s}.items",
            f"CREATE POLICY tenant_rows ON {s}.items USING ({TENANT_ROWS})"
            f" WITH CHECK ({TENANT_ROWS})",
            "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '"
            + APP_ROLE
            + f"') THEN GRANT USAGE ON SCHEMA {s} TO {APP_ROLE};"
            f" GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {APP_ROLE};"
            f" GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {APP_ROLE};"
            " END IF; END $$",
        ]
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL ROLE NONE")  # the schema's owner builds it
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(s, "ddl")])
            for statement in statements:
                conn.execute(statement)

    def _drop_table(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL ROLE NONE")
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def _close(self) -> None:
        self._pool.close()

    def _translate(self, exc: Exception) -> CarevaultError | None:
        name = type(exc).__name__
        if isinstance(exc, PoolTimeout):
            return StoreUnavailable("postgresql: no connection could be had in time")
        if isinstance(exc, pgerr.UndefinedTable | pgerr.InvalidSchemaName):
            return StoreNotInitialized("postgresql: the store has no tables; create them")
        if isinstance(
            exc, pgerr.SerializationFailure | pgerr.DeadlockDetected | pgerr.UniqueViolation
        ):
            return ConflictError(f"postgresql: concurrent write won ({name})")
        if isinstance(exc, psycopg.OperationalError | pgerr.QueryCanceled | pgerr.AdminShutdown):
            return StoreUnavailable(f"postgresql: the server failed ({name})")
        if isinstance(exc, psycopg.Error):
            return StoreError(f"postgresql: the database failed ({name})")
        return None
