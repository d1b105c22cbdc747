"""Appointments (with status and notes history) and providers' time blocks."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from dateutil.rrule import rrulestr
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carevault.domain.base import (
    Cents,
    ClockTime,
    Currency,
    Entity,
    FieldClass,
    Id,
    Key,
    Short,
    UtcDateTime,
    minutes,
)
from carevault.domain.base import FieldClass as C
from carevault.errors import InvalidTransition

GRANULE = timedelta(minutes=5)
MAX_APPOINTMENT = timedelta(hours=3)


class AppointmentType(StrEnum):
    CONSULTATION = "CONSULTATION"
    FOLLOW_UP = "FOLLOW_UP"
    PROCEDURE = "PROCEDURE"
    URGENT = "URGENT"
    CHECKUP = "CHECKUP"
    THERAPY = "THERAPY"


class Mode(StrEnum):
    IN_PERSON = "IN_PERSON"
    VIDEO = "VIDEO"
    PHONE = "PHONE"


class AppointmentStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    CONFIRMED = "CONFIRMED"
    CHECKED_IN = "CHECKED_IN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"


S = AppointmentStatus
TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    S.SCHEDULED: frozenset({S.CONFIRMED, S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    S.CONFIRMED: frozenset({S.CHECKED_IN, S.CANCELLED, S.NO_SHOW}),
    S.CHECKED_IN: frozenset({S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}
HOLDS_TIME = frozenset({S.SCHEDULED, S.CONFIRMED, S.CHECKED_IN, S.COMPLETED, S.NO_SHOW})
"""Statuses whose appointment keeps its time slots (a cancellation frees them)."""


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: AppointmentStatus
    at: UtcDateTime
    by: str | None = None
    reason: str | None = Field(default=None, max_length=1000)


class NotesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notes: str = Field(max_length=10_000)
    at: UtcDateTime
    by: str | None = None


class Reminder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scheduled_for: UtcDateTime | None = None
    sent: bool = False


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    WAIVED = "WAIVED"


class AppointmentPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fee: Cents = 0
    currency: Currency = "USD"
    status: PaymentStatus = PaymentStatus.PENDING
    method: str | None = Field(default=None, max_length=40)


class Appointment(Entity):
    """A booked visit of a patient with a provider; times are UTC instants."""

    TYPE: ClassVar[str] = "APPT"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset(
        {
            "day",
            "status",
            "status_history",
            "cancelled_at",
            "cancelled_by",
            "cancellation_reason",
            "payment",
            "notes_history",
        }
    )
    RESOURCE: ClassVar[str | None] = "appointment"
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "reason": C.VISIT,
        "preparation": C.VISIT,
        "cancellation_reason": C.VISIT,
        "status_history": C.VISIT,
        "notes": C.NOTES,
        "notes_history": C.NOTES,
        "payment": C.FINANCIAL,
    }
    PHI: ClassVar[frozenset[str]] = frozenset(
        {"reason", "preparation", "notes", "notes_history", "status_history", "cancellation_reason"}
    )
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi1", pk="APPT#DAY#{day}", sk="{start}#{id}", purpose="clinic day (A8)"),
        Key(
            index="gsi3",
            pk="PROVIDER#{provider_id}",
            sk="{start}#APPT#{id}",
            purpose="provider time line (A7)",
        ),
        Key(
            index="gsi4",
            pk="PROVIDER#{provider_id}#STATUS#{status}",
            sk="{start}#{id}",
            purpose="a provider's appointments by status (A9)",
        ),
    )
    WHEN: ClassVar[str] = "{start}"
    REFS: ClassVar[dict[str, str]] = {"patient_id": "PATIENT", "provider_id": "PROVIDER"}

    patient_id: Id
    provider_id: Id
    start: UtcDateTime
    end: UtcDateTime
    day: date  # the clinic-local date of the start: the daily schedule it appears in
    type: AppointmentType = AppointmentType.CONSULTATION
    mode: Mode = Mode.IN_PERSON
    location: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)
    preparation: list[Short] = Field(default_factory=list, max_length=20)
    reminder: Reminder = Field(default_factory=Reminder)
    payment: AppointmentPayment = Field(default_factory=AppointmentPayment)
    status: AppointmentStatus = AppointmentStatus.SCHEDULED
    status_history: list[StatusChange] = Field(default_factory=list)
    notes: str | None = Field(default=None, max_length=10_000)
    notes_history: list[NotesChange] = Field(default_factory=list)
    cancellation_reason: str | None = Field(default=None, max_length=1000)
    cancelled_at: UtcDateTime | None = None
    cancelled_by: str | None = None

    @model_validator(mode="after")
    def _times(self) -> Appointment:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_APPOINTMENT:
            raise ValueError("end must be at most 3 hours after start")
        for name, instant in (("start", self.start), ("end", self.end)):
            if instant.second or instant.minute % 5:
                raise ValueError(f"{name} must fall on a 5-minute boundary")
        return self

    @property
    def duration(self) -> int:
        """Length in minutes."""
        return int((self.end - self.start).total_seconds() // 60)

    def moved_to(
        self, status: AppointmentStatus, at: datetime, by: str | None, reason: str | None = None
    ) -> Appointment:
        """This appointment in ``status``, with the change recorded in its history."""
        if status not in TRANSITIONS[self.status]:
            raise InvalidTransition(
                "appointment.status", f"cannot go from {self.status.value} to {status.value}"
            )
        change = StatusChange(status=status, at=at, by=by, reason=reason)
        extra: dict[str, object] = {}
        if status is AppointmentStatus.CANCELLED:
            extra = {"cancellation_reason": reason, "cancelled_at": at, "cancelled_by": by}
        return self.changed(
            status=status,
            status_history=[*self.status_history, change],
            updated_at=at,
            updated_by=by,
            **extra,
        )

    def with_notes(self, notes: str, at: datetime, by: str | None) -> Appointment:
        """This appointment with new notes; the old ones stay in the notes history."""
        entry = NotesChange(notes=notes, at=at, by=by)
        return self.changed(
            notes=notes, notes_history=[*self.notes_history, entry], updated_at=at, updated_by=by
        )


class BlockType(StrEnum):
    BREAK = "BREAK"
    ADMIN = "ADMIN"
    MEETING = "MEETING"
    VACATION = "VACATION"
    OTHER = "OTHER"


class Repeat(StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    CUSTOM = "CUSTOM"


class Recurrence(BaseModel):
    """How a block repeats: daily, weekly on ISO weekdays (1 = Monday), or an RFC 5545 RRULE."""

    model_config = ConfigDict(extra="forbid")
    type: Repeat
    end_date: date | None = None
    days_of_week: list[int] = Field(default_factory=list, max_length=7)
    rule: str | None = Field(default=None, max_length=500)

    @field_validator("days_of_week")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 7 for d in value) or len(set(value)) != len(value):
            raise ValueError("must be distinct ISO weekdays from 1 (Monday) to 7 (Sunday)")
        return sorted(value)

    @model_validator(mode="after")
    def _complete(self) -> Recurrence:
        if self.type is Repeat.WEEKLY and not self.days_of_week:
            raise ValueError("days_of_week is required for a weekly recurrence")
        if self.type is Repeat.CUSTOM:
            if not self.rule or not self.rule.upper().startswith("FREQ="):
                raise ValueError("rule is required for a custom recurrence: FREQ=MONTHLY;BYDAY=1MO")
            try:
                rrulestr(self.rule, dtstart=datetime(2000, 1, 1))
            except (ValueError, TypeError):
                raise ValueError("rule is not a valid RFC 5545 RRULE") from None
        return self


class TimeBlock(Entity):
    """Time a provider cannot be booked: one-off or recurring, in the clinic's local time."""

    TYPE: ClassVar[str] = "BLOCK"
    RESOURCE: ClassVar[str | None] = "block"
    PATIENT: ClassVar[str | None] = None
    SUBJECT: ClassVar[str | None] = None
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi5",
            pk="PROVIDER#{provider_id}#BLOCKS",
            sk="{until}#{id}",
            purpose="a provider's blocks still in force on a date (A7, A16)",
        ),
    )
    REFS: ClassVar[dict[str, str]] = {"provider_id": "PROVIDER"}

    provider_id: Id
    date: date  # the first (or only) day
    start_time: ClockTime
    end_time: ClockTime
    recurrence: Recurrence | None = None
    reason: str = Field(min_length=1, max_length=200)
    type: BlockType = BlockType.OTHER
    until: str = ""  # derived: the last day it can occur (9999-12-31 when open-ended)

    @model_validator(mode="after")
    def _shape(self) -> TimeBlock:
        if minutes(self.end_time) <= minutes(self.start_time):
            raise ValueError("end_time must be after start_time")
        if self.recurrence and self.recurrence.end_date and self.recurrence.end_date < self.date:
            raise ValueError("recurrence.end_date must not be before date")
        last = self.date if self.recurrence is None else self.recurrence.end_date
        until = last.isoformat() if last else "9999-12-31"
        if self.until != until:
            object.__setattr__(self, "until", until)
        return self

    def days(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """The local dates from ``first`` to ``last`` (inclusive) on which the block occurs."""
        rec = self.recurrence
        if rec is None:
            return [self.date] if first <= self.date <= last else []
        end = min(last, rec.end_date or last)
        if end < first:
            return []
        if rec.type is Repeat.DAILY:
            begin = max(first, self.date)
            return [begin + timedelta(days=i) for i in range((end - begin).days + 1)]
        if rec.type is Repeat.WEEKLY:
            begin = max(first, self.date)
            span = [begin + timedelta(days=i) for i in range((end - begin).days + 1)]
            return [d for d in span if d.isoweekday() in rec.days_of_week]
        start = datetime.combine(self.date, datetime.min.time())
        rule = rrulestr(str(rec.rule), dtstart=start)
        lo, hi = (
            datetime.combine(first, datetime.min.time()),
            datetime.combine(end, datetime.min.time()),
        )
        return [d.date() for d in rule.between(lo, hi, inc=True)]
