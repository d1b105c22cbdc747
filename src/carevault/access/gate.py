"""A principal's gate: the policy applied item by item, and the refusals it raises.

A refusal is recorded (a DENIED event) before it is raised, so refused attempts are as
visible as granted ones. For a patient's login another patient's records do not exist:
what it may not reach is not found rather than forbidden.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from carevault.access.policy import (
    PATIENT_BOUND,
    SCOPED,
    Decision,
    Principal,
    decide,
    hidden_fields,
)
from carevault.domain.base import Entity
from carevault.domain.clinic import Role
from carevault.errors import CarevaultError, NotFound, PermissionDenied
from carevault.repo.care import break_glass_open, cares_for
from carevault.repo.gate import FULL, Sight
from carevault.store import Store

Recorder = Callable[[str, str | None], None]
"""Records a denial: the permission refused and the patient it was about (if any)."""


class PolicyGate:
    """One principal's gate (``carevault.repo.gate.Gate``): reads, writes and searches."""

    def __init__(
        self, store: Store, principal: Principal, now: Callable[[], datetime], record: Recorder
    ) -> None:
        self.store, self.principal, self.now, self._record = store, principal, now, record
        self._related: dict[str, bool] = {}
        self._glass: bool | None = None

    def related(self, patient_id: str) -> bool:
        """Whether the patient is the caller's own (PATIENT) or in their care (DOCTOR)."""
        p = self.principal
        if p.role is Role.PATIENT:
            return patient_id == p.patient_id
        if p.role is not Role.DOCTOR:
            return False
        known = self._related.get(patient_id)
        if known is None:
            known = cares_for(self.store, p.tenant, p.user_id, patient_id) or self.glass()
            self._related[patient_id] = known
        return known

    def glass(self) -> bool:
        """Whether the caller's break-glass window is open (asked once per request)."""
        if self._glass is None:
            p = self.principal
            self._glass = break_glass_open(self.store, p.tenant, p.user_id, self.now())
        return self._glass

    def forget(self) -> None:
        """Ask the store again (after the caller broke the glass)."""
        self._related.clear()
        self._glass = None

    def deny(self, permission: str, reason: str, patient_id: str | None = None) -> CarevaultError:
        """A recorded refusal of ``permission`` (not found, for a patient's login asking for
        another patient's records of a kind it may read: those do not exist for it)."""
        self._record(permission, patient_id)
        p = self.principal
        theirs = patient_id in (None, p.patient_id)
        if p.role is Role.PATIENT and not theirs and permission in p.permissions:
            return NotFound(permission.split(":", maxsplit=1)[0], "")
        return PermissionDenied(permission, reason)

    def require(self, permission: str, patient_id: str | None = None) -> None:
        """Raise a recorded refusal unless the principal holds ``permission``."""
        if permission not in self.principal.permissions:
            raise self.deny(permission, self._role_refuses(), patient_id)

    def _role_refuses(self) -> str:
        return f"the {self.principal.role.value} role does not allow it"

    def _why(self, permission: str) -> str:
        if permission not in self.principal.permissions:
            return self._role_refuses()
        if self.principal.role is Role.PATIENT:
            return "a patient reaches only their own records"
        return "no care relationship with this patient"

    # -- carevault.repo.gate.Gate ------------------------------------------------------

    def sight(self, entity: type[Entity], patient_id: str | None) -> Sight | None:
        resource = entity.RESOURCE
        if resource is None:
            return FULL  # never served: sessions, invitations
        p = self.principal
        related = patient_id is not None and self.related(patient_id)
        decision, visible = decide(p.role, p.permissions, resource, related)
        if decision is Decision.DENY:
            return None
        hidden = hidden_fields(entity, visible)
        return Sight(hidden) if hidden else FULL

    def refused(self, entity: type[Entity], patient_id: str | None) -> Exception:
        permission = f"{entity.RESOURCE or entity.TYPE.lower()}:read"
        return self.deny(permission, self._why(permission), patient_id)

    def refuses_write(self, entity: type[Entity], patient_id: str | None) -> Exception | None:
        resource = entity.RESOURCE
        if resource is None:
            return None  # never served: sessions, invitations, outbox messages
        p, permission = self.principal, f"{resource}:write"
        if permission in p.permissions:
            scoped = patient_id is not None and resource in PATIENT_BOUND and p.role in SCOPED
            if not scoped or self.related(patient_id or ""):
                return None
        return self.deny(permission, self._why(permission), patient_id)

    def refuses(
        self, entity: type[Entity], action: str, patient_id: str | None = None
    ) -> Exception | None:
        resource = entity.RESOURCE
        permission = f"{resource}:{action}"
        if resource is None or permission in self.principal.permissions:
            return None
        return self.deny(permission, self._role_refuses(), patient_id)
