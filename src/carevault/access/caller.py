"""A request's caller: its principal and the practice opened for it, through its gate.

Routes call the services with ``caller.practice``: every read, listing and write those
make is decided by the gate in the repositories, so no route can skip it.
"""

from __future__ import annotations

from carevault.access.gate import PolicyGate
from carevault.access.policy import Principal
from carevault.audit.recorder import AuditContext, Auditor
from carevault.blobs import BlobStore
from carevault.crypto.keyring import Keyring
from carevault.domain.audit import Action, Level, Outcome
from carevault.domain.base import utcnow
from carevault.services.practice import Practice
from carevault.store import Store


class Caller:
    """One principal's view of its own clinic, for one request."""

    def __init__(
        self,
        store: Store,
        ring: Keyring,
        principal: Principal,
        blobs: BlobStore | None = None,
        purpose: str = "TREATMENT",
    ) -> None:
        """``purpose``: what the audit events of the request name (PAYMENT for billing)."""
        self.store, self.principal = store, principal
        purpose = "EMERGENCY" if principal.break_glass_until else purpose
        context = AuditContext(
            principal.user_id, principal.role.value, purpose, principal.request_id, principal.origin
        )
        self.gate = PolicyGate(store, principal, utcnow, self._record_denial)
        self.practice = Practice.open(
            store, ring, principal.tenant, blobs=blobs, audit=context, gate=self.gate
        )

    @property
    def auditor(self) -> Auditor:
        auditor = self.practice.uow.audit
        assert isinstance(auditor, Auditor)
        return auditor

    def require(self, permission: str, patient_id: str | None = None) -> None:
        """Raise a recorded refusal (about ``patient_id``, when given) unless the caller
        holds ``permission``."""
        self.gate.require(permission, patient_id)

    def _record_denial(self, permission: str, patient_id: str | None) -> None:
        resource = permission.split(":", maxsplit=1)[0].upper()
        self.auditor.record(
            Action.DENIED, resource, None, patient_id, Outcome.DENIED, Level.CRITICAL
        )
