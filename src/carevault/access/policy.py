"""Authorization: the principal of a request, role permissions, masking and care rules.

Permissions are ``resource:action``. A role grants a set of them; on top of that:

- a PATIENT reaches only their own records;
- a DOCTOR reaches a patient only with a care relationship (an appointment, a note or
  being the primary provider, recorded as ``T#{t}#CARE#{doctor}#{patient}``), or during a
  break-glass window, which needs a reason, expires, and is a critical security event;
- reads are masked to the minimum necessary: STAFF sees no SSN and no clinical content,
  BILLING no clinical content either, and nobody but the patient's own clinicians sees
  notes and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from carevault.audit.recorder import Origin
from carevault.domain.base import Entity
from carevault.domain.clinic import Role
from carevault.errors import PermissionDenied, ValidationError
from carevault.repo.records import Staged
from carevault.store import Put, Store

RESOURCES = (
    "clinic",
    "user",
    "provider",
    "patient",
    "appointment",
    "block",
    "note",
    "record",
    "document",
    "invoice",
    "treatment",
    "consent",
    "insurance",
    "registration",
    "audit",
    "client",
)
CLINICAL = ("note", "record", "document", "treatment")
CARE_SCOPED = frozenset(
    {"patient", "appointment", "note", "record", "document", "treatment", "consent"}
)
"""What a DOCTOR reads (and notes and records written) only for patients in their care."""


def _grant(*specs: str) -> frozenset[str]:
    out: set[str] = set()
    for spec in specs:
        resources, actions = spec.split(":")
        for resource in RESOURCES if resources == "*" else resources.split(","):
            out |= {f"{resource}:{action}" for action in actions.split(",")}
    return frozenset(out)


ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: _grant(  # everything but clinical content (minimum necessary)
        ",".join(r for r in RESOURCES if r not in CLINICAL) + ":read,write,search,delete",
        "audit:read,export",
        "patient:shred",  # crypto-shredding a patient's data key (a critical event)
    ),
    Role.DOCTOR: _grant(
        "patient,appointment,block,note,record,document,treatment,consent:read,write,search",
        "insurance,invoice,provider,user,clinic:read",
    ),
    Role.STAFF: _grant(
        "patient,appointment,block,consent,insurance,registration:read,write,search",
        "invoice,provider,user,clinic:read",
    ),
    Role.BILLING: _grant(
        "invoice,insurance:read,write,search", "patient,appointment,provider,clinic:read"
    ),
    Role.AUDITOR: _grant("audit:read,export", "clinic:read"),
    Role.PATIENT: _grant(
        "patient,appointment,note,record,document,invoice,treatment,consent:read",
        "consent:write",
        "clinic,provider:read",
    ),
    Role.SERVICE: frozenset(),  # API clients carry their scopes instead
}

MASKED: dict[Role, dict[str, frozenset[str]]] = {
    Role.STAFF: {
        "PATIENT": frozenset({"ssn", "allergies", "medications", "conditions", "blood_type"}),
        "APPT": frozenset({"notes", "notes_history"}),
    },
    Role.BILLING: {
        "PATIENT": frozenset(
            {"ssn", "allergies", "medications", "conditions", "blood_type", "emergency_contact"}
        ),
        "APPT": frozenset({"reason", "preparation", "notes", "notes_history"}),
    },
}
BREAK_GLASS_MAX = timedelta(hours=4)

E = TypeVar("E", bound=Entity)


@dataclass(frozen=True)
class Principal:
    """Who makes a request: built once per request from a verified token."""

    tenant: str
    user_id: str
    role: Role
    permissions: frozenset[str] = field(default=frozenset())
    patient_id: str | None = None  # a PATIENT's own record
    break_glass_until: datetime | None = None
    request_id: str | None = None
    origin: Origin = field(default_factory=Origin)  # the client's address and user agent

    @classmethod
    def of(cls, tenant: str, user_id: str, role: Role, **extra: Any) -> Principal:
        """A principal with its role's permissions (an API client passes its scopes)."""
        permissions = extra.pop("permissions", None)
        if permissions is None:
            permissions = ROLE_PERMISSIONS[role]
        return cls(tenant, user_id, role, frozenset(permissions), **extra)


def care_key(tenant: str, doctor: str, patient: str) -> tuple[str, str]:
    return f"T#{tenant}#CARE#{doctor}#{patient}", "#"


def stage_care(tenant: str, doctor: str, patient: str) -> Staged:
    """Record that ``doctor`` treats ``patient`` (written with the appointment or note)."""
    pk, sk = care_key(tenant, doctor, patient)
    return Staged(Put({"pk": pk, "sk": sk, "doctor": doctor, "patient": patient}))


def break_glass_key(tenant: str, user: str) -> tuple[str, str]:
    return f"T#{tenant}#BREAKGLASS#{user}", "#"


def active_break_glass(store: Store, principal: Principal, now: datetime) -> bool:
    """Whether the principal's break-glass window is open."""
    item = store.get(*break_glass_key(principal.tenant, principal.user_id))
    return item is not None and int(item["expires_at"]) > now.timestamp()


def open_break_glass(
    store: Store, principal: Principal, reason: str, minutes: int, now: datetime
) -> datetime:
    """Open an emergency-access window (the caller audits it as a security event)."""
    if principal.role is not Role.DOCTOR:
        raise PermissionDenied("break_glass", "only doctors may break the glass")
    if len(reason.strip()) < 10:
        raise ValidationError("break_glass.reason", "must explain the emergency (10+ characters)")
    if not 1 <= minutes <= BREAK_GLASS_MAX.total_seconds() // 60:
        raise ValidationError("break_glass.minutes", "must be from 1 to 240")
    until = now + timedelta(minutes=minutes)
    pk, sk = break_glass_key(principal.tenant, principal.user_id)
    store.put({"pk": pk, "sk": sk, "reason_given": True, "expires_at": int(until.timestamp())})
    return until


def mask(entity: E, role: Role) -> E:
    """The entity as ``role`` may see it: masked fields emptied."""
    hidden = MASKED.get(role, {}).get(entity.TYPE)
    if not hidden:
        return entity
    empty: dict[str, Any] = {
        name: [] if isinstance(getattr(entity, name), list) else None for name in hidden
    }
    return entity.model_copy(update=empty)
