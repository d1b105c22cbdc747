"""The key hierarchy: root (provider) -> tenant branch keys -> subject data keys -> fields.

Every key lives wrapped in the key table, a store of its own (never in data backups):

    KEYS#TENANTS          / {tenant}          a tenant exists (root rotation walks these)
    T#{t}#BRANCH          / #                 current branch version
    T#{t}#BRANCH          / V#{n}             branch key n, wrapped by the root
    T#{t}#INDEX           / #                 index key versions to write and to read
    T#{t}#INDEX           / V#{m}             index key m, wrapped by the root
    T#{t}#SUBJECT#{s}     / #                 subject key, wrapped by branch n
                                              (GSI1: T#{t}#SUBJECTS#B{n} / s) or a tombstone

Unwrapped keys are cached in memory for ``cache_ttl`` seconds, so a warm read makes no
provider call and no key-table read. Shredding a subject removes its key everywhere at
once in this process; other processes drop their cached copy within ``cache_ttl``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from carevault.crypto.aead import cipher, open_sealed, seal
from carevault.crypto.keytable import ABSENT, Expect, KeyItem, KeyTable
from carevault.crypto.providers import KEY_BYTES, KeyProvider
from carevault.errors import (
    ConditionFailed,
    ConflictError,
    KeyDestroyed,
    KeyNotFound,
    NotFound,
)

Progress = Callable[[int], None]
TENANTS = "KEYS#TENANTS"


def _v(n: int) -> str:
    return f"V#{n:08d}"


@dataclass(frozen=True, slots=True)
class IndexKeys:
    """A tenant's index keys: versions new beacons are written under, and read under."""

    write: tuple[int, ...]
    read: tuple[int, ...]
    keys: dict[int, bytes]


