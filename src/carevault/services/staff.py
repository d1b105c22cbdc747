"""A clinic user's lifecycle: invitation, first password, reset, changes of role and name.

Tokens are single-use, stored as SHA-256 only, expire after 72 hours, and reach only the
user's own email (a staff message in the clinic's outbox, in the same transaction).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pyotp

from carevault.audit.recorder import AuditContext, Auditor
from carevault.crypto.keyring import Keyring
from carevault.domain.audit import Action, Level, Outcome
from carevault.domain.clinic import CLINIC_ROLES, Role, User
from carevault.domain.intake import InvitationStatus
from carevault.domain.staffing import InvitePurpose, StaffInvitation, StaffMessage
from carevault.errors import InvalidTransition, PermissionDenied, StaleVersion, ValidationError
from carevault.repo import credentials
from carevault.repo.records import Staged
from carevault.services import codes
from carevault.services.practice import Practice
from carevault.store import Attr, Delete, Put, Store

KIND = "STAFFINVITE"  # the pointer from a staff invitation or reset's code to it

TOKEN_TTL = timedelta(hours=72)
STAFF_ROLES = CLINIC_ROLES - {Role.PATIENT}  # a clinic's staff (payers' users come later)
SUBJECTS = {
    InvitePurpose.INVITATION: "You are invited to {clinic} on carevault",
    InvitePurpose.RESET: "Set a new carevault password for {clinic}",
}


def invite(
    *, practice: Practice, user_id: str, purpose: InvitePurpose = InvitePurpose.INVITATION
) -> StaffInvitation:
    """Send a user a token to set a password (a first one, or a reset of theirs)."""
    p = practice
    user = p.uow[User].for_change(user_id)  # the gate: only who may change users
    if user.role not in STAFF_ROLES:
        raise ValidationError("user.role", "portal users are invited from their patient record")
    if not user.active:
        raise InvalidTransition("user.active", "a deactivated user cannot be invited")
    token = secrets.token_urlsafe(32)
    now = p.now()
    invitation = p.uow[StaffInvitation].add(
        StaffInvitation.create(
            user_id=user.id,
            purpose=purpose,
            token_hash=codes.digest(token),
            expires_at=now + TOKEN_TTL,
            created_by=p.uow.actor,
            updated_by=p.uow.actor,
        )
    )
    pointer = {
        "pk": codes.pointer(KIND, invitation.token_hash)[0],
        "sk": "#",
        "tenant": p.tenant,
        "invitation": invitation.id,
        "expires_at": int(invitation.expires_at.timestamp()),
    }
    p.uow.stage([Staged(Put(pointer, Attr("pk").not_exists()))])
    if purpose is InvitePurpose.RESET:  # the old password and authenticator stop at once
        credentials.stage_cleared(p.uow, user.id)
    p.uow[StaffMessage].add(
        StaffMessage.create(
            user_id=user.id,
            to=user.email,
            subject=SUBJECTS[purpose].format(clinic=p.clinic.name),
            body=(
                f"{p.clinic.name} asks you to set your carevault password.\n"
                f"Your code: {token}\n"
                f"It can be used once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC, at "
                "POST /api/v1/invitations/acceptance."
            ),
            expires_at=invitation.expires_at,
            created_by=p.uow.actor,
            updated_by=p.uow.actor,
        )
    )
    p.uow.commit()
    _event(p, Action.CREATE, "STAFF_INVITATION", user.id)
    return invitation


def staff_token(*, store: Store, ring: Keyring, token: str) -> tuple[str, StaffInvitation] | None:
    """(clinic id, invitation) of a live staff token, or None (unknown, used, expired)."""
    if not 20 <= len(token) <= 100:
        return None
    pointer = store.get(*codes.pointer(KIND, codes.digest(token)))
    if pointer is None:
        return None
    practice = Practice.open(store, ring, pointer["tenant"])
    found = practice.uow[StaffInvitation].get(pointer["invitation"])
    if found is None or found.status is not InvitationStatus.PENDING:
        return None
    return pointer["tenant"], found


def accept(
    *,
    store: Store,
    ring: Keyring,
    tenant: str,
    invitation: StaffInvitation,
    password: str,
    needs_mfa: bool,
    audit: AuditContext,
) -> tuple[User, str | None]:
    """Spend a staff token: the user's password is set (and a TOTP secret, for roles that
    sign in with one, returned once); a reset also forgets the old authenticator."""
    p = Practice.open(store, ring, tenant, audit=audit)
    user = p.uow[User].require(invitation.user_id)
    if not user.active:
        raise InvalidTransition("user.active", "the user was deactivated")
    credentials.check_policy(password, user.email)
    secret = pyotp.random_base32() if needs_mfa else None
    now = p.now()
    p.uow[StaffInvitation].update(
        invitation.changed(status=InvitationStatus.ACCEPTED, accepted_at=now)
    )
    p.uow.stage([Staged(Delete(*codes.pointer(KIND, invitation.token_hash)))])
    credentials.stage_password(p.uow, user.id, password, user.email, totp_secret=secret)
    p.uow.commit()
    _event(p, Action.UPDATE, "CREDENTIAL", user.id)
    return user, secret


def change_password(*, practice: Practice, user_id: str, current: str, new: str) -> None:
    """A signed-in user's own new password (the current one is asked again)."""
    p = practice
    user = p.uow[User].require(user_id)
    if not credentials.check_password(p.uow, user_id, current):
        _event(p, Action.UPDATE, "CREDENTIAL", user_id, Outcome.FAILURE)
        raise ValidationError("current_password", "is not the account's password")
    if new == current:
        raise ValidationError("new_password", "must differ from the current password")
    credentials.stage_password(p.uow, user_id, new, user.email)
    p.uow.commit()
    _event(p, Action.UPDATE, "CREDENTIAL", user_id)


def change(*, practice: Practice, user_id: str, version: int, **changes: Any) -> User:
    """Change a user's name, phone or role (If-Match); never one's own role."""
    p = practice
    current = p.uow[User].for_change(user_id)
    if current.version != version:
        raise StaleVersion("the user changed since it was read; read it again")
    role = changes.get("role")
    if role is not None and Role(role) is not current.role:
        if user_id == p.uow.actor:
            raise PermissionDenied("user:write", "an administrator cannot change their own role")
        if Role(role) not in STAFF_ROLES or current.role not in STAFF_ROLES:
            raise ValidationError("user.role", "must stay a staff role (ADMIN, DOCTOR, …)")
    saved = p.uow[User].update(current.changed(**changes))
    p.uow.commit()
    return saved


def unlocked(*, practice: Practice, user_id: str) -> User:
    """Check an unlock may be done (the caller lifts the lockout) and record it."""
    p = practice
    user = p.uow[User].for_change(user_id)
    _event(p, Action.UPDATE, "LOCKOUT", user.id)
    return user


def _event(
    p: Practice, action: Action, what: str, user_id: str, outcome: Outcome = Outcome.SUCCESS
) -> None:
    """A critical event of the user's account (ids only)."""
    auditor = p.uow.audit
    if isinstance(auditor, Auditor):
        auditor.record(action, what, user_id, None, outcome, Level.CRITICAL)
