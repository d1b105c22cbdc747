"""Blob stores for document contents (always sealed before they arrive here).

- ``file:///path/to/dir`` (default ``$CAREVAULT_HOME/blobs``): one file per blob, written
  to a temporary name and renamed, mode 0600;
- ``s3://bucket/prefix?endpoint=…&region=…``: one object per blob (boto3).
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from carevault.errors import ConfigurationError, NotFound, StoreUnavailable, ValidationError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,199}$")


def _check(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValidationError("blob.key", "must be letters, digits, '/', '_', '.', '-'")
    return key


class BlobStore(ABC):
    """Opaque bytes by key."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (replacing any)."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under ``key``; NotFound if none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""


class LocalBlobs(BlobStore):
    """Blobs as files in a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        return self.root / _check(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound("blob", key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Blobs(BlobStore):
    """Blobs as objects in an S3 bucket, under a prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{_check(key)}" if self.prefix else _check(key)

    def put(self, key: str, data: bytes) -> None:
        name = self._name(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=name, Body=data)
        except Exception as exc:  # botocore errors: the bucket cannot be written
            raise StoreUnavailable(f"blob store: cannot write to bucket {self.bucket}") from exc

    def get(self, key: str) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._name(key))[
                "Body"
            ].read()
        except self.client.exceptions.NoSuchKey:
            raise NotFound("blob", key) from None
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))


def open_blobs(url: str) -> BlobStore:
    """The blob store at ``url`` (``file:///dir`` or ``s3://bucket/prefix``)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalBlobs(Path(parts.path))
    if parts.scheme == "s3":
        import boto3  # noqa: PLC0415 (only S3 deployments need it loaded)

        params = dict(parse_qsl(parts.query))
        client = boto3.client(
            "s3", endpoint_url=params.get("endpoint"), region_name=params.get("region")
        )
        return S3Blobs(client, parts.netloc, parts.path)
    raise ConfigurationError("blob URL: must start with file:// or s3://")
