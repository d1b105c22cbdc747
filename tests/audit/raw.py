"""Direct access to an engine's stored items, around the store: how an attacker would edit."""

from __future__ import annotations

import sqlite3
from typing import Any

import boto3
import psycopg

from carevault.store import Store
from carevault.store.codec import decode, encode
from carevault.store.dynamo_expr import dump_item, load_item
from carevault.store.validate import KEY_COLUMNS
from tests.engines import PG_URL

Item = dict[str, Any]


class Raw:
    """Read, write and delete items of a store's table without going through it."""

    def __init__(self, store: Store, endpoint: str | None = None) -> None:
        self.engine = store.engine
        if self.engine == "sqlite":
            self.sqlite = sqlite3.connect(store.path, isolation_level=None)  # type: ignore[attr-defined]
        elif self.engine == "postgresql":
            self.pg = psycopg.connect(PG_URL, autocommit=True)
            self.table = f"{store.schema}.items"  # type: ignore[attr-defined]
        else:
            self.ddb = boto3.client(
                "dynamodb",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="local",
                aws_secret_access_key="local",
            )
            self.name = store.table  # type: ignore[attr-defined]

    def get(self, pk: str, sk: str) -> Item | None:
        if self.engine == "sqlite":
            row = self.sqlite.execute(
                "SELECT data FROM items WHERE pk = ? AND sk = ?", (pk, sk)
            ).fetchone()
            return None if row is None else decode(row[0])
        if self.engine == "postgresql":
            found = self.pg.execute(
                f"SELECT data FROM {self.table} WHERE pk = %s AND sk = %s", (pk, sk)
            ).fetchone()
            return None if found is None else decode(bytes(found[0]))
        got = self.ddb.get_item(TableName=self.name, Key={"pk": {"S": pk}, "sk": {"S": sk}})
        return load_item(got["Item"]) if "Item" in got else None

    def put(self, item: Item) -> None:
        if self.engine == "dynamodb":
            self.ddb.put_item(TableName=self.name, Item=dump_item(item))
            return
        row = (*(item.get(c) for c in KEY_COLUMNS), item.get("expires_at"), encode(item))
        columns = ", ".join((*KEY_COLUMNS, "expires_at", "data"))
        if self.engine == "sqlite":
            marks = ", ".join("?" * len(row))
            self.sqlite.execute(f"INSERT OR REPLACE INTO items ({columns}) VALUES ({marks})", row)
        else:
            marks = ", ".join(["%s"] * len(row))
            updates = ", ".join(
                f"{c} = excluded.{c}" for c in (*KEY_COLUMNS[2:], "expires_at", "data")
            )
            self.pg.execute(
                f"INSERT INTO {self.table} ({columns}) VALUES ({marks})"
                f" ON CONFLICT (pk, sk) DO UPDATE SET {updates}",
                row,
            )

    def delete(self, pk: str, sk: str) -> None:
        if self.engine == "sqlite":
            self.sqlite.execute("DELETE FROM items WHERE pk = ? AND sk = ?", (pk, sk))
        elif self.engine == "postgresql":
            self.pg.execute(f"DELETE FROM {self.table} WHERE pk = %s AND sk = %s", (pk, sk))
        else:
            self.ddb.delete_item(TableName=self.name, Key={"pk": {"S": pk}, "sk": {"S": sk}})

    def close(self) -> None:
        if self.engine == "sqlite":
            self.sqlite.close()
        elif self.engine == "postgresql":
            self.pg.close()
