"""Key rotations without downtime: root, branch, and (with records.py) index keys.

Each is a resumable job: what it has done is visible in the key table itself, so running
it again after an interruption picks up where it stopped, and readers keep working
throughout because every wrapped key names the key that wraps it.
"""

from __future__ import annotations

from contextlib import suppress
from itertools import islice

from carevault.crypto.keyring import Keyring, Progress, _v
from carevault.crypto.keytable import ABSENT, Expect
from carevault.errors import ConditionFailed, KeyNotFound


def rotate_root(ring: Keyring, progress: Progress | None = None) -> int:
    """Make a new root key current, then re-wrap every branch and index key under it."""
    ring.provider.rotate()
    return rewrap_root(ring, progress)


def rewrap_root(ring: Keyring, progress: Progress | None = None) -> int:
    """Re-wrap every branch, index and audit-signing key not under the current root (resumable)."""
    current, done = ring.provider.current_id(), 0
    for tenant in ring.tenants():
        for kind in ("BRANCH", "INDEX", "SIGN"):
            for item in ring.keys.query_all(f"T#{tenant}#{kind}"):
                if item["sk"] == "#" or item["root"] == current:
                    continue
                context = f"{kind.lower()}|{tenant}|{int(item['sk'][2:])}"
                key = ring.provider.unwrap(item["wrapped"], context, item["root"])
                wrapped, root = ring.provider.wrap(key, context)
                with suppress(ConditionFailed):  # another job re-wrapped it first
                    ring.keys.put_key(
                        {**item, "wrapped": wrapped, "root": root},
                        Expect.equals("root", item["root"]),
                    )
                done += 1
                if progress:
                    progress(1)
    return done


def rotate_branch(ring: Keyring, tenant: str) -> int:
    """Make a new branch key current for ``tenant``; new subject keys use it at once."""
    pointer = ring.keys.get(f"T#{tenant}#BRANCH", "#")
    if pointer is None:
        raise KeyNotFound(f"tenant {tenant!r} has no keys: create it first")
    version = int(pointer["current"]) + 1
    ring.keys.put_key(
        ring.new_wrapped(f"T#{tenant}#BRANCH", _v(version), f"branch|{tenant}|{version}"),
        ABSENT,
    )
    ring.keys.put_key(
        {**pointer, "current": version, "version": pointer["version"] + 1},
        Expect.equals("version", pointer["version"]),
    )
    return version


def rewrap_subjects(ring: Keyring, tenant: str, progress: Progress | None = None) -> int:
    """Move every subject key of ``tenant`` onto the current branch key (resumable).

    A re-wrapped key leaves its old branch's GSI partition, so the job simply drains the
    old partitions; stopping and starting again skips what is done.
    """
    current, done = ring.current_branch(tenant), 0
    for version in range(1, current):
        partition = f"T#{tenant}#SUBJECTS#B{version:08d}"
        while True:
            batch = list(islice(ring.keys.query_all(partition, index="gsi1"), 100))
            if not batch:
                break
            for item in batch:
                subject = item["gsi1sk"]
                _, key = ring.unwrap_subject(tenant, subject, item)
                moved = ring.subject_item(tenant, subject, key, current)
                with suppress(ConditionFailed):  # shredded or moved meanwhile
                    ring.keys.put_key(moved, Expect.equals("branch", version))
                done += 1
                if progress:
                    progress(1)
    return done
