"""The authorization matrix: every guarded operation x every role x whose records, on every
engine. Each cell is allowed or denied as the table below says (written out by hand, not
derived from the policy), every denial leaves a DENIED audit event, and nothing crosses
into the other clinic.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from carevault.access.guard import Guard
from carevault.access.policy import Principal
from carevault.audit.trail import fields_of
from carevault.domain.audit import Action
from carevault.domain.clinic import Role, User
from carevault.domain.patient import Patient
from carevault.errors import PermissionDenied
from carevault.services import clinics, patients, scheduling
from carevault.services.practice import Practice
from tests.domain.world import HALF_HOUR, World, local, make_world, utc

A, D, S, B, U, P = Role.ADMIN, Role.DOCTOR, Role.STAFF, Role.BILLING, Role.AUDITOR, Role.PATIENT
ALL, OWN = "all", "own"  # every patient of the clinic; only the principal's own (or cared-for)
counter = itertools.count()


def _slot() -> dict[str, Any]:
    n = next(counter)
    start = local(2027, 3, 1 + n // 16 % 5, 8) + timedelta(minutes=30 * (n % 16))
    return {"start": start, "end": start + HALF_HOUR}


Op = Callable[[Guard, str, World], Any]
PATIENT_OPS: dict[str, tuple[Op, dict[Role, str]]] = {
    "read patient": (
        lambda g, pid, w: g.read_patient(pid),
        {A: ALL, D: OWN, S: ALL, B: ALL, P: OWN},
    ),
    "update patient": (
        lambda g, pid, w: g.update_patient(pid, phone="+1 415 555 0199"),
        {A: ALL, D: OWN, S: ALL},
    ),
    "book": (
        lambda g, pid, w: g.book(patient_id=pid, provider_id=w.colleague.id, **_slot()),
        {A: ALL, D: ALL, S: ALL},
    ),
    "read appointments": (
        lambda g, pid, w: g.history("appointment", pid),
        {A: ALL, D: OWN, S: ALL, B: ALL, P: OWN},
    ),
    "draft note": (
        lambda g, pid, w: g.draft_note(patient_id=pid, provider_id=w.doctor.id),
        {D: OWN},
    ),
    "read notes": (lambda g, pid, w: g.history("note", pid), {D: OWN, P: OWN}),
    "read records": (lambda g, pid, w: g.history("record", pid), {D: OWN, P: OWN}),
    "read treatments": (lambda g, pid, w: g.history("treatment", pid), {D: OWN, P: OWN}),
    "create invoice": (
        lambda g, pid, w: g.create_invoice(
            patient_id=pid, line_items=[{"description": "Visit", "unit_price": 100}]
        ),
        {A: ALL, B: ALL},
    ),
    "read invoices": (
        lambda g, pid, w: g.history("invoice", pid),
        {A: ALL, D: ALL, S: ALL, B: ALL, P: OWN},
    ),
    "add consent": (
        lambda g, pid, w: g.add_consent(
            patient_id=pid, kind="HIPAA", granted_at=utc(2027, 1, 1, 9)
        ),
        {A: ALL, D: OWN, S: ALL, P: OWN},
    ),
    "disclosures": (lambda g, pid, w: g.disclosures(pid, utc(2000, 1, 1, 0)), {A: ALL, U: ALL}),
}
CLINIC_OPS: dict[str, tuple[Callable[[Guard, World], Any], set[Role]]] = {
    "search patients": (lambda g, w: g.search_patients("last_name", "Matrix"), {A, D, S}),
    "add user": (
        lambda g, w: g.add_user(
            first_name="N", last_name="U", role=Role.STAFF, email=f"n{next(counter)}@example.org"
        ),
        {A},
    ),
    "add block": (
        lambda g, w: g.add_block(
            provider_id=w.doctor.id,
            date="2027-06-01",
            start_time="12:00",
            end_time="13:00",
            reason="Lunch",
        ),
        {A, D, S},
    ),
}


def _user(world: World, role: Role, **extra: Any) -> User:
    return clinics.add_user(
        practice=world.practice,
        first_name="M",
        last_name=role.value,
        email=f"{role.value.lower()}.{world.tenant.lower()}@example.org",
        role=role,
        **extra,
    )


def test_authorization_matrix(world: World) -> None:
    other = make_world(world.make_store, world.tmp, shared=world)
    mine = world.patient("Matrix")  # in the doctor's care after the booking below
    stranger = world.patient("Matrix")  # in the clinic, not in this doctor's care
    foreign = other.patient("Matrix")  # another clinic's patient
    colleague = world.colleague = world.provider()  # type: ignore[attr-defined]
    scheduling.book(
        practice=world.practice, patient_id=mine.id, provider_id=world.doctor.id, **_slot()
    )
    scheduling.book(
        practice=world.practice, patient_id=stranger.id, provider_id=colleague.id, **_slot()
    )
    users = {role: _user(world, role) for role in (A, S, B, U)}
    users[D] = world.doctor
    users[P] = _user(world, P, patient_id=mine.id)
    foreign_before = other.practice.uow[Patient].require(foreign.id)
    cells = 0

    def guard(role: Role, request: str) -> Guard:
        extra: dict[str, Any] = {"patient_id": mine.id} if role is P else {}
        if role is Role.SERVICE:  # an API client with no scopes reaches nothing
            principal = Principal.of(
                world.tenant, "client:matrix", role, request_id=request, permissions=frozenset()
            )
        else:
            principal = Principal.of(
                world.tenant, users[role].id, role, request_id=request, **extra
            )
        return Guard(world.store, world.ring, principal, blobs=world.blobs)

    def run(
        request: str, role: Role, call: Callable[[Guard], Any], allowed: bool, what: str
    ) -> None:
        nonlocal cells
        cells += 1
        try:
            call(guard(role, request))
            outcome = True
        except PermissionDenied:
            outcome = False
        assert outcome == allowed, f"{what}: {role.value} {'denied' if allowed else 'allowed'}"
        if not allowed:
            denied = [
                e
                for e in world.practice.audit.query("gsi4", _critical(world))
                if e.request_id == request
            ]
            assert [e.action for e in denied] == [Action.DENIED], what

    for name, (op, rules) in PATIENT_OPS.items():
        for role in Role:
            rule = rules.get(role)
            for whose, patient in (("own", mine), ("other", stranger), ("foreign", foreign)):
                allowed = whose != "foreign" and (rule == ALL or (rule == OWN and whose == "own"))
                run(
                    f"{name}/{role.value}/{whose}",
                    role,
                    lambda g, pid=patient.id, op=op: op(g, pid, world),
                    allowed,
                    f"{name} on {whose} patient",
                )
    for name, (clinic_op, roles) in CLINIC_OPS.items():
        for role in Role:
            run(
                f"{name}/{role.value}",
                role,
                lambda g, op=clinic_op: op(g, world),
                role in roles,
                name,
            )
    assert cells == len(PATIENT_OPS) * len(Role) * 3 + len(CLINIC_OPS) * len(Role)
    # nothing reached the other clinic: its patient is untouched, its trail names no one of ours
    assert other.practice.uow[Patient].require(foreign.id) == foreign_before
    theirs = Practice.open(other.store, other.ring, other.tenant)
    ours = {u.id for u in users.values()}
    for shard in range(theirs.audit.shards):
        assert not [i for i in theirs.audit.events(shard) if fields_of(i)["actor_id"] in ours]
    assert (
        patients.find(practice=other.practice, by="last_name", value="Matrix")[0].id == foreign.id
    )


def _critical(world: World) -> str:
    """Today's critical events (denials are critical)."""
    return f"AUDIT#LEVEL#critical#{world.practice.now().date().isoformat()}"


def test_masking_and_break_glass(world: World) -> None:
    patient = world.patient("Masked", allergies=["Latex"])
    staff = _user(world, S)
    seen = Guard(world.store, world.ring, Principal.of(world.tenant, staff.id, S)).read_patient(
        patient.id
    )
    assert seen.ssn is None and seen.allergies == [] and seen.last_name == "Masked"
    doctor = Guard(world.store, world.ring, Principal.of(world.tenant, world.doctor.id, D))
    try:
        doctor.read_patient(patient.id)
        raise AssertionError("a doctor read a patient outside their care")
    except PermissionDenied:
        pass
    doctor.break_glass("Unconscious patient in the emergency room", minutes=30)
    full = doctor.read_patient(patient.id)
    assert full.ssn == patient.ssn and full.allergies == ["Latex"]
    events = world.practice.audit.query(
        "gsi4", f"AUDIT#LEVEL#critical#{world.practice.now().date()}"
    )
    assert any(e.action is Action.BREAK_GLASS for e in events)
