"""Root key providers: they wrap and unwrap branch keys, and never see any data.

- ``LocalKeyProvider``: versioned root keys in one file created by ``carevault init``
  (mode 0600; refused if group or others can read it).
- ``PassphraseKeyProvider``: a root key derived with scrypt from a passphrase in an
  environment variable and a stored salt.
- ``AwsKmsKeyProvider``: AWS KMS; wrapping is ``Encrypt``/``Decrypt`` under a key alias,
  rotation points the alias at a new key.

A wrapped key names the root it was wrapped under (``root_id``), so old wraps stay
readable while a root rotation re-wraps them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from carevault.crypto.aead import cipher, open_sealed, seal
from carevault.errors import ConfigurationError, CryptoError, KeyNotFound

KEY_BYTES = 32


class KeyProvider(ABC):
    """Wraps keys under a root key it holds (or that a KMS holds for it)."""

    @abstractmethod
    def current_id(self) -> str:
        """The id of the root key new wraps use."""

    @abstractmethod
    def wrap(self, key: bytes, context: str) -> tuple[bytes, str]:
        """``key`` wrapped under the current root, bound to ``context``; and that root's id."""

    @abstractmethod
    def unwrap(self, wrapped: bytes, context: str, root_id: str) -> bytes:
        """The key from ``wrap``; IntegrityError if ``context`` differs."""

    @abstractmethod
    def rotate(self) -> str:
        """Make a new root current and return its id; older roots still unwrap."""

    def generate(self, context: str) -> tuple[bytes, bytes, str]:
        """A new random 256-bit key: (key, key wrapped for ``context``, root id)."""
        key = os.urandom(KEY_BYTES)
        wrapped, root = self.wrap(key, context)
        return key, wrapped, root


def _version(root_id: str, prefix: str) -> int:
    kind, _, number = root_id.partition(":")
    if kind != prefix or not number.isdigit():
        raise KeyNotFound(f"root key {root_id!r} is not one of this provider's")
    return int(number)


