"""Scheduling: booking without double booking, the appointment workflow, free slots (A16).

A booking writes one slot item per 5-minute granule for the provider and for the patient
(``T#{t}#PROVIDER#{u}#SLOT#{date}`` / ``{HH:MM}``, UTC), each put only if absent, in the
same transaction as the appointment: two overlapping bookings cannot both commit, on any
engine. Working hours and time blocks are read, and a check on the provider's schedule
version (bumped by every block or hours change) makes that decision atomic too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from carevault.domain.base import local_instant
from carevault.domain.clinic import CARE_ROLES, ProviderProfile, User
from carevault.domain.ids import is_id
from carevault.domain.scheduling import (
    GRANULE,
    HOLDS_TIME,
    Appointment,
    AppointmentStatus,
    TimeBlock,
)
from carevault.errors import (
    ConflictError,
    InvalidTransition,
    NotFound,
    StaleVersion,
    Unavailable,
    ValidationError,
)
from carevault.repo.care import stage_care
from carevault.repo.records import Staged
from carevault.repo.unit import UnitOfWork
from carevault.services.practice import Practice
from carevault.store import Attr, Condition, ConditionCheck, Delete, Put, SortKey

Interval = tuple[datetime, datetime]
_ISO = "%Y-%m-%dT%H:%M:%SZ"
SCHEDULE_CHANGED = ConflictError("the provider's schedule changed meanwhile; try again")


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime(_ISO)


# -- the provider's schedule: hours, blocks, version ----------------------------------


def _schedule_key(p: Practice, provider_id: str) -> tuple[str, str]:
    return f"T#{p.tenant}#PROVIDER#{provider_id}#SCHEDULE", "#"


def schedule_version(p: Practice, provider_id: str) -> int:
    """The provider's schedule version (0 before any block or hours change)."""
    item = p.uow.store.get(*_schedule_key(p, provider_id))
    return 0 if item is None else int(item["version"])


def _still_at(version: int) -> Condition:
    """The schedule item is still at ``version`` (0: it does not exist yet)."""
    return Attr("pk").not_exists() if version == 0 else Attr("version").eq(version)


def _schedule_guard(p: Practice, provider_id: str, version: int) -> Staged:
    pk, sk = _schedule_key(p, provider_id)
    return Staged(ConditionCheck(pk, sk, _still_at(version)), SCHEDULE_CHANGED)


def _schedule_bump(p: Practice, provider_id: str) -> Staged:
    version = schedule_version(p, provider_id)
    pk, sk = _schedule_key(p, provider_id)
    item = {"pk": pk, "sk": sk, "version": version + 1}
    return Staged(Put(item, _still_at(version)), SCHEDULE_CHANGED)


def working_intervals(
    p: Practice, profile: ProviderProfile, first: date, last: date
) -> list[Interval]:
    """The provider's working time from local ``first`` to ``last``, as merged UTC intervals."""
    zone, out = p.clinic.time_zone, list[Interval]()
    day = first
    while day <= last:
        hours = profile.working_hours.on(day.weekday())
        if hours is not None:
            start, end = local_instant(day, hours.start, zone), local_instant(day, hours.end, zone)
            if out and out[-1][1] >= start:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        day += timedelta(days=1)
    return out


def blocks_from(uow: UnitOfWork, provider_id: str, first: date) -> list[TimeBlock]:
    """The provider's blocks that can still occur on or after local ``first`` (one query)."""
    return list(
        uow[TimeBlock].query_all(
            "gsi5", f"PROVIDER#{provider_id}#BLOCKS", sk=SortKey.ge(first.isoformat())
        )
    )


def block_intervals(
    p: Practice, blocks: Iterable[TimeBlock], first: date, last: date
) -> list[Interval]:
    """Occurrences of ``blocks`` between local ``first`` and ``last``, as UTC intervals."""
    zone = p.clinic.time_zone
    return sorted(
        (local_instant(day, b.start_time, zone), local_instant(day, b.end_time, zone))
        for b in blocks
        for day in b.days(first, last)
    )


def _overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _check_schedule(p: Practice, profile: ProviderProfile, start: datetime, end: datetime) -> int:
    """Refuse a time outside working hours or inside a block; returns the schedule version."""
    version = schedule_version(p, profile.id)
    first = p.local_date(start) - timedelta(days=1)
    last = p.local_date(end)
    if not any(s <= start and end <= e for s, e in working_intervals(p, profile, first, last)):
        raise Unavailable("appointment.start", "outside the provider's working hours")
    for block in blocks_from(p.system, profile.id, first):  # read to decide, not shown
        for interval in block_intervals(p, [block], first, last):
            if _overlaps(interval, (start, end)):
                raise Unavailable(
                    "appointment.start", f"inside a {block.type.value.lower()} time block"
                )
    return version


