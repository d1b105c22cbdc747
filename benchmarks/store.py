"""The item store against its engine's own client doing the same work on the same layout.

"The same work" means the same rows in, the same Python values out: the raw SQL side
stores and reads the same MessagePack payload (bytes fields come back as bytes), so the
ratio is the cost of the carevault layer alone — validation, conditions, expiry, the
change feed, cursors. ``--baseline json`` makes the raw side use orjson instead, which
never restores bytes and so does strictly less than the store.

Each operation runs in alternating rounds (raw, carevault, raw, …) and the best round of
each side is kept, so a noisy neighbour on this shared machine hurts both sides alike.
"""

from __future__ import annotations

import base64
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import msgpack
import orjson
import psycopg
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from tests.engines import PG_URL, DynamoLocal, store_url

from carevault.store import Put, SortKey, Store, open_store
from carevault.store.validate import KEY_COLUMNS

KEYS = 200
PARTITION = "T#bench#PATIENT#01"


def sample(i: int) -> dict[str, Any]:
    """An item shaped like a patient-history entry: keys, ids, dates, ciphertext."""
    return {
        "pk": f"T#bench#APPT#{i:06d}",
        "sk": "#",
        "gsi2pk": PARTITION,
        "gsi2sk": f"APPT#2026-03-{i % 28 + 1:02d}T09:00:00Z#{i:06d}",
        "version": 1,
        "status": "booked",
        "provider": "01JPROVIDER0000000000000000",
        "start": "2026-03-01T09:00:00Z",
        "minutes": 30,
        "reason": b"\x01" + bytes(range(48)),
    }


def measure(fn: Callable[[int], None], seconds: float) -> float:
    """Operations per second of ``fn(i)`` over about ``seconds``."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(10):
            fn(count)
            count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


class Raw:
    """The same four operations written directly against one engine's client."""

    def put(self, i: int) -> None: ...
    def get(self, i: int) -> None: ...
    def query25(self, i: int) -> None: ...
    def tx10(self, i: int) -> None: ...


def _default(value: Any) -> Any:
    if type(value) is bytes:
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


BASELINES: dict[str, tuple[Callable[[Any], bytes], Callable[[Any], Any]]] = {
    "msgpack": (msgpack.Packer(use_bin_type=True).pack, msgpack.unpackb),
    "json": (lambda item: orjson.dumps(item, default=_default), orjson.loads),
}
dumps, loads = BASELINES["msgpack"]


def use_baseline(name: str) -> None:
    """Choose how the raw side serializes its payload."""
    global dumps, loads
    dumps, loads = BASELINES[name]


def _row(item: dict[str, Any]) -> tuple[Any, ...]:
    return (*(item.get(c) for c in KEY_COLUMNS), item.get("expires_at"), dumps(item))


_COLUMNS = ", ".join((*KEY_COLUMNS, "expires_at", "data"))
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in (*KEY_COLUMNS[2:], "expires_at", "data"))


def _upsert(table: str, marks: str) -> str:
    return (
        f"INSERT INTO {table} ({_COLUMNS}) VALUES ({marks})"
        f" ON CONFLICT (pk, sk) DO UPDATE SET {_UPDATES}"
    )


class RawSqlite(Raw):
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA synchronous = FULL")
        marks = ", ".join("?" * (len(KEY_COLUMNS) + 2))
        self.upsert = _upsert("items", marks)

    def put(self, i: int) -> None:
        self.conn.execute(self.upsert, _row(sample(i % KEYS)))

    def get(self, i: int) -> None:
        row = self.conn.execute(
            "SELECT data FROM items WHERE pk = ? AND sk = ?", (sample(i % KEYS)["pk"], "#")
        ).fetchone()
        loads(row[0])

    def query25(self, i: int) -> None:
        rows = self.conn.execute(
            "SELECT data FROM items WHERE gsi2pk = ? AND gsi2sk > ?"
            " ORDER BY gsi2sk, pk, sk LIMIT 25",
            (PARTITION, f"APPT#2026-03-{i % 20 + 1:02d}"),
        ).fetchall()
        [loads(r[0]) for r in rows]

    def tx10(self, i: int) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(self.upsert, [_row(sample((i * 10 + k) % KEYS)) for k in range(10)])
        self.conn.execute("COMMIT")


