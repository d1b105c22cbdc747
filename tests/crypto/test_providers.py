"""Root key providers: local file, passphrase, AWS KMS."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from carevault.crypto import AwsKmsKeyProvider, LocalKeyProvider, PassphraseKeyProvider
from carevault.errors import ConfigurationError, CryptoError, IntegrityError, KeyNotFound


def test_local_file_is_created_private_and_refused_when_readable(tmp_path: Path) -> None:
    path = tmp_path / "home" / "root.key"
    provider = LocalKeyProvider.create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigurationError):
        LocalKeyProvider.create(path)
    wrapped, root = provider.wrap(b"k" * 32, "branch|t1|1")
    assert LocalKeyProvider.load(path).unwrap(wrapped, "branch|t1|1", root) == b"k" * 32
    path.chmod(0o644)
    with pytest.raises(ConfigurationError) as caught:
        LocalKeyProvider.load(path)
    assert "chmod 600" in str(caught.value)
    with pytest.raises(ConfigurationError):
        LocalKeyProvider.load(tmp_path / "missing.key")


def test_local_rotation_keeps_old_roots_readable(tmp_path: Path) -> None:
    provider = LocalKeyProvider.create(tmp_path / "root.key")
    old, old_id = provider.wrap(b"a" * 32, "ctx")
    new_id = provider.rotate()
    assert new_id != old_id and provider.current_id() == new_id
    reloaded = LocalKeyProvider.load(tmp_path / "root.key")
    assert reloaded.unwrap(old, "ctx", old_id) == b"a" * 32
    with pytest.raises(IntegrityError):
        reloaded.unwrap(old, "other ctx", old_id)
    with pytest.raises(KeyNotFound):
        reloaded.unwrap(old, "ctx", "local:99")


def test_passphrase_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    salt = os.urandom(16)
    monkeypatch.setenv("CV_TEST_PASSPHRASE", "correct horse battery staple")
    provider = PassphraseKeyProvider.from_env("CV_TEST_PASSPHRASE", salt)
    wrapped, root = provider.wrap(b"b" * 32, "ctx")
    again = PassphraseKeyProvider("correct horse battery staple", salt)
    assert again.unwrap(wrapped, "ctx", root) == b"b" * 32
    with pytest.raises(KeyNotFound):
        PassphraseKeyProvider("another passphrase of length", salt).unwrap(wrapped, "ctx", root)
    with pytest.raises(ConfigurationError):
        PassphraseKeyProvider("short", salt)
    with pytest.raises(CryptoError):
        provider.rotate()
    monkeypatch.delenv("CV_TEST_PASSPHRASE")
    with pytest.raises(ConfigurationError):
        PassphraseKeyProvider.from_env("CV_TEST_PASSPHRASE", salt)


@mock_aws
def test_kms_provider_wraps_unwraps_and_rotates_by_alias() -> None:
    """Uses moto's in-process KMS: no real KMS is reachable from this machine."""
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")
    kms.create_alias(AliasName="alias/carevault-test", TargetKeyId=key["KeyMetadata"]["KeyId"])
    provider = AwsKmsKeyProvider("alias/carevault-test", kms)
    wrapped, root = provider.wrap(b"c" * 32, "branch|t1|1")
    assert provider.unwrap(wrapped, "branch|t1|1", root) == b"c" * 32
    with pytest.raises(CryptoError):
        provider.unwrap(wrapped, "branch|t2|1", root)
    new_root = provider.rotate()
    assert new_root != root and provider.current_id() == new_root
    assert provider.unwrap(wrapped, "branch|t1|1", root) == b"c" * 32
    _, after = provider.wrap(b"d" * 32, "ctx")
    assert after == new_root
    key, wrapped_new, root_new = provider.generate("index|t1|1")  # GenerateDataKey
    assert len(key) == 32 and root_new == new_root
    assert provider.unwrap(wrapped_new, "index|t1|1", root_new) == key
    with pytest.raises(ConfigurationError):
        AwsKmsKeyProvider("plain-key-id", kms)


def test_keyring_cache_stays_within_its_size(tmp_path: Path) -> None:
    from carevault.crypto import Keyring
    from carevault.store import open_store

    keys = open_store(f"sqlite:///{tmp_path / 'keys.db'}")
    keys.create_table()
    ring = Keyring(keys, LocalKeyProvider.create(tmp_path / "root.key"), cache_size=5)
    ring.ensure_tenant("t1")
    for i in range(20):
        ring.subject_key("t1", f"s{i}", create=True)
        assert len(ring._cache) <= 5
    assert ring.subject_key("t1", "s19")[0] == 1  # still served, from cache or the table