# -- slots ------------------------------------------------------------------------------


def _granules(start: datetime, end: datetime) -> list[datetime]:
    out, at = [], start
    while at < end:
        out.append(at)
        at += GRANULE
    return out


def _slot_keys(p: Practice, appt: Appointment) -> dict[tuple[str, str], str]:
    """Slot item keys of an appointment, mapped to whose time they hold."""
    keys: dict[tuple[str, str], str] = {}
    for at in _granules(appt.start, appt.end):
        day, clock = at.strftime("%Y-%m-%d"), at.strftime("%H:%M")
        keys[(f"T#{p.tenant}#PROVIDER#{appt.provider_id}#SLOT#{day}", clock)] = "provider"
        keys[(f"T#{p.tenant}#PATIENT#{appt.patient_id}#SLOT#{day}", clock)] = "patient"
    return keys


def _claim(keys: dict[tuple[str, str], str], appt_id: str) -> list[Staged]:
    taken = {
        who: Unavailable("appointment.start", f"the {who} is already booked at that time")
        for who in ("provider", "patient")
    }
    return [
        Staged(
            Put({"pk": pk, "sk": sk, "appointment": appt_id}, Attr("pk").not_exists()), taken[who]
        )
        for (pk, sk), who in sorted(keys.items())
    ]


def _release(keys: Iterable[tuple[str, str]], appt_id: str) -> list[Staged]:
    return [Staged(Delete(pk, sk, Attr("appointment").eq(appt_id))) for pk, sk in sorted(keys)]


# -- the workflow -----------------------------------------------------------------------


def book(*, practice: Practice, past_visit: bool = False, **fields: Any) -> Appointment:
    """Book an appointment (start and end are instants; their local date is computed).

    A start already past is refused unless ``past_visit`` says the visit is being recorded
    after it happened.
    """
    p = practice
    start = fields.get("start")
    day = p.local_date(start) if isinstance(start, datetime) and start.tzinfo else None
    if isinstance(start, datetime) and start.tzinfo and start < p.now() and not past_visit:
        raise ValidationError(
            "appointment.start", "must not be in the past (send past_visit: true to record one)"
        )
    draft = Appointment.create(
        **fields,
        day=day,
        created_by=p.uow.actor,
        updated_by=p.uow.actor,
        status_history=[{"status": AppointmentStatus.SCHEDULED, "at": p.now(), "by": p.uow.actor}],
    )
    profile = p.uow[ProviderProfile].get(draft.provider_id)
    if profile is None:
        raise ValidationError("appointment.provider_id", "must name an existing provider")
    version = _check_schedule(p, profile, draft.start, draft.end)
    saved = p.uow[Appointment].add(draft)
    p.uow.stage(
        [
            *_claim(_slot_keys(p, draft), draft.id),
            _schedule_guard(p, profile.id, version),
            stage_care(p.tenant, draft.provider_id, draft.patient_id),
        ]
    )
    p.uow.commit()
    return saved


def reschedule(
    *, practice: Practice, appointment_id: str, version: int, start: datetime, end: datetime
) -> Appointment:
    """Move a scheduled or confirmed appointment to a new time, atomically."""
    p = practice
    appt = p.uow[Appointment].for_change(appointment_id)
    if appt.status not in (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED):
        raise InvalidTransition(
            "appointment.status", f"cannot reschedule a {appt.status.value} appointment"
        )
    if start.tzinfo and start < p.now():
        raise ValidationError("appointment.reschedule.start", "must not be in the past")
    moved = appt.changed(
        start=start, end=end, day=p.local_date(start) if start.tzinfo else None, version=version
    )
    profile = p.uow[ProviderProfile].require(appt.provider_id)
    schedule = _check_schedule(p, profile, moved.start, moved.end)
    old, new = _slot_keys(p, appt), _slot_keys(p, moved)
    saved = p.uow[Appointment].update(moved)
    claims = _claim({k: w for k, w in new.items() if k not in old}, appt.id)
    p.uow.stage(
        [
            *claims,
            *_release(old.keys() - new.keys(), appt.id),
            _schedule_guard(p, profile.id, schedule),
        ]
    )
    p.uow.commit()
    return saved


