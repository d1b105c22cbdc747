"""Scheduling on every engine: no double booking under concurrency, hours, blocks, midnight, DST."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest

from carevault.domain.clinic import DayHours, WorkingHours
from carevault.domain.patient import Patient
from carevault.domain.scheduling import Appointment
from carevault.errors import ConflictError, InvalidTransition, Unavailable
from carevault.services import scheduling
from tests.domain.booker import book_once
from tests.domain.world import HALF_HOUR, World, local, make_world, utc
from tests.engines import new_store

MONDAY = date(2027, 3, 1)


def _race(world: World, attempts: list[tuple[Patient, str, int]]) -> list[str]:
    """Book every (patient, provider, minute offset from 10:00) at once, on threads."""
    start = threading.Barrier(len(attempts))
    results: list[str] = [""] * len(attempts)

    def run(i: int, patient: Patient, provider: str, offset: int) -> None:
        practice = world.other_practice()
        begin = local(2027, 3, 1, 10) + timedelta(minutes=offset)
        start.wait()
        try:
            scheduling.book(
                practice=practice,
                patient_id=patient.id,
                provider_id=provider,
                start=begin,
                end=begin + HALF_HOUR,
            )
            results[i] = "booked"
        except ConflictError as exc:
            results[i] = type(exc).__name__

    threads = [threading.Thread(target=run, args=(i, *a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _day(world: World) -> list[Appointment]:
    return scheduling.day_schedule(practice=world.practice, day=MONDAY).items  # type: ignore[no-any-return]


def test_overlapping_bookings_for_one_provider_one_wins(world: World) -> None:
    people = [world.patient() for _ in range(5)]
    results = _race(world, [(p, world.doctor.id, 5 * i) for i, p in enumerate(people)])
    assert results.count("booked") == 1, results
    assert set(results) <= {"booked", "Unavailable", "ConflictError", "TransactionCanceled"}
    assert len(_day(world)) == 1


def test_one_patient_with_two_providers_at_once_one_wins(world: World) -> None:
    patient, other = world.patient(), world.provider()
    results = _race(world, [(patient, world.doctor.id, 0), (patient, other.id, 15)] * 2)
    assert results.count("booked") == 1, results
    assert len(_day(world)) == 1


def test_two_processes_on_sqlite_one_wins(tmp_path: Path) -> None:
    made = iter(range(100))
    world = make_world(lambda: new_store("sqlite", tmp_path / f"s{next(made)}", None), tmp_path)
    patient, other = world.patient(), world.patient()
    data, keys = world.store.inner, world.ring.keys
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(2)
    begin = local(2027, 3, 1, 11)
    args = [
        (
            f"sqlite:///{data.path}",
            f"sqlite:///{keys.path}",
            str(tmp_path / "root.key"),  # type: ignore[attr-defined]
            world.tenant,
            p.id,
            world.doctor.id,
            (begin + timedelta(minutes=m)).isoformat(),
            (begin + timedelta(minutes=m + 30)).isoformat(),
            barrier,
        )
        for p, m in ((patient, 0), (other, 10))
    ]
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        results = list(pool.map(book_once, *zip(*args, strict=True)))
    assert sorted(results) == ["Unavailable", "booked"], results
    assert len(_day(world)) == 1


def book(world: World, start: object, end: object, patient: Patient | None = None) -> Appointment:
    return scheduling.book(
        practice=world.practice,
        patient_id=(patient or world.patient()).id,
        provider_id=world.doctor.id,
        start=start,
        end=end,
    )


def test_recurring_blocks_refuse_bookings_on_their_days_only(world: World) -> None:
    scheduling.add_block(
        practice=world.practice,
        provider_id=world.doctor.id,
        date=MONDAY,
        start_time="12:00",
        end_time="13:00",
        reason="Team meeting",
        type="MEETING",
        recurrence={"type": "WEEKLY", "days_of_week": [1, 3], "end_date": "2027-03-31"},
    )
    with pytest.raises(Unavailable) as refused:
        book(world, local(2027, 3, 10, 12, 30), local(2027, 3, 10, 13, 0))  # a Wednesday
    assert (refused.value.field, refused.value.rule) == (
        "appointment.start",
        "inside a meeting time block",
    )
    with pytest.raises(Unavailable):
        book(world, local(2027, 3, 1, 11, 45), local(2027, 3, 1, 12, 15))  # overlaps the start
    assert book(world, local(2027, 3, 2, 12), local(2027, 3, 2, 12, 30))  # Tuesday is free
    assert book(world, local(2027, 4, 5, 12), local(2027, 4, 5, 12, 30))  # after end_date
    scheduling.add_block(
        practice=world.practice,
        provider_id=world.doctor.id,
        date=MONDAY,
        start_time="16:00",
        end_time="17:00",
        reason="Admin",
        type="ADMIN",
        recurrence={"type": "CUSTOM", "rule": "FREQ=MONTHLY;BYDAY=1FR"},
    )
    with pytest.raises(Unavailable):
        book(world, local(2027, 3, 5, 16), local(2027, 3, 5, 16, 30))  # first Friday of March
    assert book(world, local(2027, 3, 12, 16), local(2027, 3, 12, 16, 30))  # second Friday


def test_outside_working_hours_is_refused_with_the_reason(world: World) -> None:
    for start in (local(2027, 3, 1, 7, 30), local(2027, 3, 1, 16, 45), local(2027, 3, 6, 10)):
        with pytest.raises(Unavailable) as refused:
            book(world, start, start + HALF_HOUR)
        assert refused.value.rule == "outside the provider's working hours"
    assert book(world, local(2027, 3, 1, 8), local(2027, 3, 1, 8, 30))
    assert book(world, local(2027, 3, 1, 16, 30), local(2027, 3, 1, 17))


NIGHTS = WorkingHours(
    friday=DayHours(start="20:00", end="24:00"),
    saturday=DayHours(start="00:00", end="24:00"),
    sunday=DayHours(start="00:00", end="06:00"),
    monday=DayHours(start="20:00", end="24:00"),
)


def test_bookings_across_midnight_need_hours_on_both_days(world: World) -> None:
    world.doctor = world.provider(NIGHTS)
    across = book(world, local(2027, 3, 5, 23, 30), local(2027, 3, 6, 0, 30))  # Fri -> Sat
    assert across.day == date(2027, 3, 5) and across.duration == 60
    with pytest.raises(Unavailable):
        book(world, local(2027, 3, 1, 23, 30), local(2027, 3, 2, 0, 30))  # Mon -> Tue (off)
    line = scheduling.provider_timeline(
        practice=world.practice,
        provider_id=world.doctor.id,
        start=local(2027, 3, 6, 0),
        end=local(2027, 3, 6, 1),
    )
    assert [a.id for a in line.appointments] == [across.id]  # starts the day before


def test_bookings_across_a_daylight_saving_change(world: World) -> None:
    world.doctor = world.provider(NIGHTS)
    # New York springs forward at 02:00 on Sunday 2027-03-14: 01:30 EST to 03:30 EDT is 1 hour.
    night = book(world, local(2027, 3, 14, 1, 30), local(2027, 3, 14, 3, 30))
    assert (night.start, night.end) == (utc(2027, 3, 14, 6, 30), utc(2027, 3, 14, 7, 30))
    assert night.duration == 60
    # The same wall-clock hours either side of the change map to different UTC offsets.
    weekday = world.provider()
    before = scheduling.book(
        practice=world.practice,
        patient_id=world.patient().id,
        provider_id=weekday.id,
        start=local(2027, 3, 12, 8),
        end=local(2027, 3, 12, 8, 30),
    )
    after = scheduling.book(
        practice=world.practice,
        patient_id=world.patient().id,
        provider_id=weekday.id,
        start=local(2027, 3, 15, 8),
        end=local(2027, 3, 15, 8, 30),
    )
    assert before.start.hour == 13 and after.start.hour == 12
    with pytest.raises(Unavailable):  # 12:30 UTC is 07:30 before the change: too early
        scheduling.book(
            practice=world.practice,
            patient_id=world.patient().id,
            provider_id=weekday.id,
            start=utc(2027, 3, 12, 12, 30),
            end=utc(2027, 3, 12, 13),
        )
    slots = scheduling.free_slots(
        practice=world.practice, provider_id=weekday.id, day=date(2027, 3, 15), minutes=30
    )
    assert slots[0][0] == utc(2027, 3, 15, 12, 30)  # 08:30 EDT, after the 08:00 visit


def test_cancel_frees_the_time_and_reschedule_may_overlap_itself(world: World) -> None:
    patient = world.patient()
    first = book(world, local(2027, 3, 1, 9), local(2027, 3, 1, 10), patient)
    moved = scheduling.reschedule(
        practice=world.practice,
        appointment_id=first.id,
        version=first.version,
        start=local(2027, 3, 1, 9, 30),
        end=local(2027, 3, 1, 10, 30),
    )
    assert moved.start == local(2027, 3, 1, 9, 30)
    assert book(world, local(2027, 3, 1, 9), local(2027, 3, 1, 9, 30))  # freed by the move
    with pytest.raises(Unavailable):
        book(world, local(2027, 3, 1, 10), local(2027, 3, 1, 10, 30))
    gone = scheduling.cancel(
        practice=world.practice, appointment_id=first.id, version=moved.version, reason="Sick"
    )
    assert gone.status_history[-1].reason == "Sick" and gone.cancellation_reason == "Sick"
    assert book(world, local(2027, 3, 1, 10), local(2027, 3, 1, 10, 30))
    with pytest.raises(InvalidTransition):
        scheduling.complete(practice=world.practice, appointment_id=first.id, version=gone.version)
    later = book(world, local(2027, 3, 1, 14), local(2027, 3, 1, 14, 30))
    scheduling.confirm(practice=world.practice, appointment_id=later.id, version=later.version)
    with pytest.raises(ConflictError):  # a stale version
        scheduling.check_in(practice=world.practice, appointment_id=later.id, version=later.version)


def test_the_appointment_workflow_keeps_its_history(world: World) -> None:
    appt = book(world, local(2027, 3, 1, 9), local(2027, 3, 1, 9, 30))
    for step in (scheduling.confirm, scheduling.check_in, scheduling.complete):
        appt = step(practice=world.practice, appointment_id=appt.id, version=appt.version)
    appt = scheduling.add_notes(
        practice=world.practice,
        appointment_id=appt.id,
        version=appt.version,
        notes="Bring the ECG next time",
    )
    appt = scheduling.add_notes(
        practice=world.practice, appointment_id=appt.id, version=appt.version, notes="ECG received"
    )
    again = world.practice.uow[Appointment].require(appt.id)
    assert [h.status.value for h in again.status_history] == [
        "SCHEDULED",
        "CONFIRMED",
        "CHECKED_IN",
        "COMPLETED",
    ]
    assert [n.notes for n in again.notes_history] == ["Bring the ECG next time", "ECG received"]
    no_show = book(world, local(2027, 3, 1, 10), local(2027, 3, 1, 10, 30))
    no_show = scheduling.no_show(
        practice=world.practice, appointment_id=no_show.id, version=no_show.version
    )
    with pytest.raises(Unavailable):  # a no-show keeps the time used
        book(world, local(2027, 3, 1, 10), local(2027, 3, 1, 10, 30))


def test_a_block_added_meanwhile_cancels_a_booking_decided_before_it(world: World) -> None:
    p = world.practice
    seen = scheduling.schedule_version(p, world.doctor.id)
    scheduling.add_block(
        practice=world.other_practice(),
        provider_id=world.doctor.id,
        date=MONDAY,
        start_time="09:00",
        end_time="10:00",
        reason="Surgery",
        type="OTHER",
    )
    p.uow.stage([scheduling._schedule_guard(p, world.doctor.id, seen)])
    with pytest.raises(ConflictError, match="schedule changed"):
        p.uow.commit()


def test_the_provider_timeline_holds_only_appointments(world: World) -> None:
    from carevault.domain.clinical import TreatmentRecord
    from carevault.services import clinical

    patient = world.patient()
    appt = book(world, local(2027, 3, 1, 9), local(2027, 3, 1, 9, 30), patient)
    clinical.create(
        practice=world.practice,
        entity=TreatmentRecord,
        patient_id=patient.id,
        therapist_id=world.doctor.id,
        session_date=utc(2027, 3, 1, 15),
        duration_minutes=50,
    )
    line = scheduling.provider_timeline(
        practice=world.practice,
        provider_id=world.doctor.id,
        start=local(2027, 3, 1, 0),
        end=local(2027, 3, 2, 0),
    )
    assert [a.id for a in line.appointments] == [appt.id]
