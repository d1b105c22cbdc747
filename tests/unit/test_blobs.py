"""Blob stores: a local directory (the default) and S3 (moto's S3 stands in for AWS here)."""

from __future__ import annotations

import stat
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from carevault.blobs import BlobStore, LocalBlobs, S3Blobs, open_blobs
from carevault.errors import ConfigurationError, NotFound, ValidationError


def _round_trip(blobs: BlobStore) -> None:
    blobs.put("tenant/doc-1", b"\x01sealed")
    blobs.put("tenant/doc-1", b"\x01sealed again")
    assert blobs.get("tenant/doc-1") == b"\x01sealed again"
    blobs.delete("tenant/doc-1")
    blobs.delete("tenant/doc-1")
    with pytest.raises(NotFound):
        blobs.get("tenant/doc-1")
    for bad in ("../escape", "/abs", "", "a b"):
        with pytest.raises(ValidationError):
            blobs.put(bad, b"x")


def test_local_blobs(tmp_path: Path) -> None:
    blobs = open_blobs(f"file://{tmp_path}/blobs")
    assert isinstance(blobs, LocalBlobs)
    _round_trip(blobs)
    blobs.put("t/x", b"1")
    assert stat.S_IMODE((tmp_path / "blobs" / "t" / "x").stat().st_mode) == 0o600


def test_s3_blobs() -> None:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="carevault-docs")
        _round_trip(S3Blobs(client, "carevault-docs", "prefix"))
        assert isinstance(open_blobs("s3://carevault-docs/prefix?region=us-east-1"), S3Blobs)


def test_unknown_blob_url() -> None:
    with pytest.raises(ConfigurationError):
        open_blobs("ftp://host/x")