class Keyring:
    """Keys for many tenants, from one key table and one root provider."""

    def __init__(
        self,
        keys: KeyTable,
        provider: KeyProvider,
        *,
        cache_ttl: float = 300.0,
        cache_size: int = 100_000,
    ) -> None:
        self.keys = keys
        self.provider = provider
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._ensured: set[str] = set()  # tenants known to have keys (they are never removed)
        self._lock = threading.Lock()

    # -- cache ---------------------------------------------------------------------

    def _cached(self, key: tuple[str, ...], load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._cache) >= self.cache_size:
                self._evict(now)
            self._cache[key] = (now + self.cache_ttl, value)
        return value

    def _evict(self, now: float) -> None:
        """Drop expired entries, then the oldest, so the cache stays within its size."""
        for stale in [k for k, (expiry, _) in self._cache.items() if expiry <= now]:
            del self._cache[stale]
        excess = len(self._cache) - self.cache_size + 1
        for oldest in list(self._cache)[: max(excess, 0)]:
            del self._cache[oldest]

    def forget(self, *prefix: str) -> None:
        """Drop cached keys whose cache key starts with ``prefix`` (all if empty)."""
        with self._lock:
            for key in [k for k in self._cache if k[: len(prefix)] == prefix]:
                del self._cache[key]

    # -- tenants and branch keys ---------------------------------------------------

    def new_wrapped(self, pk: str, sk: str, context: str) -> dict[str, Any]:
        """A key-table item holding a new root-wrapped key."""
        _, wrapped, root = self.provider.generate(context)
        return {"pk": pk, "sk": sk, "wrapped": wrapped, "root": root, "created": int(time.time())}

    def ensure_tenant(self, tenant: str) -> None:
        """Create the tenant's first branch and index keys, once (safe to repeat and race)."""
        if tenant in self._ensured:
            return
        for _ in range(5):
            if self.keys.get(f"T#{tenant}#BRANCH", "#") is not None:
                self._ensured.add(tenant)
                return
            writes: list[tuple[KeyItem, Expect | None]] = [
                ({"pk": TENANTS, "sk": tenant}, None),
                (self.new_wrapped(f"T#{tenant}#BRANCH", _v(1), f"branch|{tenant}|1"), None),
                ({"pk": f"T#{tenant}#BRANCH", "sk": "#", "current": 1, "version": 1}, ABSENT),
                (self.new_wrapped(f"T#{tenant}#INDEX", _v(1), f"index|{tenant}|1"), None),
                (
                    {"pk": f"T#{tenant}#INDEX", "sk": "#", "write": [1], "read": [1], "version": 1},
                    None,
                ),
            ]
            try:
                self.keys.put_keys(writes)
                self._ensured.add(tenant)
                return
            except ConflictError:  # a racing creator: look again
                continue
        raise KeyNotFound(f"tenant {tenant!r}: keys could not be created")

    def has_tenant(self, tenant: str) -> bool:
        """Whether ``tenant`` was created (its keys exist); reads only."""
        if tenant in self._ensured:
            return True
        if self.keys.get(f"T#{tenant}#BRANCH", "#") is None:
            return False
        self._ensured.add(tenant)  # tenants are never deleted: remembered for good
        return True

    def require_tenant(self, tenant: str) -> None:
        """NotFound unless ``tenant`` was created."""
        if not self.has_tenant(tenant):
            raise NotFound("tenant", tenant)

    def tenants(self) -> list[str]:
        """Every tenant with keys."""
        return [item["sk"] for item in self.keys.query_all(TENANTS)]

    def current_branch(self, tenant: str) -> int:
        """The branch version new subject keys are wrapped under."""
        pointer = self.keys.get(f"T#{tenant}#BRANCH", "#")
        if pointer is None:
            raise KeyNotFound(f"tenant {tenant!r} has no keys: create it first")
        return int(pointer["current"])

    def _unwrap_root(self, item: dict[str, Any], context: str) -> bytes:
        return self.provider.unwrap(item["wrapped"], context, item["root"])

    def branch_key(self, tenant: str, version: int) -> AESGCM:
        """Branch key ``version`` of ``tenant``, unwrapped, as a cipher (cached)."""

        def load() -> AESGCM:
            item = self.keys.get(f"T#{tenant}#BRANCH", _v(version))
            if item is None:
                raise KeyNotFound(f"tenant {tenant!r} has no branch key version {version}")
            return cipher(self._unwrap_root(item, f"branch|{tenant}|{version}"))

        key: AESGCM = self._cached(("branch", tenant, str(version)), load)
        return key

    # -- subject keys --------------------------------------------------------------

    def subject_key(self, tenant: str, subject: str, *, create: bool = False) -> tuple[int, AESGCM]:
        """(key version, cipher) of a subject's data key; created on first write if asked."""

        def load() -> tuple[int, AESGCM]:
            item = self.keys.get(f"T#{tenant}#SUBJECT#{subject}", "#")
            if item is None and create:
                item = self._create_subject(tenant, subject)
            if item is None:
                raise KeyNotFound(f"no data key for subject in tenant {tenant!r}")
            if "wrapped" not in item:
                raise KeyDestroyed("the subject's data key was destroyed; its data is unreadable")
            version, key = self.unwrap_subject(tenant, subject, item)
            return version, cipher(key)

        found: tuple[int, AESGCM] = self._cached(("subject", tenant, subject), load)
        return found

    def unwrap_subject(self, tenant: str, subject: str, item: dict[str, Any]) -> tuple[int, bytes]:
        """(key version, raw key) of a stored subject key item."""
        branch = int(item["branch"])
        context = f"subject|{tenant}|{subject}|{branch}".encode()
        return int(item["kv"]), open_sealed(
            self.branch_key(tenant, branch), item["wrapped"], context
        )

    def subject_item(self, tenant: str, subject: str, key: bytes, branch: int) -> dict[str, Any]:
        context = f"subject|{tenant}|{subject}|{branch}".encode()
        return {
            "pk": f"T#{tenant}#SUBJECT#{subject}",
            "sk": "#",
            "wrapped": seal(self.branch_key(tenant, branch), branch, key, context),
            "branch": branch,
            "kv": 1,
            "gsi1pk": f"T#{tenant}#SUBJECTS#B{branch:08d}",
            "gsi1sk": subject,
        }

    def _create_subject(self, tenant: str, subject: str) -> dict[str, Any]:
        item = self.subject_item(
            tenant, subject, os.urandom(KEY_BYTES), self.current_branch(tenant)
        )
        try:
            self.keys.put_key(item, ABSENT)
            return item
        except ConditionFailed:  # another writer created it first: use theirs
            winner = self.keys.get(f"T#{tenant}#SUBJECT#{subject}", "#")
            if winner is None:
                raise KeyNotFound("the subject's data key vanished while being created") from None
            return winner

    def shred(self, tenant: str, subject: str) -> None:
        """Destroy a subject's data key: every copy of its sealed data becomes unreadable."""
        self.keys.put_key(
            {"pk": f"T#{tenant}#SUBJECT#{subject}", "sk": "#", "destroyed": int(time.time())}
        )
        self.forget("subject", tenant, subject)

    # -- index keys ----------------------------------------------------------------

    def index_keys(self, tenant: str) -> IndexKeys:
        """The tenant's index keys for writing and reading beacons (cached)."""

        def load() -> IndexKeys:
            pointer = self._index_pointer(tenant)
            versions = sorted(set(pointer["write"]) | set(pointer["read"]))
            items = self.keys.batch_get([(f"T#{tenant}#INDEX", _v(v)) for v in versions])
            keys = {}
            for version, item in zip(versions, items, strict=True):
                if item is None:
                    raise KeyNotFound(f"tenant {tenant!r} lacks index key version {version}")
                keys[version] = self._unwrap_root(item, f"index|{tenant}|{version}")
            return IndexKeys(tuple(pointer["write"]), tuple(pointer["read"]), keys)

        found: IndexKeys = self._cached(("index", tenant), load)
        return found

    def _index_pointer(self, tenant: str) -> dict[str, Any]:
        pointer = self.keys.get(f"T#{tenant}#INDEX", "#")
        if pointer is None:
            raise KeyNotFound(f"tenant {tenant!r} has no index keys: create it first")
        return pointer

    def set_index_versions(self, tenant: str, write: list[int], read: list[int]) -> None:
        """Move the tenant's index pointer (a rotation step), with optimistic locking."""
        pointer = self._index_pointer(tenant)
        self.keys.put_key(
            {**pointer, "write": write, "read": read, "version": pointer["version"] + 1},
            Expect.equals("version", pointer["version"]),
        )
        self.forget("index", tenant)

    def add_index_version(self, tenant: str) -> int:
        """Create the next index key version (not yet used) and return it."""
        pointer = self._index_pointer(tenant)
        version = int(max([*pointer["write"], *pointer["read"]])) + 1
        item = self.new_wrapped(f"T#{tenant}#INDEX", _v(version), f"index|{tenant}|{version}")
        self.keys.put_key(item, ABSENT)
        return version

    def drop_index_version(self, tenant: str, version: int) -> None:
        """Delete a retired index key version."""
        self.keys.delete(f"T#{tenant}#INDEX", _v(version))
        self.forget("index", tenant)
