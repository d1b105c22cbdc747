"""Beacons (blind indexes): truncated HMACs of normalized values, one key per index.

A beacon of ``bits`` bits matches about one in 2**bits unrelated values, so a lookup
returns false positives that the repository removes after decrypting; fewer bits leak
less about equal values and cost more false positives (docs/encryption.md).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from carevault.crypto.normalize import Normalizer
from carevault.errors import ValidationError


@dataclass(frozen=True, slots=True)
class BeaconIndex:
    """An encrypted-search index: its name, how values normalize, and how many bits it keeps."""

    name: str
    normalize: Normalizer
    bits: int

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValidationError("beacon.name", "must be an identifier")
        if not 4 <= self.bits <= 64:
            raise ValidationError(f"beacon.{self.name}.bits", "must be from 4 to 64")


@lru_cache(maxsize=4096)
def index_key(tenant_key: bytes, index: str) -> bytes:
    """The per-index key, derived from a tenant index key with HKDF-SHA256."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"carevault beacon {index}".encode()
    ).derive(tenant_key)


def beacon(tenant_key: bytes, index: BeaconIndex, value: str) -> str | None:
    """The beacon of ``value`` in ``index`` as fixed-width hex, or None if nothing to index."""
    normalized = index.normalize(value)
    if normalized is None:
        return None
    digest = hmac.new(index_key(tenant_key, index.name), normalized.encode(), hashlib.sha256)
    number = int.from_bytes(digest.digest()[:8], "big") >> (64 - index.bits)
    return f"{number:0{(index.bits + 3) // 4}x}"
