"""Index key rotation: dual-write, resumable backfill, dual-read until done, then retire.

Phases, recorded in the key table (``T#{t}#INDEX`` / ``JOB``) so an interrupted job
resumes where it stopped:

1. write and read both the old and the new index key; sweep every record so it also has
   beacons under the new key;
2. write the new key only; sweep again, dropping old-key beacons (this also catches
   records written during phase 1);
3. read the new key only and delete the old key.

Between pointer moves the job waits ``settle`` seconds (default: the keyring's cache TTL)
so every process has seen the move before the sweep relies on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from carevault.errors import ConflictError
from carevault.repo.records import Records

SAVE_EVERY = 25


def rotate_index(
    records: Records,
    *,
    progress: Callable[[int], None] | None = None,
    settle: float | None = None,
    limit: int | None = None,
) -> bool:
    """Run (or resume) the tenant's index key rotation; False if stopped by ``limit``."""
    ring, tenant = records.ring, records.tenant
    wait = ring.cache_ttl if settle is None else settle
    job_key = (f"T#{tenant}#INDEX", "JOB")
    job = ring.keys.get(*job_key)
    if job is None:
        current = ring.index_keys(tenant)
        old = list(current.write)
        new = ring.add_index_version(tenant)
        ring.set_index_versions(tenant, write=[*old, new], read=sorted({*current.read, new}))
        job = {"pk": job_key[0], "sk": job_key[1], "new": new, "old": old, "phase": 1,
               "type": "", "after": ""}  # fmt: skip
        ring.keys.put_key(job)
        time.sleep(wait)
    done = 0
    while job["phase"] in (1, 2):
        for type_name in sorted(records.types):
            if type_name < job["type"]:
                continue
            after = job["after"] if type_name == job["type"] else ""
            for count, record_id in enumerate(records.ids(type_name, after=after), 1):
                _reindex(records, type_name, record_id)
                done += 1
                if progress:
                    progress(1)
                if count % SAVE_EVERY == 0 or (limit is not None and done >= limit):
                    job = _save(records, job, type=type_name, after=record_id)
                if limit is not None and done >= limit:
                    return False
            job = _save(records, job, type=type_name, after="\U0010ffff")
        if job["phase"] == 1:
            ring.set_index_versions(tenant, write=[job["new"]], read=[*job["old"], job["new"]])
            time.sleep(wait)
        job = _save(records, job, phase=job["phase"] + 1, type="", after="")
    ring.set_index_versions(tenant, write=[job["new"]], read=[job["new"]])
    for version in job["old"]:
        ring.drop_index_version(tenant, version)
    ring.keys.delete(*job_key)
    return True


def _reindex(records: Records, type_name: str, record_id: str) -> None:
    for _ in range(10):
        try:
            records.reindex(type_name, record_id)
            return
        except ConflictError:  # a writer changed it meanwhile; its write used current keys
            continue
    records.reindex(type_name, record_id)


def _save(records: Records, job: dict[str, Any], **changes: Any) -> dict[str, Any]:
    job = {**job, **changes}
    records.ring.keys.put_key(job)
    return job