class RawPostgres(Raw):
    def __init__(self, schema: str) -> None:
        self.conn = psycopg.connect(PG_URL, autocommit=True)
        self.schema = schema
        marks = ", ".join(["%s"] * (len(KEY_COLUMNS) + 2))
        self.upsert = _upsert(f"{schema}.items", marks)

    def put(self, i: int) -> None:
        self.conn.execute(self.upsert, _row(sample(i % KEYS)))

    def get(self, i: int) -> None:
        row = self.conn.execute(
            f"SELECT data FROM {self.schema}.items WHERE pk = %s AND sk = %s",
            (sample(i % KEYS)["pk"], "#"),
        ).fetchone()
        loads(row[0])

    def query25(self, i: int) -> None:
        rows = self.conn.execute(
            f"SELECT data FROM {self.schema}.items WHERE gsi2pk = %s AND gsi2sk > %s"
            " ORDER BY gsi2sk, pk, sk LIMIT 25",
            (PARTITION, f"APPT#2026-03-{i % 20 + 1:02d}"),
        ).fetchall()
        [loads(r[0]) for r in rows]

    def tx10(self, i: int) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(self.upsert, [_row(sample((i * 10 + k) % KEYS)) for k in range(10)])


class RawDynamo(Raw):
    def __init__(self, table: str, endpoint: str) -> None:
        self.client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.table = table
        self.ser, self.de = TypeSerializer(), TypeDeserializer()

    def _item(self, i: int) -> dict[str, Any]:
        return {k: self.ser.serialize(v) for k, v in sample(i).items()}

    def put(self, i: int) -> None:
        self.client.put_item(TableName=self.table, Item=self._item(i % KEYS))

    def get(self, i: int) -> None:
        key = {"pk": {"S": sample(i % KEYS)["pk"]}, "sk": {"S": "#"}}
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"]
        {k: self.de.deserialize(v) for k, v in item.items()}

    def query25(self, i: int) -> None:
        resp = self.client.query(
            TableName=self.table,
            IndexName="gsi2",
            Limit=25,
            KeyConditionExpression="gsi2pk = :p AND gsi2sk > :s",
            ExpressionAttributeValues={
                ":p": {"S": PARTITION},
                ":s": {"S": f"APPT#2026-03-{i % 20 + 1:02d}"},
            },
        )
        [{k: self.de.deserialize(v) for k, v in it.items()} for it in resp["Items"]]

    def tx10(self, i: int) -> None:
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": self._item((i * 10 + k) % KEYS)}}
                for k in range(10)
            ]
        )


def carevault_ops(store: Store) -> dict[str, Callable[[int], None]]:
    def tx10(i: int) -> None:
        store.transact_write([Put(sample((i * 10 + k) % KEYS)) for k in range(10)])

    return {
        "put": lambda i: store.put(sample(i % KEYS)),
        "get": lambda i: store.get(sample(i % KEYS)["pk"], "#"),
        "query25": lambda i: store.query(
            PARTITION, index="gsi2", sk=SortKey.gt(f"APPT#2026-03-{i % 20 + 1:02d}"), limit=25
        ),
        "transact10": tx10,
    }


def _raw_ops(raw: Raw) -> dict[str, Callable[[int], None]]:
    return {"put": raw.put, "get": raw.get, "query25": raw.query25, "transact10": raw.tx10}


def run(engines: list[str], seconds: float, rounds: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="carevault-bench-"))
    local = DynamoLocal() if "dynamodb" in engines else None
    try:
        for engine in engines:
            endpoint = local.endpoint if local else None
            ours = open_store(store_url(engine, tmp, endpoint))
            base = open_store(store_url(engine, tmp, endpoint))
            ours.create_table()
            base.create_table()  # the raw side gets the identical layout
            if engine == "sqlite":
                raw: Raw = RawSqlite(base.path)  # type: ignore[attr-defined]
            elif engine == "postgresql":
                raw = RawPostgres(base.schema)  # type: ignore[attr-defined]
            else:
                raw = RawDynamo(base.table, endpoint or "")  # type: ignore[attr-defined]
            for i in range(KEYS):
                ours.put(sample(i))
                raw.put(i)
            mine, theirs = carevault_ops(ours), _raw_ops(raw)
            for op in ("put", "get", "query25", "transact10"):
                best_raw = best_ours = 0.0
                for _ in range(rounds):
                    best_raw = max(best_raw, measure(theirs[op], seconds))
                    best_ours = max(best_ours, measure(mine[op], seconds))
                results.append(
                    {
                        "engine": engine,
                        "operation": op,
                        "carevault_ops": best_ours,
                        "raw_ops": best_raw,
                        "ratio": best_ours / best_raw,
                    }
                )
                print(f"  {engine:<11} {op:<11} ratio {best_ours / best_raw:.2f}", flush=True)
            for store in (ours, base):
                store.drop_table()
                store.close()
    finally:
        if local:
            local.stop()
    return results
