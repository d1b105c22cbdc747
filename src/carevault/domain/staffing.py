"""Staff onboarding: invitations to set a password (and resets), and messages to staff.

A staff invitation is what a patient's portal invitation is (A14) for a clinic's user: a
single-use token, stored as its SHA-256 only, that expires; the token travels only in a
message to the user's own email, through the clinic's outbox.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from carevault.domain.base import Entity, FieldClass, Id, Key, UtcDateTime
from carevault.domain.base import FieldClass as C
from carevault.domain.intake import InvitationStatus, Outgoing


class InvitePurpose(StrEnum):
    INVITATION = "INVITATION"  # a new user sets their first password
    RESET = "RESET"  # an administrator asked for a new password


class StaffInvitation(Entity):
    """A single-use token letting one user set a password (72 hours)."""

    TYPE: ClassVar[str] = "STAFFINVITE"
    SUBJECT: ClassVar[str | None] = None
    PATIENT: ClassVar[str | None] = None
    KEYS: ClassVar[tuple[Key, ...]] = ()
    EXPIRES: ClassVar[str | None] = "expires_at"
    REFS: ClassVar[dict[str, str]] = {"user_id": "USER"}

    user_id: Id
    purpose: InvitePurpose = InvitePurpose.INVITATION
    token_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    expires_at: UtcDateTime
    status: InvitationStatus = InvitationStatus.PENDING
    accepted_at: UtcDateTime | None = None


class StaffMessage(Outgoing):
    """A message to a clinic's user waiting in the outbox (sealed under the user's key)."""

    TYPE: ClassVar[str] = "STAFFMSG"
    SUBJECT: ClassVar[str | None] = "user_id"
    PATIENT: ClassVar[str | None] = None
    CLASSES: ClassVar[dict[str, FieldClass]] = {"to": C.CONTACT, "body": C.CONTACT}
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi4",
            pk="STAFFMSG#STATUS#{status}",
            sk="{created_at}#{id}",
            purpose="the outbox: messages to staff by status, oldest first",
        ),
    )
    REFS: ClassVar[dict[str, str]] = {"user_id": "USER"}

    user_id: Id
