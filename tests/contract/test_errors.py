"""Every engine failure reaches the caller as a carevault error, with the driver's as cause."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from carevault.errors import (
    CarevaultError,
    ConditionFailed,
    ConflictError,
    StoreError,
    StoreNotInitialized,
    StoreUnavailable,
    Throttled,
    TransactionCanceled,
    ValidationError,
)
from carevault.store import Attr, ConditionCheck, Store, open_store
from carevault.store.dynamodb import _client_error
from carevault.store.postgres import _lock_id
from tests.engines import PG_URL, free_port, store_url
from tests.threads import concurrently

DRIVER_ERRORS = (sqlite3.Error, psycopg.Error, ClientError, EndpointConnectionError)


def _translated(exc: BaseException) -> None:
    assert isinstance(exc, CarevaultError)
    assert not isinstance(exc, DRIVER_ERRORS)


def test_missing_tables_raise_store_not_initialized(
    engine: str, endpoint: str | None, tmp_path: Path
) -> None:
    store = open_store(store_url(engine, tmp_path, endpoint))
    for call in (
        lambda: store.get("P", "#"),
        lambda: store.put({"pk": "P", "sk": "#"}),
        lambda: store.query("P"),
        store.changes,
    ):
        with pytest.raises(StoreNotInitialized) as caught:
            call()
        _translated(caught.value)
        assert isinstance(caught.value.__cause__, DRIVER_ERRORS)
    store.close()


def test_condition_failures_are_translated(store: Store) -> None:
    store.put({"pk": "P", "sk": "#"})
    with pytest.raises(ConditionFailed) as single:
        store.put({"pk": "P", "sk": "#"}, condition=Attr("pk").not_exists())
    with pytest.raises(TransactionCanceled) as many:
        store.transact_write([ConditionCheck("P", "#", Attr("x").exists())])
    for exc in (single.value, many.value):
        _translated(exc)


def test_unreachable_engine_raises_store_unavailable(engine: str, tmp_path: Path) -> None:
    port = free_port()
    if engine == "sqlite":
        (tmp_path / "dir.db").mkdir()
        url = f"sqlite:///{tmp_path / 'dir.db'}"
    elif engine == "postgresql":
        url = f"postgresql://postgres@127.0.0.1:{port}/test?timeout=1"
    else:
        url = f"dynamodb://nowhere?endpoint=http://127.0.0.1:{port}&timeout=1"
    with pytest.raises(StoreUnavailable) as caught:
        open_store(url).get("P", "#")
    _translated(caught.value)


def test_corrupt_sqlite_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database" * 200)
    with pytest.raises(StoreError) as caught:
        open_store(f"sqlite:///{path}").get("P", "#")
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_sqlite_lock_held_past_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}?busy_timeout=0.2"
    store = open_store(url)
    store.create_table()
    blocker = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.put({"pk": "P", "sk": "#"})
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.put({"pk": "P", "sk": "#"})
    store.close()


def test_postgres_statement_timeout_is_unavailable(tmp_path: Path) -> None:
    schema = "t_timeout_" + tmp_path.name[-8:].replace("-", "_").lower()
    url = f"{PG_URL}?schema={schema}&options=-c%20statement_timeout%3D300"
    store = open_store(url)
    store.create_table()
    with psycopg.connect(PG_URL, autocommit=False) as blocker:
        blocker.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(schema, "P", "#")])
        with pytest.raises(StoreUnavailable) as caught:
            store.put({"pk": "P", "sk": "#"})
        assert isinstance(caught.value.__cause__, psycopg.errors.QueryCanceled)
        blocker.rollback()
    store.put({"pk": "P", "sk": "#"})
    store.drop_table()
    store.close()


def test_postgres_damaged_table_raises_store_error(tmp_path: Path) -> None:
    schema = "t_damaged_" + tmp_path.name[-8:].replace("-", "_").lower()
    store = open_store(f"{PG_URL}?schema={schema}")
    store.create_table()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {schema}.items DROP COLUMN data")
    with pytest.raises(StoreError) as caught:
        store.get("P", "#")
    assert isinstance(caught.value.__cause__, psycopg.errors.UndefinedColumn)
    store.drop_table()
    store.close()


def test_dynamodb_schema_mismatch_is_translated(dynamodb_endpoint: str) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    client.create_table(
        TableName="wrong-schema",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    store = open_store(f"dynamodb://wrong-schema?endpoint={dynamodb_endpoint}")
    with pytest.raises(ValidationError) as caught:
        store.get("P", "#")
    assert isinstance(caught.value.__cause__, ClientError)
    client.delete_table(TableName="wrong-schema")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ProvisionedThroughputExceededException", Throttled),
        ("ThrottlingException", Throttled),
        ("RequestLimitExceeded", Throttled),
        ("InternalServerError", StoreUnavailable),
        ("TransactionConflictException", CarevaultError),
        ("AccessDeniedException", StoreError),
        ("ResourceNotFoundException", StoreNotInitialized),
    ],
)
def test_dynamodb_service_codes_map_to_carevault_errors(code: str, expected: type) -> None:
    """Codes DynamoDB Local cannot be made to send are mapped from botocore's own error type."""
    exc = ClientError({"Error": {"Code": code, "Message": "m"}}, "PutItem")
    assert isinstance(_client_error(exc), expected)


