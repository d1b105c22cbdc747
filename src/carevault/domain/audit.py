"""Audit events: who did what to which record, when, with what outcome; never PHI."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator

from carevault.domain.base import Entity, Id, Key, UtcDateTime

SHARDS = 4
"""Partitions one clinic's events of a day are spread over (a bounded fan-out to read)."""


class Action(StrEnum):
    CREATE = "CREATE"
    READ = "READ"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    EXPORT = "EXPORT"
    SEARCH = "SEARCH"
    LOGIN = "LOGIN"
    LOGOUT = "LOGOUT"
    LOGIN_FAILED = "LOGIN_FAILED"
    DENIED = "DENIED"
    BREAK_GLASS = "BREAK_GLASS"


class Level(StrEnum):
    STANDARD = "STANDARD"
    HIPAA = "HIPAA"
    CRITICAL = "CRITICAL"


class Outcome(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DENIED = "DENIED"


class ShredReason(StrEnum):
    """Why a patient's data key was destroyed (recorded as the event's purpose)."""

    PATIENT_REQUEST = "PATIENT_REQUEST"
    RETENTION_ENDED = "RETENTION_ENDED"
    LEGAL_ORDER = "LEGAL_ORDER"
    RECORD_IN_ERROR = "RECORD_IN_ERROR"


class AuditEvent(Entity):
    """One audited action; ids and enums only, so it can be kept and shown without PHI."""

    TYPE: ClassVar[str] = "AUDIT"
    RESOURCE: ClassVar[str | None] = "audit"
    PATIENT: ClassVar[str | None] = None
    SUBJECT: ClassVar[str | None] = None
    HOME: ClassVar[tuple[str, str]] = ("AUDIT#S{shard}", "E#{seq}")  # a hash-chained log
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi1",
            pk="AUDIT#DAY#{day}#S{shard}",
            sk="{at}#{id}",
            purpose="a clinic's events by time, sharded (A15)",
        ),
        Key(
            index="gsi3",
            pk="AUDIT#PATIENT#{patient_id}",
            sk="{at}#{id}",
            purpose="accounting of disclosures for a patient (A15)",
        ),
        Key(
            index="gsi4",
            pk="AUDIT#LEVEL#{level}#{day}#S{shard}",
            sk="{at}#{id}",
            purpose="events by compliance level and time, sharded (A15)",
        ),
    )

    at: UtcDateTime
    day: date | None = None  # derived from ``at``
    shard: int = Field(default=0, ge=0, lt=SHARDS)  # the chain it was appended to
    seq: int = Field(default=0, ge=0)  # its place in that chain
    actor_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_:-]+$")
    role: str = Field(min_length=1, max_length=20)
    action: Action
    resource_type: str = Field(min_length=1, max_length=20, pattern=r"^[A-Z_]+$")
    resource_id: Id | None = None
    patient_id: Id | None = None
    purpose: str = Field(default="TREATMENT", max_length=20, pattern=r"^[A-Z_]+$")
    outcome: Outcome = Outcome.SUCCESS
    level: Level = Level.HIPAA
    request_id: str | None = Field(default=None, max_length=64)
    withheld: bool = False  # the request named an id that was not a well-formed one
    address: str | None = Field(default=None, max_length=45, pattern=r"^[0-9A-Fa-f:.]+$")
    agent: str | None = Field(default=None, max_length=200, pattern=r"^[ -~]*$")

    IDS: ClassVar[tuple[str, ...]] = ("resource_id", "patient_id")
    """Fields that hold ids taken from requests: recorded only when well formed."""

    @model_validator(mode="after")
    def _derived(self) -> AuditEvent:
        object.__setattr__(self, "day", self.at.date())
        return self
