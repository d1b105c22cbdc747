"""Reading and recording audit events (A15): by clinic and day, by patient, by level."""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from datetime import date, datetime

from carevault.domain.audit import AuditEvent, Level
from carevault.errors import ValidationError
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


_AFTER = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ#[0-9A-HJKMNP-TV-Z]{26}$")


def position(event: AuditEvent) -> str:
    """An event's place in a day's listing (its index sort key): what a cursor names."""
    return f"{event.at.strftime(_ISO)}#{event.id}"


def _merged_page(
    practice: Practice, index: Index, partition: str, limit: int, cursor: str | None
) -> Page:
    """A page of a sharded partition: each chain's next ``limit`` + 1, merged, cut."""
    if cursor is not None and not _AFTER.match(cursor):
        raise ValidationError("query.cursor", "must be a cursor this listing returned")
    trail = practice.audit
    after = SortKey.gt(cursor) if cursor is not None else None
    chains = [
        trail.first(index, f"{partition}#S{shard}", limit + 1, after)
        for shard in range(trail.shards)
    ]
    merged = list(heapq.merge(*chains, key=lambda e: (e.at, e.id)))
    shown = merged[:limit]
    more = len(merged) > limit
    return Page(shown, position(shown[-1]) if more and shown else None)


@dataclass(frozen=True)
class Page:
    """A page of audit events and the cursor of the next (None at the end)."""

    items: list[AuditEvent]
    cursor: str | None


def day_page(
    *, practice: Practice, day: date, limit: int, cursor: str | None, level: Level | None = None
) -> Page:
    """A page of a clinic's events of one UTC day (of one level, when given), in time order."""
    if level is not None:
        return _merged_page(practice, "gsi4", f"AUDIT#LEVEL#{level.value}#{day}", limit, cursor)
    return _merged_page(practice, "gsi1", f"AUDIT#DAY#{day.isoformat()}", limit, cursor)


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