def test_errors_name_no_stored_values(store: Store) -> None:
    secret = "Jane Q. Patient 555-0100"
    store.put({"pk": "P", "sk": "#", "name": secret})
    failures: list[BaseException] = []
    for call in (
        lambda: store.put({"pk": "P", "sk": "#", "name": secret}, condition=Attr("name").eq("x")),
        lambda: store.put({"pk": "P", "sk": "#", "name": secret + "\x00"}),
        lambda: store.put({"pk": "P", "sk": "#", "name": secret * 20000}),
    ):
        try:
            call()
        except CarevaultError as exc:
            failures.append(exc)
    assert len(failures) == 3
    assert all(secret not in str(exc) for exc in failures)


def test_threads_share_one_store_safely(store: Store) -> None:
    def work(n: int) -> None:
        for i in range(20):
            store.put({"pk": f"W#{n}", "sk": f"{i:02d}"})
            assert store.get(f"W#{n}", f"{i:02d}") is not None

    assert concurrently(work, 4) == []
    assert sum(len(store.query(f"W#{n}").items) for n in range(4)) == 80


def _pg_error(statements: list[str]) -> psycopg.Error:
    """Run statements on a raw connection and return the driver error they raise."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        try:
            for statement in statements:
                conn.execute(statement)
        except psycopg.Error as exc:
            return exc
    raise AssertionError("no error was raised")


def _pg_deadlock() -> psycopg.Error:
    """Two transactions lock two rows in opposite order; PostgreSQL kills one."""
    with psycopg.connect(PG_URL) as a, psycopg.connect(PG_URL) as b:
        a.execute("SET deadlock_timeout = '100ms'")
        b.execute("SET deadlock_timeout = '100ms'")
        a.execute("SELECT pg_advisory_xact_lock(910001)")
        b.execute("SELECT pg_advisory_xact_lock(910002)")
        caught: list[psycopg.Error] = []

        def second() -> None:
            try:
                b.execute("SELECT pg_advisory_xact_lock(910001)")
            except psycopg.Error as exc:
                caught.append(exc)
                b.rollback()

        thread = threading.Thread(target=second)
        thread.start()
        try:
            a.execute("SELECT pg_advisory_xact_lock(910002)")
        except psycopg.Error as exc:
            caught.append(exc)
        a.rollback()
        thread.join()
        b.rollback()
    return caught[0]


def _pg_serialization_failure() -> psycopg.Error:
    with psycopg.connect(PG_URL, autocommit=True) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS cv_serial (k int PRIMARY KEY, v int)")
        setup.execute("INSERT INTO cv_serial VALUES (1, 0) ON CONFLICT DO NOTHING")
    with psycopg.connect(PG_URL) as a, psycopg.connect(PG_URL) as b:
        for conn in (a, b):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SELECT v FROM cv_serial WHERE k = 1").fetchone()
        a.execute("UPDATE cv_serial SET v = v + 1 WHERE k = 1")
        a.commit()
        try:
            b.execute("UPDATE cv_serial SET v = v + 1 WHERE k = 1")
        except psycopg.Error as exc:
            b.rollback()
            return exc
    raise AssertionError("no serialization failure")


def test_every_mapped_postgres_error(tmp_path: Path) -> None:
    store = open_store(store_url("postgresql", tmp_path, None))
    cases: list[tuple[psycopg.Error, type[CarevaultError]]] = [
        (
            _pg_error(
                [
                    "CREATE TEMP TABLE cv_dup (k int PRIMARY KEY)",
                    "INSERT INTO cv_dup VALUES (1)",
                    "INSERT INTO cv_dup VALUES (1)",
                ]
            ),
            ConflictError,
        ),
        (_pg_deadlock(), ConflictError),
        (_pg_serialization_failure(), ConflictError),
        (_pg_error(["CREATE TABLE cv_no_such_schema.t (k int)"]), StoreNotInitialized),
        (_pg_error(["SELECT * FROM cv_no_such_table"]), StoreNotInitialized),
        (_pg_error(["SET statement_timeout = 50", "SELECT pg_sleep(1)"]), StoreUnavailable),
        (_pg_error(["SELECT 1/0"]), StoreError),
    ]
    for exc, expected in cases:
        mapped = store._translate(exc)
        assert isinstance(mapped, expected), (type(exc).__name__, mapped)
    store.close()


def test_every_mapped_sqlite_error(tmp_path: Path) -> None:
    store = open_store(store_url("sqlite", tmp_path, None))
    conn = sqlite3.connect(":memory:")
    errors: list[tuple[BaseException, type[CarevaultError]]] = []
    for sql, expected in (
        ("SELEC nothing", StoreError),
        ("SELECT * FROM no_such_table", StoreNotInitialized),
    ):
        try:
            conn.execute(sql)
        except sqlite3.Error as exc:
            errors.append((exc, expected))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    try:
        (blocker / "sub").mkdir()
    except OSError as exc:
        errors.append((exc, StoreUnavailable))
    assert len(errors) == 3
    for exc, expected in errors:
        assert isinstance(store._translate(exc), expected), type(exc).__name__  # type: ignore[arg-type]
    under_file = open_store(f"sqlite:///{blocker}/sub/x.db")
    with pytest.raises(StoreUnavailable):
        under_file.create_table()


def test_every_mapped_dynamodb_error(dynamodb_endpoint: str, tmp_path: Path) -> None:
    store = open_store(store_url("dynamodb", tmp_path, dynamodb_endpoint))
    raw = store._client  # type: ignore[attr-defined]
    try:
        raw.get_item(TableName=store.table, Key={"pk": {"S": 1}})  # type: ignore[attr-defined]
    except Exception as exc:
        assert isinstance(store._translate(exc), StoreError)
        assert not isinstance(exc, ClientError)  # botocore refused it before sending
    else:
        raise AssertionError("botocore accepted a malformed key")
