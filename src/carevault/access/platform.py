"""Platform operations: the clinic directory (A1) and onboarding a clinic.

Only platform API clients reach them: service accounts of the ``PLATFORM`` scope (made
with ``carevault platform client``), whose scopes say what they may do. Their calls and
refusals are events in the platform's own audit trail; no clinic's data is read.
"""

from __future__ import annotations

from typing import Any

import pyotp

from carevault.access.policy import Principal
from carevault.audit.recorder import AuditContext, Auditor
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail
from carevault.crypto.keyring import Keyring
from carevault.domain.audit import Action, Level, Outcome
from carevault.domain.clinic import Clinic, Role, User
from carevault.errors import DuplicateValue, NotFound, PermissionDenied
from carevault.repo import credentials
from carevault.repo.records import PLATFORM
from carevault.repo.unit import Listing
from carevault.services import clinics
from carevault.store import Store


class Platform:
    """One platform principal's view of the clinic directory."""

    def __init__(self, store: Store, ring: Keyring, principal: Principal) -> None:
        self.store, self.ring, self.principal = store, ring, principal
        context = AuditContext(
            principal.user_id, principal.role.value, "OPERATIONS", principal.request_id
        )
        ring.ensure_tenant(PLATFORM)
        trail = AuditTrail(store, Signer(ring, PLATFORM), PLATFORM)
        self._auditor = Auditor(trail, context)

    def _check(self, permission: str) -> None:
        if self.principal.tenant != PLATFORM or permission not in self.principal.permissions:
            self._auditor.record(
                Action.DENIED, "CLINIC", None, None, Outcome.DENIED, Level.CRITICAL
            )
            raise PermissionDenied(permission, "only platform clients with this scope")

    def list_clinics(self, limit: int = 100, cursor: str | None = None) -> Listing[dict[str, Any]]:
        """Every clinic's id, name and state (A1)."""
        self._check("clinic:search")
        self._auditor.record(Action.SEARCH, "CLINIC", None, None, Outcome.SUCCESS, Level.STANDARD)
        return clinics.list_clinics(store=self.store, limit=limit, cursor=cursor)

    def clinic(self, clinic_id: str) -> dict[str, Any]:
        """One clinic's directory entry: id, name and state (404 if there is none)."""
        self._check("clinic:search")
        self._auditor.record(Action.READ, "CLINIC", None, None, Outcome.SUCCESS, Level.STANDARD)
        found = clinics.directory_entry(store=self.store, clinic_id=clinic_id)
        if found is None:
            raise NotFound("clinic", clinic_id)
        return found

    def onboard(
        self, clinic: dict[str, Any], admin: dict[str, Any], password: str
    ) -> tuple[Clinic, User, str]:
        """A new clinic and its first administrator (password set, TOTP secret returned once).

        Everything about the administrator is checked before the clinic is made, so a bad
        request leaves nothing behind.
        """
        self._check("clinic:write")
        email = str(admin.get("email", ""))
        User.create(**admin, role=Role.ADMIN)  # the fields' own rules, before any write
        credentials.check_policy(password, email)
        if clinics.find_login(store=self.store, ring=self.ring, email=email) is not None:
            raise DuplicateValue("clinic.admin.email", "is already the login of another user")
        secret = pyotp.random_base32()
        made, user = clinics.onboard_clinic(
            store=self.store,
            ring=self.ring,
            actor=self.principal.user_id,
            clinic=clinic,
            admin={**admin, "role": Role.ADMIN},
            password=password,
            totp_secret=secret,
        )
        self._auditor.record(
            Action.CREATE, "CLINIC", made.id, None, Outcome.SUCCESS, Level.CRITICAL
        )
        return made, user, secret