class LocalKeyProvider(KeyProvider):
    """Root keys in a local file, one per version; the newest wraps."""

    def __init__(self, path: Path, keys: dict[int, bytes]) -> None:
        self.path = path
        self._keys = keys
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path) -> LocalKeyProvider:
        """Write a new root key file (mode 0600); refuses to overwrite one."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        provider = cls(path, {1: os.urandom(KEY_BYTES)})
        provider._save(exclusive=True)
        return provider

    @classmethod
    def load(cls, path: Path) -> LocalKeyProvider:
        """Read a root key file; refuses one that group or others can read."""
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise ConfigurationError(
                f"root key file {path} does not exist: run `carevault init`"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"root key file {path} is readable by others (mode {stat.S_IMODE(mode):o});"
                " chmod 600 it"
            )
        try:
            data = json.loads(path.read_text())
            keys = {int(v): base64.b64decode(k) for v, k in data["keys"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"root key file {path} is malformed") from exc
        if not keys or any(len(k) != KEY_BYTES for k in keys.values()):
            raise ConfigurationError(f"root key file {path} holds no valid 256-bit key")
        return cls(path, keys)

    def _save(self, exclusive: bool = False) -> None:
        body = json.dumps(
            {
                "format": 1,
                "keys": {str(v): base64.b64encode(k).decode() for v, k in self._keys.items()},
            }
        )
        flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
        temp = self.path if exclusive else self.path.with_suffix(".tmp")
        try:
            fd = os.open(temp, flags, 0o600)
        except FileExistsError:
            raise ConfigurationError(f"root key file {self.path} already exists") from None
        with os.fdopen(fd, "w") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        if not exclusive:
            os.replace(temp, self.path)

    def current_id(self) -> str:
        return f"local:{max(self._keys)}"

    def wrap(self, key: bytes, context: str) -> tuple[bytes, str]:
        version = max(self._keys)
        return seal(cipher(self._keys[version]), version, key, context.encode()), f"local:{version}"

    def unwrap(self, wrapped: bytes, context: str, root_id: str) -> bytes:
        version = _version(root_id, "local")
        root = self._keys.get(version)
        if root is None:
            raise KeyNotFound(f"root key version {version} is not in {self.path}")
        return open_sealed(cipher(root), wrapped, context.encode())

    def rotate(self) -> str:
        with self._lock:
            self._keys[max(self._keys) + 1] = os.urandom(KEY_BYTES)
            self._save()
        return self.current_id()


class PassphraseKeyProvider(KeyProvider):
    """One root key derived from a passphrase with scrypt (n=2^15, r=8, p=1)."""

    def __init__(self, passphrase: str, salt: bytes) -> None:
        if len(passphrase) < 16:
            raise ConfigurationError("root passphrase: must be at least 16 characters")
        self._key = hashlib.scrypt(
            passphrase.encode(), salt=salt, n=2**15, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32
        )
        self._id = "pass:" + hashlib.sha256(self._key).hexdigest()[:12]
        self._cipher = cipher(self._key)

    @classmethod
    def from_env(cls, variable: str, salt: bytes) -> PassphraseKeyProvider:
        """The provider for the passphrase in environment variable ``variable``."""
        passphrase = os.environ.get(variable)
        if not passphrase:
            raise ConfigurationError(f"root passphrase: environment variable {variable} is empty")
        return cls(passphrase, salt)

    def current_id(self) -> str:
        return self._id

    def wrap(self, key: bytes, context: str) -> tuple[bytes, str]:
        return seal(self._cipher, 1, key, context.encode()), self._id

    def unwrap(self, wrapped: bytes, context: str, root_id: str) -> bytes:
        if root_id != self._id:
            raise KeyNotFound("this key was wrapped under another passphrase")
        return open_sealed(self._cipher, wrapped, context.encode())

    def rotate(self) -> str:
        raise CryptoError(
            "a passphrase root rotates by moving to a key file or KMS: re-wrap with a new provider"
        )


class AwsKmsKeyProvider(KeyProvider):
    """AWS KMS holds the root; ``alias`` names the current key."""

    def __init__(self, alias: str, client: Any) -> None:
        if not alias.startswith("alias/"):
            raise ConfigurationError("kms: the key must be given as alias/NAME")
        self.alias = alias
        self._client = client

    def current_id(self) -> str:
        return str(self._client.describe_key(KeyId=self.alias)["KeyMetadata"]["Arn"])

    def wrap(self, key: bytes, context: str) -> tuple[bytes, str]:
        resp = self._client.encrypt(
            KeyId=self.alias, Plaintext=key, EncryptionContext={"carevault": context}
        )
        return bytes(resp["CiphertextBlob"]), str(resp["KeyId"])

    def generate(self, context: str) -> tuple[bytes, bytes, str]:
        """KMS makes the key (GenerateDataKey): its randomness never depends on this host."""
        resp = self._client.generate_data_key(
            KeyId=self.alias, KeySpec="AES_256", EncryptionContext={"carevault": context}
        )
        return bytes(resp["Plaintext"]), bytes(resp["CiphertextBlob"]), str(resp["KeyId"])

    def unwrap(self, wrapped: bytes, context: str, root_id: str) -> bytes:
        try:
            resp = self._client.decrypt(
                CiphertextBlob=wrapped, KeyId=root_id, EncryptionContext={"carevault": context}
            )
        except self._client.exceptions.InvalidCiphertextException:
            raise CryptoError("kms refused to unwrap: wrong context or damaged key") from None
        return bytes(resp["Plaintext"])

    def rotate(self) -> str:
        key = self._client.create_key(
            KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT", Description="carevault root"
        )
        arn = str(key["KeyMetadata"]["Arn"])
        self._client.update_alias(AliasName=self.alias, TargetKeyId=arn)
        return arn
