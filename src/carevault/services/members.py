"""A payer's members and their enrollments (seed 004): P1 find a member, P2 coverage.

A member's enrollments of one kind of coverage never overlap. The rule is kept atomically
by the member's coverage item (one per kind): every enrollment written rewrites it, on the
condition that it is still at the version read, so of two overlapping enrollments sent at
once one is written and the other, retried against what was written, is refused.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from carevault.domain.members import Coverage, Enrollment, Member, name_birth
from carevault.errors import ConflictError, ValidationError
from carevault.repo.records import Staged
from carevault.repo.unit import UnitOfWork
from carevault.store import Attr, Put

RETRIES = 5
OVERLAP = "overlaps another {coverage} enrollment of this member ({start} to {end})"


def add_member(*, uow: UnitOfWork, **fields: Any) -> Member:
    """Add a subscriber or a dependant; the member number is unique in the payer."""
    member = Member.create(**fields, created_by=uow.actor, updated_by=uow.actor)
    saved = uow[Member].add(member)
    uow.commit()
    return saved


def by_number(*, uow: UnitOfWork, member_number: str) -> Member | None:
    """The member with this member number (P1: through its sentinel, one read)."""
    return uow[Member].find_unique("member_number", member_number)


def by_ssn(*, uow: UnitOfWork, ssn: str) -> list[Member]:
    """Members with this SSN (P1: a beacon lookup, verified after decryption)."""
    return uow[Member].find("member_ssn", ssn)


def by_name_birth(
    *, uow: UnitOfWork, last_name: str, first_name: str, date_of_birth: date
) -> list[Member]:
    """Members by name and birth date, as an eligibility request names them (P1)."""
    token = name_birth(last_name, first_name, date_of_birth)
    return uow[Member].find("member_name_birth", token)


def enrollments(*, uow: UnitOfWork, member_id: str) -> list[Enrollment]:
    """A member's enrollments by effective date (P2: one query)."""
    return list(uow[Enrollment].query_all("gsi5", f"MEMBER#{member_id}#ENROLLMENTS"))


def coverage_on(
    *, uow: UnitOfWork, member_id: str, day: date, coverage: Coverage = Coverage.MEDICAL
) -> Enrollment | None:
    """The member's enrollment of ``coverage`` in force on ``day``, if any (P2)."""
    found = [e for e in enrollments(uow=uow, member_id=member_id) if e.coverage is coverage]
    return next((e for e in found if e.covers(day)), None)


def enroll(*, uow: UnitOfWork, **fields: Any) -> Enrollment:
    """Enroll a member in a product line, refused if it overlaps one of the same coverage."""
    enrollment = Enrollment.create(**fields, created_by=uow.actor, updated_by=uow.actor)
    for _ in range(RETRIES):
        pk, sk = _ledger_key(uow, enrollment)
        ledger = uow.store.get(pk, sk)
        version = 0 if ledger is None else int(ledger["version"])
        periods: list[list[str | None]] = [] if ledger is None else list(ledger["periods"])
        for start, end, _ in periods:
            if _overlap(enrollment, start, end):
                raise ValidationError(
                    "enrollment.effective",
                    OVERLAP.format(coverage=enrollment.coverage.value, start=start, end=end),
                )
        periods.append(
            [enrollment.effective.isoformat(), _day(enrollment.termination), enrollment.id]
        )
        item = {"pk": pk, "sk": sk, "version": version + 1, "periods": sorted(periods, key=str)}
        still = Attr("pk").not_exists() if version == 0 else Attr("version").eq(version)
        saved = uow[Enrollment].add(enrollment)
        uow.stage([Staged(Put(item, still), ConflictError("coverage changed meanwhile"))])
        try:
            uow.commit()
        except ConflictError:
            uow.rollback()  # another enrollment landed first: check against it
            continue
        return saved
    raise ConflictError("enrollment: the member's coverage kept changing; try again")


def _ledger_key(uow: UnitOfWork, enrollment: Enrollment) -> tuple[str, str]:
    return f"T#{uow.tenant}#MEMBER#{enrollment.member_id}#COVERAGE#{enrollment.coverage}", "#"


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _overlap(enrollment: Enrollment, start: str | None, end: str | None) -> bool:
    """Whether ``enrollment`` overlaps the period [start, end] (end None: open)."""
    mine_end = _day(enrollment.termination)
    begins_before_theirs_ends = end is None or enrollment.effective.isoformat() <= end
    theirs_begins_before_mine_ends = mine_end is None or (start or "") <= mine_end
    return begins_before_theirs_ends and theirs_begins_before_mine_ends
