"""What a caller does that is not about one item: break-glass, crypto-shredding, the audit
trail, API clients. Each needs its own permission, checked (and a refusal recorded) here;
everything about items is decided by the gate where the items are read and written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from carevault.access import clients
from carevault.access.caller import Caller
from carevault.audit.trail import Report, verify
from carevault.domain.audit import Action, AuditEvent, Level, Outcome, ShredReason
from carevault.domain.base import utcnow
from carevault.domain.clinic import ApiClient, Role
from carevault.domain.patient import Patient
from carevault.errors import NotFound, ValidationError
from carevault.repo.care import open_break_glass
from carevault.services import audit_trail
from carevault.store import Item


def break_glass(caller: Caller, reason: str, minutes: int = 60) -> datetime:
    """Open emergency access to every patient for a while: a critical security event."""
    p = caller.principal
    if p.role is not Role.DOCTOR:
        raise caller.gate.deny("break_glass:write", "only doctors may break the glass")
    until = open_break_glass(caller.store, p.tenant, p.user_id, reason, minutes, utcnow())
    caller.gate.forget()
    caller.auditor.record(
        Action.BREAK_GLASS, "USER", p.user_id, None, Outcome.SUCCESS, Level.CRITICAL
    )
    return until


def _patient(caller: Caller, patient_id: str) -> None:
    if not caller.practice.uow.exists(Patient, patient_id):
        raise NotFound("patient", patient_id)


def shred_patient(caller: Caller, patient_id: str, reason: ShredReason) -> int:
    """Destroy a patient's data key for good: a critical event, its reason recorded."""
    caller.require("patient:shred", patient_id)
    _patient(caller, patient_id)
    count = caller.practice.uow.records.shred(patient_id)
    caller.auditor.record(
        Action.DELETE,
        "PATIENT_KEY",
        patient_id,
        patient_id,
        Outcome.SUCCESS,
        Level.CRITICAL,
        purpose=reason.value,
    )
    return count


def disclosures(caller: Caller, patient_id: str, since: datetime) -> list[AuditEvent]:
    """The accounting of disclosures of one patient."""
    caller.require("audit:read", patient_id)
    _patient(caller, patient_id)
    return audit_trail.disclosures(practice=caller.practice, patient_id=patient_id, since=since)


def audit_day(
    caller: Caller,
    day: date,
    level: Level | None = None,
    limit: int = 200,
    cursor: str | None = None,
) -> audit_trail.Page:
    """A page of the clinic's audit events of a day (of one compliance level, when given)."""
    caller.require("audit:read")
    return audit_trail.day_page(
        practice=caller.practice, day=day, level=level, limit=limit, cursor=cursor
    )


def verify_audit(caller: Caller) -> Report:
    """Recompute the clinic's audit chains."""
    caller.require("audit:read")
    return verify(caller.practice.audit)


def export_audit(caller: Caller) -> Iterator[Item]:
    """Every stored event of the clinic, chain by chain; the export is itself an event.

    The permission is checked and the export recorded now; the events are read as the
    returned iterator is consumed.
    """
    caller.require("audit:export")
    caller.auditor.record(Action.EXPORT, "AUDIT", None, None, Outcome.SUCCESS, Level.CRITICAL)
    trail = caller.practice.audit
    return (item for shard in range(trail.shards) for item in trail.events(shard))


def create_client(caller: Caller, name: str, scopes: list[str]) -> tuple[ApiClient, str]:
    """A new API client; it may hold only permissions its creator holds."""
    caller.require("client:write")
    for i, scope in enumerate(scopes):
        if scope not in caller.principal.permissions:
            raise ValidationError(f"api_client.scopes[{i}]", "must be a permission you hold")
    return clients.create_client(uow=caller.practice.uow, name=name, scopes=scopes)