def _move(
    p: Practice,
    appointment_id: str,
    version: int,
    status: AppointmentStatus,
    reason: str | None = None,
) -> Appointment:
    appt = p.uow[Appointment].for_change(appointment_id).model_copy(update={"version": version})
    moved = appt.moved_to(status, p.now(), p.uow.actor, reason)
    saved = p.uow[Appointment].update(moved)
    if status not in HOLDS_TIME:
        p.uow.stage(_release(_slot_keys(p, appt).keys(), appt.id))
    p.uow.commit()
    return saved


def confirm(*, practice: Practice, appointment_id: str, version: int) -> Appointment:
    """The patient confirmed they will come."""
    return _move(practice, appointment_id, version, AppointmentStatus.CONFIRMED)


def check_in(*, practice: Practice, appointment_id: str, version: int) -> Appointment:
    """The patient arrived."""
    return _move(practice, appointment_id, version, AppointmentStatus.CHECKED_IN)


def complete(*, practice: Practice, appointment_id: str, version: int) -> Appointment:
    """The visit took place."""
    return _move(practice, appointment_id, version, AppointmentStatus.COMPLETED)


def no_show(*, practice: Practice, appointment_id: str, version: int) -> Appointment:
    """The patient did not come (the time stays used)."""
    return _move(practice, appointment_id, version, AppointmentStatus.NO_SHOW)


def cancel(*, practice: Practice, appointment_id: str, version: int, reason: str) -> Appointment:
    """Cancel with a reason; the time is free again."""
    if not reason.strip():
        raise ValidationError("appointment.cancellation_reason", "a cancellation needs a reason")
    return _move(practice, appointment_id, version, AppointmentStatus.CANCELLED, reason.strip())


def add_notes(*, practice: Practice, appointment_id: str, version: int, notes: str) -> Appointment:
    """Replace the appointment's notes; earlier notes stay in its notes history."""
    p = practice
    appt = p.uow[Appointment].for_change(appointment_id).model_copy(update={"version": version})
    saved = p.uow[Appointment].update(appt.with_notes(notes, p.now(), p.uow.actor))
    p.uow.commit()
    return saved


# -- blocks and hours -------------------------------------------------------------------


def add_block(*, practice: Practice, **fields: Any) -> TimeBlock:
    """Block time for a provider (one-off or recurring)."""
    p = practice
    block = TimeBlock.create(**fields, created_by=p.uow.actor, updated_by=p.uow.actor)
    saved = p.uow[TimeBlock].add(block)
    p.uow.stage([_schedule_bump(p, block.provider_id)])
    p.uow.commit()
    return saved


def remove_block(*, practice: Practice, block_id: str, version: int) -> None:
    """Lift a block."""
    p = practice
    block = p.uow[TimeBlock].delete(block_id, version=version)
    p.uow.stage([_schedule_bump(p, block.provider_id)])
    p.uow.commit()


def put_profile(
    *, practice: Practice, provider_id: str, version: int | None, **fields: Any
) -> ProviderProfile:
    """Create a provider's profile (``version`` None) or change it at ``version``."""
    p = practice
    if version is None:
        user = p.uow[User].get(provider_id) if is_id(provider_id) else None
        if user is None:
            raise NotFound("user", provider_id)
        if user.role not in CARE_ROLES:
            raise ValidationError("provider.id", "must name a user whose role provides care")
        return set_profile(practice=p, profile=ProviderProfile.create(id=provider_id, **fields))
    current = p.uow[ProviderProfile].for_change(provider_id)
    if current.version != version:
        raise StaleVersion(f"provider: is at version {current.version}, not {version}")
    return set_profile(practice=p, profile=current.changed(**fields))


def set_profile(*, practice: Practice, profile: ProviderProfile) -> ProviderProfile:
    """Create or change a provider's profile (working hours included)."""
    p = practice
    repo = p.uow[ProviderProfile]
    saved = repo.add(profile) if profile.version == 0 else repo.update(profile)
    p.uow.stage([_schedule_bump(p, profile.id)])
    p.uow.commit()
    return saved


# -- reading the schedule ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeline:
    """A provider's appointments and block occurrences in a time range (A7)."""

    appointments: list[Appointment]
    blocks: list[tuple[TimeBlock, datetime, datetime]]


MAX_RANGE = timedelta(days=92)


