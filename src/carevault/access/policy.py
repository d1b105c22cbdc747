"""Authorization: who may read which fields of which resource, derived from the entities.

Permissions are ``resource:action``; the resources are the entities' ``RESOURCE`` names.
Reads are decided per item by the principal's gate (``carevault.access.gate``), from:

- the role's permission to read the resource;
- the caller's relationship to the item's patient: a PATIENT reaches only their own
  records, a DOCTOR only patients in their care (a care relationship on record, or an open
  break-glass window); outside care a DOCTOR sees a patient's index entry (id, name, date
  of birth, MRN: enough to start care or break the glass) and nothing else about them;
- the field classes the role sees (minimum necessary): STAFF no SSN and no clinical
  content, BILLING no clinical content and no booking reasons, ADMIN no clinical content,
  and nobody but the patient's own clinicians the notes and records.

``policy_table()`` is the whole decision as rows; docs/access.md shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from carevault.audit.recorder import Origin
from carevault.domain import ENTITIES
from carevault.domain.base import BASE_FIELDS, Entity, FieldClass
from carevault.domain.clinic import Role

C = FieldClass
SERVED: dict[str, type[Entity]] = {e.RESOURCE: e for e in ENTITIES if e.RESOURCE}
"""Each resource and the entity it is (from the declarations)."""
RESOURCES = tuple(SERVED)
PATIENT_BOUND = frozenset(r for r, e in SERVED.items() if e.PATIENT is not None)
"""Resources about one patient: what care (and a patient's own login) scopes."""
CLINICAL = frozenset(
    r for r, e in SERVED.items() if e.PHI and all(e.field_class(f) is C.CLINICAL for f in e.PHI)
)
"""Resources whose sealed content is all clinical: notes, records, documents, treatments."""


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
        "insurance,invoice,provider,clinic:read",
        "user:read,search",  # the clinic's staff by role: not PHI
        "provider:search",  # the provider directory: not PHI
    ),
    Role.STAFF: _grant(
        "patient,appointment,block,consent,insurance,registration:read,write,search",
        "invoice,provider,clinic:read",
        "user:read,search",
        "provider:search",
    ),
    Role.BILLING: _grant(
        "invoice,insurance:read,write,search",
        "patient,appointment,provider,clinic:read",
        "provider:search",
    ),
    Role.AUDITOR: _grant("audit:read,export", "clinic:read"),
    Role.PATIENT: _grant(
        "patient,appointment,note,record,document,invoice,treatment,consent:read",
        "consent:write",
        "clinic,provider:read",
        "provider:search",  # a patient picks a provider to book with
    ),
    # a payer's roles (seed 004); its ADMIN and AUDITOR are the rows above
    Role.MEMBER_SERVICES: _grant("member,enrollment:read,write,search"),
    Role.CLAIMS_PROCESSOR: _grant("member,enrollment:read,search"),
    Role.PROVIDER_RELATIONS: _grant("member:read"),  # who a provider's claims are about
    Role.FRAUD_ANALYST: _grant("member,enrollment:read,search"),
    Role.SERVICE: frozenset(),  # API clients carry their scopes instead
}

_FRONT = frozenset({C.INDEX, C.DEMOGRAPHIC, C.CONTACT, C.KIN, C.FINANCIAL, C.VISIT, C.ADMIN})
SEES: dict[Role, frozenset[FieldClass]] = {
    Role.ADMIN: _FRONT | {C.IDENTIFIER},
    Role.DOCTOR: frozenset(C),
    Role.STAFF: _FRONT,
    Role.BILLING: frozenset({C.INDEX, C.DEMOGRAPHIC, C.CONTACT, C.FINANCIAL, C.ADMIN}),
    Role.AUDITOR: frozenset({C.ADMIN}),
    Role.PATIENT: frozenset(C),
    Role.MEMBER_SERVICES: _FRONT | {C.IDENTIFIER},  # verifies callers by SSN
    Role.CLAIMS_PROCESSOR: _FRONT | {C.IDENTIFIER},
    Role.PROVIDER_RELATIONS: frozenset({C.INDEX, C.DEMOGRAPHIC, C.ADMIN}),  # no SSN, no contact
    Role.FRAUD_ANALYST: _FRONT | {C.IDENTIFIER},
    Role.SERVICE: _FRONT | {C.IDENTIFIER},  # an API client: what the ADMIN who made it sees
}
"""The field classes each role sees of what it may read."""
SCOPED: dict[Role, str] = {Role.PATIENT: "their own", Role.DOCTOR: "in their care"}
"""Roles that reach a patient's records only through a relationship to the patient."""
INDEX_ENTRY = frozenset({C.INDEX})
"""What a DOCTOR sees of a patient outside their care."""


class Decision(StrEnum):
    ALLOW = "allow"
    INDEX = "index only"
    DENY = "deny"


def decide(
    role: Role, permissions: frozenset[str], resource: str, related: bool
) -> tuple[Decision, frozenset[FieldClass]]:
    """The decision and visible field classes for one role, resource and relationship."""
    if f"{resource}:read" not in permissions:
        return Decision.DENY, frozenset()
    if resource in PATIENT_BOUND and role in SCOPED and not related:
        if role is Role.DOCTOR and resource == "patient":
            return Decision.INDEX, INDEX_ENTRY
        return Decision.DENY, frozenset()
    return Decision.ALLOW, SEES[role]


@cache
def hidden_fields(entity: type[Entity], visible: frozenset[FieldClass]) -> frozenset[str]:
    """The fields of ``entity`` whose class is not visible (never those every entity has)."""
    return frozenset(
        n
        for n in entity.model_fields
        if n not in BASE_FIELDS and entity.field_class(n) not in visible
    )


@dataclass(frozen=True)
class Row:
    """One line of the policy table."""

    role: Role
    resource: str
    relationship: str
    decision: Decision
    visible: tuple[str, ...]


def policy_table() -> list[Row]:
    """Every role x resource x relationship the roles' permissions make a question."""
    rows = []
    for role in Role:
        # an API client can hold at most its creator's (an ADMIN's) permissions
        granted = ROLE_PERMISSIONS[Role.ADMIN if role is Role.SERVICE else role]
        for resource, entity in SERVED.items():
            if f"{resource}:read" not in granted:
                continue
            scoped = resource in PATIENT_BOUND and role in SCOPED
            cases = [(SCOPED[role], True), ("any other", False)] if scoped else [("any", True)]
            for label, related in cases:
                decision, visible = decide(role, granted, resource, related)
                shown = [c.value for c in C if c in visible and _has(entity, c)]
                rows.append(Row(role, resource, label, decision, tuple(shown)))
    return rows


def _has(entity: type[Entity], cls: FieldClass) -> bool:
    return any(entity.field_class(n) is cls for n in entity.model_fields)


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
