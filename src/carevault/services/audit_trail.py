"""Reading and recording audit events (A15): by clinic and day, by patient, by level."""

from __future__ import annotations

import heapq
from datetime import date, datetime

from carevault.domain.audit import AuditEvent, Level
from carevault.services.practice import Practice
from carevault.store import Index, SortKey

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def record(*, practice: Practice, event: AuditEvent) -> AuditEvent:
    """Append one event to the clinic's chain (it holds ids and enums only)."""
    practice.audit.append([event])
    return event


def _merged(practice: Practice, index: Index, partition: str) -> list[AuditEvent]:
    """Events of a sharded partition: one query per chain, merged in time order."""
    trail = practice.audit
    chains = [trail.query(index, f"{partition}#S{shard}") for shard in range(trail.shards)]
    return list(heapq.merge(*chains, key=lambda e: (e.at, e.id)))


def on_day(*, practice: Practice, day: date) -> list[AuditEvent]:
    """A clinic's events of one UTC day in time order: one query per chain, merged."""
    return _merged(practice, "gsi1", f"AUDIT#DAY#{day.isoformat()}")


def disclosures(*, practice: Practice, patient_id: str, since: datetime) -> list[AuditEvent]:
    """Every event about one patient since a time: the accounting of disclosures (one query)."""
    partition = f"AUDIT#PATIENT#{patient_id}"
    return practice.audit.query("gsi3", partition, sk=SortKey.ge(since.strftime(_ISO)))


def by_level(*, practice: Practice, level: Level, day: date) -> list[AuditEvent]:
    """A day's events of one compliance level in time order: one query per chain, merged."""
    return _merged(practice, "gsi4", f"AUDIT#LEVEL#{level.value}#{day.isoformat()}")
