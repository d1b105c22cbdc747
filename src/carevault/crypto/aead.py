"""AES-256-GCM with a versioned stored form: format byte, key version, nonce, ciphertext.

    0x01 | key version (4 bytes, big-endian) | nonce (12 bytes) | ciphertext + tag (16 bytes)

The associated data binds a ciphertext to where it belongs (tenant, record, field, key
version); opening it anywhere else fails with IntegrityError.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from carevault.errors import IntegrityError

FORMAT = 1
HEADER = struct.Struct(">BI")
NONCE = 12
TAG = 16
MIN_SIZE = HEADER.size + NONCE + TAG


def seal(key: bytes, version: int, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``key`` (of ``version``), bound to ``aad``."""
    nonce = os.urandom(NONCE)
    header = HEADER.pack(FORMAT, version)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def version_of(blob: bytes) -> int:
    """The key version a sealed blob names; IntegrityError if it is not a sealed blob."""
    if type(blob) is not bytes or len(blob) < MIN_SIZE:
        raise IntegrityError("ciphertext is truncated or not a carevault ciphertext")
    fmt, version = HEADER.unpack_from(blob)
    if fmt != FORMAT:
        raise IntegrityError(f"ciphertext has unknown format {fmt}")
    return int(version)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob from ``seal``; IntegrityError if it was altered or moved."""
    version_of(blob)
    header, nonce = blob[: HEADER.size], blob[HEADER.size : HEADER.size + NONCE]
    body = blob[HEADER.size + NONCE :]
    try:
        return AESGCM(key).decrypt(nonce, body, header + aad)
    except InvalidTag:
        raise IntegrityError(
            "ciphertext failed authentication: altered, truncated, or from another context"
        ) from None
