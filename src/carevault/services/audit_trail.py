"""Reading audit events (A15): by clinic and time, by patient, by compliance level and time."""

from __future__ import annotations

import heapq
from datetime import date, datetime

from carevault.domain.audit import SHARDS, AuditEvent, Level
from carevault.services.practice import Practice
from carevault.store import SortKey

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def record(*, practice: Practice, event: AuditEvent) -> AuditEvent:
    """Store one event (it holds ids and enums only)."""
    saved = practice.uow[AuditEvent].add(event)
    practice.uow.commit()
    return saved


def on_day(*, practice: Practice, day: date) -> list[AuditEvent]:
    """A clinic's events of one UTC day in time order: one query per shard (4), merged."""
    shards = [
        list(practice.uow[AuditEvent].query_all("gsi1", f"AUDIT#DAY#{day.isoformat()}#S{s}"))
        for s in range(SHARDS)
    ]
    return list(heapq.merge(*shards, key=lambda e: (e.at, e.id)))


def disclosures(*, practice: Practice, patient_id: str, since: datetime) -> list[AuditEvent]:
    """Every event about one patient since a time: the accounting of disclosures (one query)."""
    return list(
        practice.uow[AuditEvent].query_all(
            "gsi3", f"AUDIT#PATIENT#{patient_id}", sk=SortKey.ge(since.strftime(_ISO))
        )
    )


def by_level(*, practice: Practice, level: Level, day: date) -> list[AuditEvent]:
    """A day's events of one compliance level, in time order (one query)."""
    return list(
        practice.uow[AuditEvent].query_all("gsi4", f"AUDIT#LEVEL#{level.value}#{day.isoformat()}")
    )
