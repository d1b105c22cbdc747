"""Ed25519 keys that sign each tenant's audit chain heads, kept wrapped in the key table.

    T#{t}#SIGN / #        current version
    T#{t}#SIGN / V#{n}    private seed wrapped by the root, and the public key in the clear

Old versions stay so heads signed before a rotation still verify.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from carevault.crypto.keyring import Keyring, _v
from carevault.crypto.keytable import ABSENT, Expect
from carevault.errors import ConflictError, KeyNotFound


class HeadSigner(Protocol):
    """What an audit trail signs its heads and checkpoints with."""

    def sign(self, message: bytes) -> tuple[int, bytes]: ...

    def verify(self, version: int, message: bytes, signature: bytes) -> bool: ...


class HeldKey:
    """One version of a tenant's signing key, held in memory (the audit appender's copy)."""

    def __init__(self, version: int, seed: bytes) -> None:
        self.version = version
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    def sign(self, message: bytes) -> tuple[int, bytes]:
        return self.version, self._key.sign(message)

    def verify(self, version: int, message: bytes, signature: bytes) -> bool:
        if version != self.version:
            return False
        try:
            self._key.public_key().verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """Signs and verifies audit heads for one tenant."""

    def __init__(self, ring: Keyring, tenant: str) -> None:
        self.ring, self.tenant = ring, tenant
        self._private: dict[int, Ed25519PrivateKey] = {}
        self._current: tuple[float, int] | None = None
        self._public: dict[int, Ed25519PublicKey] = {}

    @property
    def _pk(self) -> str:
        return f"T#{self.tenant}#SIGN"

    def _context(self, version: int) -> str:
        return f"sign|{self.tenant}|{version}"

    def current(self) -> int:
        """The version new signatures use (created on first use; cached for the key TTL)."""
        now = time.monotonic()
        if self._current is not None and self._current[0] > now:
            return self._current[1]
        pointer = self.ring.keys.get(self._pk, "#")
        version = self.rotate(expected=0) if pointer is None else int(pointer["current"])
        self._current = (now + self.ring.cache_ttl, version)
        return version

    def rotate(self, expected: int | None = None) -> int:
        """Make a new signing key current; returns its version."""
        pointer = self.ring.keys.get(self._pk, "#")
        current = 0 if pointer is None else int(pointer["current"])
        if expected is not None and current != expected:
            return current
        version = current + 1
        seed, wrapped, root = self.ring.provider.generate(self._context(version))
        public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        item = {"pk": self._pk, "sk": _v(version), "wrapped": wrapped, "root": root, "public": raw}
        expect = ABSENT if pointer is None else Expect.equals("current", current)
        try:
            self.ring.keys.put_keys(
                [(item, None), ({"pk": self._pk, "sk": "#", "current": version}, expect)]
            )
        except ConflictError:  # another process made it first: use theirs
            self._current = None
            return self.current()
        self._current = None
        return version

    def _item(self, version: int) -> dict[str, Any]:
        item = self.ring.keys.get(self._pk, _v(version))
        if item is None:
            raise KeyNotFound(f"tenant {self.tenant!r} has no audit signing key {version}")
        return item

    def sign(self, message: bytes) -> tuple[int, bytes]:
        """(key version, signature) of ``message`` under the current key."""
        version, key = self.private_key()
        return version, key.sign(message)

    def private_key(self) -> tuple[int, Ed25519PrivateKey]:
        """(version, key) of the current signing key."""
        version = self.current()
        key = self._private.get(version)
        if key is None:
            item = self._item(version)
            seed = self.ring.provider.unwrap(
                item["wrapped"],
                self._context(version),
                item["root"],
            )
            key = self._private[version] = Ed25519PrivateKey.from_private_bytes(seed)
        return version, key

    def seed(self) -> tuple[int, bytes]:
        """(version, raw private bytes) of the current key, to hand to the audit appender."""
        version, key = self.private_key()
        return version, key.private_bytes_raw()

    def public_key(self, version: int) -> Ed25519PublicKey | None:
        """The public key of ``version``, or None if there is no such key."""
        key = self._public.get(version)
        if key is None:
            try:
                raw = self._item(version)["public"]
            except KeyNotFound:
                return None
            key = self._public[version] = Ed25519PublicKey.from_public_bytes(raw)
        return key

    def verify(self, version: int, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this tenant's key ``version`` signing ``message``."""
        key = self.public_key(version)
        if key is None:
            return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True
