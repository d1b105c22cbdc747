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


def cipher(key: bytes) -> AESGCM:
    """A reusable AES-256-GCM cipher for ``key`` (building one costs more than a decrypt)."""
    return AESGCM(key)


def seal(key: AESGCM, version: int, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``key`` (of ``version``), bound to ``aad``."""
    nonce = os.urandom(NONCE)
    header = HEADER.pack(FORMAT, version)
    return header + nonce + key.encrypt(nonce, plaintext, header + aad)


def version_of(blob: bytes) -> int:
    """The key version a sealed blob names; IntegrityError if it is not a sealed blob."""
    if type(blob) is not bytes or len(blob) < MIN_SIZE:
        raise IntegrityError("ciphertext is truncated or not a carevault ciphertext")
    fmt, version = HEADER.unpack_from(blob)
    if fmt != FORMAT:
        raise IntegrityError(f"ciphertext has unknown format {fmt}")
    return int(version)


def open_sealed(key: AESGCM, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob from ``seal``; IntegrityError if it was altered or moved."""
    version_of(blob)
    header, nonce = blob[: HEADER.size], blob[HEADER.size : HEADER.size + NONCE]
    body = blob[HEADER.size + NONCE :]
    try:
        return key.decrypt(nonce, body, header + aad)
    except InvalidTag:
        raise IntegrityError(
            "ciphertext failed authentication: altered, truncated, or from another context"
        ) from None


def open_fields(
    key: AESGCM, version: int, blobs: dict[str, bytes], prefix: bytes, suffix: bytes
) -> dict[str, bytes]:
    """Open many sealed fields of one record: field ``f`` has associated data
    ``prefix + f + suffix``; every blob must name key ``version``.
    """
    header = HEADER.pack(FORMAT, version)
    start, body = HEADER.size, HEADER.size + NONCE
    out = {}
    try:
        for name, blob in blobs.items():
            if type(blob) is not bytes or len(blob) < MIN_SIZE or blob[:start] != header:
                version_of(blob)  # names what is wrong with it
                raise IntegrityError(f"sealed field {name!r} names another data key version")
            aad = header + prefix + name.encode() + suffix
            out[name] = key.decrypt(blob[start:body], blob[body:], aad)
    except InvalidTag:
        raise IntegrityError(
            "ciphertext failed authentication: altered, truncated, or from another context"
        ) from None
    return out