def provider_timeline(
    *, practice: Practice, provider_id: str, start: datetime, end: datetime
) -> Timeline:
    """Appointments overlapping [start, end) and block occurrences in it: two queries."""
    p = practice
    if end <= start or end - start > MAX_RANGE:
        raise ValidationError("range.end", "must be after start and at most 92 days later")
    lower = _iso(start - timedelta(hours=3))  # the longest appointment that can reach in
    appts = [
        a
        for a in p.uow[Appointment].query_all(
            "gsi3", f"PROVIDER#{provider_id}", sk=SortKey.between(lower, _iso(end))
        )
        if _overlaps((a.start, a.end), (start, end))
    ]
    first, last = p.local_date(start) - timedelta(days=1), p.local_date(end)
    blocks = [
        (b, s, e)
        for b in blocks_from(p.uow, provider_id, first)
        for s, e in block_intervals(p, [b], first, last)
        if _overlaps((s, e), (start, end))
    ]
    if not appts and not blocks:
        _provider(p, provider_id)
    return Timeline(appts, sorted(blocks, key=lambda x: x[1]))


def day_schedule(
    *, practice: Practice, day: date, limit: int = 100, cursor: str | None = None
) -> Any:
    """The clinic's appointments on a local date, by start time (A8: one query)."""
    return practice.uow[Appointment].query(
        "gsi1", f"APPT#DAY#{day.isoformat()}", limit=limit, cursor=cursor
    )


def by_status(
    *,
    practice: Practice,
    provider_id: str,
    status: AppointmentStatus,
    limit: int = 100,
    cursor: str | None = None,
) -> Any:
    """A provider's appointments in one status, by start time (A9: one query)."""
    found = practice.uow[Appointment].query(
        "gsi4", f"PROVIDER#{provider_id}#STATUS#{status.value}", limit=limit, cursor=cursor
    )
    if not found.items and cursor is None:
        _provider(practice, provider_id)
    return found


def _provider(p: Practice, provider_id: str) -> None:
    """NotFound unless the provider is one of this clinic's (asked when nothing was found:
    an empty answer must not be mistaken for a provider with nothing booked)."""
    if not p.uow.exists(ProviderProfile, provider_id):
        raise NotFound("provider", provider_id)


def _held(p: Practice, provider_id: str, start: datetime, end: datetime) -> list[Interval]:
    """The provider's held granules in [start, end): the slot items bookings claim (nothing
    about whose they are is read)."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    out, day = [], first
    while day <= last:
        partition = f"T#{p.tenant}#PROVIDER#{provider_id}#SLOT#{day.isoformat()}"
        low = _clock(start) if day == first else "00:00"
        bounds = SortKey.between(low, _clock(end) if day == last else "23:59")
        for item in p.uow.store.query_all(partition, sk=bounds, page_size=GRANULES_A_DAY):
            at = datetime.fromisoformat(f"{day.isoformat()}T{item['sk']}:00+00:00")
            out.append((at, at + GRANULE))
        day += timedelta(days=1)
    return out


GRANULES_A_DAY = 288


def _clock(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%H:%M")


def free_slots(
    *, practice: Practice, provider_id: str, day: date, minutes: int | None = None
) -> list[Interval]:
    """Bookable times of a provider on a local date (A16): hours minus held time and blocks.

    Only the profile is read as the caller; held time and blocks are read by the clinic to
    decide, and no appointment is opened: free times say nothing about anyone's visit.
    """
    p = practice
    length = timedelta(minutes=minutes or p.clinic.settings.default_appointment_minutes)
    step = timedelta(minutes=p.clinic.settings.slot_minutes)
    profile = p.uow[ProviderProfile].require(provider_id)
    open_time = [
        (
            max(s, local_instant(day, "00:00", p.clinic.time_zone)),
            min(e, local_instant(day, "24:00", p.clinic.time_zone)),
        )
        for s, e in working_intervals(p, profile, day, day)
    ]
    if not open_time:
        return []
    start, end = open_time[0][0], open_time[-1][1]
    busy = _held(p, provider_id, start, end)
    first = p.local_date(start) - timedelta(days=1)
    blocks = blocks_from(p.system, provider_id, first)
    busy += [i for i in block_intervals(p, blocks, first, p.local_date(end))]
    out = []
    for lo, hi in open_time:
        at = lo
        while at + length <= hi:
            if not any(_overlaps((at, at + length), b) for b in busy):
                out.append((at, at + length))
            at += step
    return out
