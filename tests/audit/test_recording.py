"""Every write commits with its event; every PHI read is durable before it returns."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from carevault.audit.recorder import AuditContext
from carevault.audit.trail import verify
from carevault.domain.audit import Action
from carevault.domain.patient import Patient
from carevault.errors import DuplicateValue
from carevault.services import audit_trail, patients, scheduling
from carevault.services.practice import Practice
from carevault.store import Store
from tests.domain.world import HALF_HOUR, World, local, make_world, utc
from tests.threads import concurrently


@pytest.fixture
def audited(make_store: Callable[[], Store], tmp_path: Path) -> tuple[World, Practice]:
    world = make_world(make_store, tmp_path)
    context = AuditContext(actor=world.doctor.id, role="DOCTOR", request_id="req-1")
    return world, Practice.open(world.store, world.ring, world.tenant, audit=context)


def _events(p: Practice) -> list[tuple[str, str, str | None]]:
    found = audit_trail.on_day(practice=p, day=p.now().date())
    return [(e.action.value, e.resource_type, e.resource_id) for e in found]


def test_writes_reads_and_searches_are_recorded_without_phi(
    audited: tuple[World, Practice],
) -> None:
    world, p = audited
    ann = patients.register(
        practice=p,
        mrn="MRN-9",
        first_name="Annabel",
        last_name="Quist",
        date_of_birth="1970-01-01",
        gender="FEMALE",
        email="aq@example.org",
    )
    assert ("CREATE", "PATIENT", ann.id) in _events(p)
    with pytest.raises(DuplicateValue):
        patients.register(
            practice=p,
            mrn="MRN-9",
            first_name="B",
            last_name="C",
            date_of_birth="1970-01-01",
            gender="MALE",
        )
    assert sum(1 for e in _events(p) if e[0] == "CREATE") == 1  # the failed write left none
    p.uow[Patient].require(ann.id)
    assert ("READ", "PATIENT", ann.id) in _events(p)
    patients.find(practice=p, by="email", value="aq@example.org")
    assert ("SEARCH", "PATIENT", None) in _events(p)
    appt = scheduling.book(
        practice=p,
        patient_id=ann.id,
        provider_id=world.doctor.id,
        start=local(2027, 3, 1, 9),
        end=local(2027, 3, 1, 9) + HALF_HOUR,
    )
    scheduling.cancel(practice=p, appointment_id=appt.id, version=appt.version, reason="Flu")
    told = audit_trail.disclosures(practice=p, patient_id=ann.id, since=utc(2000, 1, 1, 0))
    assert {e.action for e in told} >= {Action.CREATE, Action.READ, Action.UPDATE}
    assert all(e.request_id == "req-1" and e.actor_id == world.doctor.id for e in told)
    report = verify(p.audit)
    assert report.intact and report.events == len(_events(p))
    raw = repr([i for s in range(p.audit.shards) for i in p.audit.events(s)])
    for secret in ("Annabel", "Quist", "aq@example.org", "Flu"):
        assert secret not in raw


def test_concurrent_reads_share_commits(audited: tuple[World, Practice]) -> None:
    world, p = audited
    people = [world.patient() for _ in range(4)]
    world.store.reset()
    start = threading.Barrier(8)

    def read(i: int) -> None:
        context = AuditContext(actor=f"reader{i}", role="STAFF", request_id=f"r{i}")
        mine = Practice.open(world.store, world.ring, world.tenant, audit=context)
        start.wait()
        for person in people * 3:
            mine.uow[Patient].require(person.id)

    assert not concurrently(read, 8)
    reads = [
        e for e in audit_trail.on_day(practice=p, day=p.now().date()) if e.action is Action.READ
    ]
    assert len(reads) == 8 * 12
    assert world.store.calls["transact_write"] < 8 * 12  # readers shared commits
    assert verify(p.audit).intact


def test_chain_items_carry_the_keys_audit_event_declares(audited: tuple[World, Practice]) -> None:
    from carevault.domain.audit import AuditEvent

    _, p = audited
    event = AuditEvent.create(
        at=utc(2027, 3, 1, 9),
        actor_id="u",
        role="DOCTOR",
        action="READ",
        resource_type="PATIENT",
        patient_id=p.tenant,
    )
    staged = p.audit.stage([event], shard=2)
    item = staged[0].action.item  # type: ignore[union-attr]
    fields = {**event.fields(), "id": event.id, "shard": 2, "seq": 1}
    for key in AuditEvent.KEYS:
        assert item[f"{key.index}pk"] == f"T#{p.tenant}#" + key.pk.format_map(fields)
        assert item[f"{key.index}sk"] == key.sk.format_map(fields)
    assert item["retain_until"] == "2034-03-01"


def test_an_append_after_another_writer_links_to_its_head(audited: tuple[World, Practice]) -> None:
    """A process's remembered head goes stale when another process appends: it re-reads."""
    from carevault.audit.trail import AuditTrail

    world, p = audited
    here = p.audit
    there = AuditTrail(world.store.inner, here.signer, here.tenant, shards=1)  # own hints
    here_one = AuditTrail(world.store, here.signer, here.tenant, shards=1)
    auditor = p.uow.audit
    assert auditor is not None
    for trail in (here_one, there, here_one, there, here_one):
        trail.append([auditor.event(Action.READ, "PATIENT", "x", "p") for _ in range(3)])
    report = verify(here_one)
    assert report.intact
    assert report.events == 15
