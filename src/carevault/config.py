"""Where carevault keeps things, from flags or the environment.

- ``CAREVAULT_HOME`` (default ``./.carevault``): root key file, salt, local state.
- ``CAREVAULT_STORE``: the data store URL (default ``sqlite:///$CAREVAULT_HOME/carevault.db``).
- The key table lives beside it in a store of its own (never in data backups):
  ``…/carevault-keys.db``, schema ``{schema}_keys``, or table ``{table}-keys``.
- The root key: ``CAREVAULT_KMS_KEY=alias/NAME`` (AWS KMS), else
  ``CAREVAULT_ROOT_PASSPHRASE`` (scrypt), else the file ``$CAREVAULT_HOME/root.key``.
- ``CAREVAULT_BLOBS``: where document contents go, sealed (default
  ``file://$CAREVAULT_HOME/blobs``; ``s3://bucket/prefix`` for S3).
- ``CAREVAULT_KEY_CACHE_TTL`` (seconds, default 300): how long unwrapped keys stay in
  memory; also how long a rotation waits for every process to see each step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3

from carevault.crypto.keyring import Keyring
from carevault.crypto.providers import (
    AwsKmsKeyProvider,
    KeyProvider,
    LocalKeyProvider,
    PassphraseKeyProvider,
)
from carevault.errors import ConfigurationError
from carevault.store import Store, open_store

PASSPHRASE_VAR = "CAREVAULT_ROOT_PASSPHRASE"  # noqa: S105 (a variable name)
KMS_VAR = "CAREVAULT_KMS_KEY"


def key_store_url(url: str) -> str:
    """The URL of the key table that belongs to the data store at ``url``."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path, _, query = url[len("sqlite:///") :].partition("?")
        stem = path[:-3] if path.endswith(".db") else path
        return f"sqlite:///{stem}-keys.db" + (f"?{query}" if query else "")
    parts = urlsplit(url)
    if scheme in ("postgresql", "postgres"):
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        params["schema"] = params.get("schema", "carevault") + "_keys"
        return urlunsplit(parts._replace(query=urlencode(params)))
    if scheme == "dynamodb":
        return urlunsplit(parts._replace(netloc=f"{parts.netloc}-keys"))
    raise ConfigurationError(f"store URL: unknown engine {scheme!r}")


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the data store, the key table and the root key."""

    home: Path
    store_url: str
    cache_ttl: float = 300.0

    @classmethod
    def load(cls, store: str | None = None, home: str | None = None) -> Settings:
        """Settings from explicit values, else the environment, else the defaults."""
        root = Path(home or os.environ.get("CAREVAULT_HOME") or "./.carevault")
        url = store or os.environ.get("CAREVAULT_STORE") or f"sqlite:///{root}/carevault.db"
        ttl = os.environ.get("CAREVAULT_KEY_CACHE_TTL", "300")
        try:
            cache_ttl = float(ttl)
        except ValueError:
            raise ConfigurationError(
                "CAREVAULT_KEY_CACHE_TTL: must be a number of seconds"
            ) from None
        if not 0 <= cache_ttl <= 86400:
            raise ConfigurationError("CAREVAULT_KEY_CACHE_TTL: must be from 0 to 86400 seconds")
        return cls(root, url, cache_ttl)

    @property
    def keys_url(self) -> str:
        return key_store_url(self.store_url)

    @property
    def blobs_url(self) -> str:
        return os.environ.get("CAREVAULT_BLOBS") or f"file://{self.home.resolve()}/blobs"

    @property
    def root_key_path(self) -> Path:
        return self.home / "root.key"

    def _salt(self, create: bool) -> bytes:
        path = self.home / "root.salt"
        if not path.exists():
            if not create:
                raise ConfigurationError(f"{path} is missing: run `carevault init`")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(os.urandom(16))
        return path.read_bytes()

    def provider(self, create: bool = False) -> KeyProvider:
        """The root key provider; ``create`` makes a local root key file if none exists."""
        alias = os.environ.get(KMS_VAR)
        if alias:
            return AwsKmsKeyProvider(alias, boto3.client("kms"))
        if os.environ.get(PASSPHRASE_VAR):
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            return PassphraseKeyProvider.from_env(PASSPHRASE_VAR, self._salt(create))
        if create and not self.root_key_path.exists():
            return LocalKeyProvider.create(self.root_key_path)
        return LocalKeyProvider.load(self.root_key_path)

    def open(self, create: bool = False) -> tuple[Store, Keyring]:
        """The data store and the keyring over its key table."""
        provider = self.provider(create)
        data, keys = open_store(self.store_url), open_store(self.keys_url)
        if create:
            data.create_table()
            keys.create_table()
        return data, Keyring(keys, provider, cache_ttl=self.cache_ttl)
