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
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                store.put({"pk": f"W#{n}", "sk": f"{i:02d}"})
                assert store.get(f"W#{n}", f"{i:02d}") is not None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(len(store.query(f"W#{n}").items) for n in range(4)) == 80
