"""A payer's members and enrollments (seed 004, P1-P2), on every engine: sealed
demographics found by member number, SSN and name + birth date with counted store
operations; coverage on a date; enrollments of one coverage that never overlap, even when
sent at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.ids import new_id
from carevault.domain.members import Coverage, Enrollment, Member, Relationship
from carevault.errors import ConflictError, DuplicateValue, NotFound, ValidationError
from carevault.repo.unit import UnitOfWork
from carevault.services import members
from carevault.store import Store
from carevault.store.counting import CountingStore

pytestmark = pytest.mark.engines


class Payer:
    def __init__(self, store: Store, keys: Store, tmp: Path) -> None:
        self.store = CountingStore(store)
        self.ring = Keyring(keys, LocalKeyProvider.create(tmp / "root.key"))
        self.tenant = new_id()
        UnitOfWork(store, self.ring, self.tenant, create_tenant=True)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.store, self.ring, self.tenant, actor=new_id())

    def member(self, n: int, **extra: object) -> Member:
        fields: dict[str, object] = {
            "member_number": f"ACM{n:07d}",
            "first_name": f"Ines{n}",
            "last_name": "Baptiste",
            "date_of_birth": date(1971, 9, 23),
            "gender": "FEMALE",
            "ssn": f"123-45-{n:04d}",
        }
        return members.add_member(uow=self.uow(), **{**fields, **extra})


@pytest.fixture
def payer(store: Store, make_store: Callable[[], Store], tmp_path: Path) -> Payer:
    return Payer(store, make_store(), tmp_path)


def test_p1_a_member_by_number_ssn_and_name_with_birth_date(payer: Payer) -> None:
    subscriber = payer.member(1)
    spouse = payer.member(
        2, subscriber_id=subscriber.id, relationship=Relationship.SPOUSE, first_name="Théo"
    )
    payer.member(3, last_name="Okafor")
    uow = payer.uow()
    payer.store.reset()
    found = members.by_number(uow=uow, member_number="acm-0000001")  # as a card is typed
    assert found is not None and found.id == subscriber.id and found.ssn == "123-45-0001"
    assert payer.store.calls["query"] == 0 and payer.store.reads <= 3, dict(payer.store.calls)
    payer.store.reset()
    assert [m.id for m in members.by_ssn(uow=uow, ssn="123450002")] == [spouse.id]
    assert payer.store.calls["query"] <= 1, dict(payer.store.calls)  # a beacon, never a scan
    payer.store.reset()
    named = members.by_name_birth(
        uow=uow, last_name="BAPTISTE", first_name="theo", date_of_birth=date(1971, 9, 23)
    )
    assert [m.id for m in named] == [spouse.id]  # accents and case folded, as 270s send
    assert payer.store.calls["query"] <= 1, dict(payer.store.calls)
    assert (
        members.by_name_birth(
            uow=uow, last_name="Baptiste", first_name="Theo", date_of_birth=date(1971, 9, 24)
        )
        == []
    )
    assert members.by_number(uow=uow, member_number="ACM9999999") is None


def test_member_rules_name_the_field(payer: Payer) -> None:
    payer.member(1)
    with pytest.raises(DuplicateValue) as taken:
        payer.member(1, ssn=None)  # the same member number
    assert "member_number" in str(taken.value)
    with pytest.raises(ValidationError) as dependant:
        payer.member(2, relationship=Relationship.CHILD)  # a dependant names its subscriber
    assert "relationship" in str(dependant.value)
    with pytest.raises((ValidationError, NotFound)):
        payer.member(3, subscriber_id=new_id(), relationship=Relationship.CHILD)


def test_member_phi_is_sealed_in_the_store(payer: Payer) -> None:
    member = payer.member(7)
    stored = payer.store.inner.get(f"T#{payer.tenant}#MEMBER#{member.id}", "#")
    assert stored is not None
    text = repr(stored)
    for value in ("Ines7", "Baptiste", "123-45-0007", "1971-09-23", "ACM0000007"):
        assert value not in text, value


def test_p2_enrollments_and_coverage_on_a_date(payer: Payer) -> None:
    member = payer.member(1)
    uow = payer.uow()
    first = members.enroll(
        uow=uow,
        member_id=member.id,
        product_line="ACME-PPO",
        effective=date(2025, 1, 1),
        termination=date(2025, 12, 31),
    )
    second = members.enroll(
        uow=payer.uow(), member_id=member.id, product_line="ACME-HMO", effective=date(2026, 1, 1)
    )
    members.enroll(
        uow=payer.uow(),
        member_id=member.id,
        product_line="ACME-DENTAL",
        coverage=Coverage.DENTAL,
        effective=date(2025, 6, 1),
    )
    reader = payer.uow()
    payer.store.reset()
    listed = members.enrollments(uow=reader, member_id=member.id)
    assert payer.store.calls["query"] == 1, dict(payer.store.calls)
    assert [e.effective for e in listed] == sorted(e.effective for e in listed)
    on = members.coverage_on
    assert on(uow=reader, member_id=member.id, day=date(2025, 12, 31)).id == first.id  # type: ignore[union-attr]
    assert on(uow=reader, member_id=member.id, day=date(2026, 1, 1)).id == second.id  # type: ignore[union-attr]
    assert on(uow=reader, member_id=member.id, day=date(2024, 12, 31)) is None
    dental = on(uow=reader, member_id=member.id, day=date(2030, 1, 1), coverage=Coverage.DENTAL)
    assert dental is not None and dental.product_line == "ACME-DENTAL"


@pytest.mark.parametrize(
    ("effective", "termination"),
    [
        (date(2025, 12, 31), None),  # starts on the other's last day
        (date(2024, 1, 1), date(2025, 1, 1)),  # ends on the other's first day
        (date(2025, 3, 1), date(2025, 4, 1)),  # inside it
        (date(2024, 1, 1), None),  # around it, open-ended
    ],
)
def test_an_overlapping_enrollment_of_the_same_coverage_is_refused(
    payer: Payer, effective: date, termination: date | None
) -> None:
    member = payer.member(1)
    members.enroll(
        uow=payer.uow(),
        member_id=member.id,
        product_line="ACME-PPO",
        effective=date(2025, 1, 1),
        termination=date(2025, 12, 31),
    )
    with pytest.raises(ValidationError) as refused:
        members.enroll(
            uow=payer.uow(),
            member_id=member.id,
            product_line="BETA-HMO",
            effective=effective,
            termination=termination,
        )
    assert refused.value.field == "enrollment.effective" and "overlaps" in str(refused.value)
    assert len(members.enrollments(uow=payer.uow(), member_id=member.id)) == 1  # nothing more
    touching = members.enroll(  # the day after the last covered day: no overlap
        uow=payer.uow(), member_id=member.id, product_line="BETA-HMO", effective=date(2026, 1, 1)
    )
    assert touching.effective == date(2026, 1, 1)


def test_enrollment_dates_and_member_are_checked(payer: Payer) -> None:
    member = payer.member(1)
    with pytest.raises(ValidationError) as backwards:
        members.enroll(
            uow=payer.uow(),
            member_id=member.id,
            product_line="ACME-PPO",
            effective=date(2025, 2, 1),
            termination=date(2025, 1, 31),
        )
    assert "termination" in str(backwards.value)
    with pytest.raises((ValidationError, NotFound)):
        members.enroll(
            uow=payer.uow(), member_id=new_id(), product_line="ACME-PPO", effective=date(2025, 1, 1)
        )


def test_concurrent_overlapping_enrollments_exactly_one_lands(payer: Payer) -> None:
    member = payer.member(1)
    barrier, outcomes = threading.Barrier(4), list[object]()

    def enroll(k: int) -> None:
        uow = payer.uow()
        barrier.wait(timeout=30)
        try:
            outcomes.append(
                members.enroll(
                    uow=uow,
                    member_id=member.id,
                    product_line=f"PLAN-{k}",
                    effective=date(2025, 1 + k, 1),  # every pair overlaps: all open-ended
                )
            )
        except (ValidationError, ConflictError) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=enroll, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    landed = [o for o in outcomes if isinstance(o, Enrollment)]
    assert len(outcomes) == 4 and len(landed) == 1, outcomes
    assert [e.id for e in members.enrollments(uow=payer.uow(), member_id=member.id)] == [
        landed[0].id
    ]
