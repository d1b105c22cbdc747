"""Intake and portal: consents, insurance verifications, registrations, invitations, sessions."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carevault.domain.base import (
    SELF,
    Cents,
    Email,
    Entity,
    FieldClass,
    Id,
    Key,
    Name,
    Short,
    Text,
    UtcDateTime,
)
from carevault.domain.base import FieldClass as C
from carevault.domain.patient import Insurance
from carevault.errors import InvalidTransition, ValidationError


class ConsentKind(StrEnum):
    HIPAA = "HIPAA"
    TREATMENT = "TREATMENT"
    COMMUNICATION = "COMMUNICATION"
    RESEARCH = "RESEARCH"


class Channel(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    SMS = "SMS"
    MAIL = "MAIL"
    PORTAL = "PORTAL"


class Consent(Entity):
    """A patient's consent (or its revocation): what, when, and how they may be contacted."""

    TYPE: ClassVar[str] = "CONSENT"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset({"revoked_at", "revocation_reason"})
    RESOURCE: ClassVar[str | None] = "consent"
    CLASSES: ClassVar[dict[str, FieldClass]] = {"signed_name": C.INDEX, "notes": C.CLINICAL}
    PHI: ClassVar[frozenset[str]] = frozenset({"signed_name", "notes"})
    WHEN: ClassVar[str] = "{granted_at}"
    REFS: ClassVar[dict[str, str]] = {"patient_id": "PATIENT"}

    patient_id: Id
    kind: ConsentKind
    granted: bool = True
    granted_at: UtcDateTime
    channels: list[Channel] = Field(default_factory=list, max_length=5)
    signed_name: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=2000)
    revoked_at: UtcDateTime | None = None
    revocation_reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _order(self) -> Consent:
        if self.revoked_at is not None and self.revoked_at < self.granted_at:
            raise ValueError("revoked_at must not be before granted_at")
        return self


class VerificationStatus(StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"


class VerificationResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    coverage_active: bool
    plan_name: str | None = Field(default=None, max_length=200)
    copay: Cents | None = None
    deductible_remaining: Cents | None = None
    message: str | None = Field(default=None, max_length=1000)


class InsuranceVerification(Entity):
    """A request to verify a patient's insurance, and its outcome."""

    TYPE: ClassVar[str] = "INSVER"
    RESOURCE: ClassVar[str | None] = "insurance"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset({"status", "result", "verified_at"})
    CLASSES: ClassVar[dict[str, FieldClass]] = {"insurance": C.FINANCIAL, "result": C.FINANCIAL}
    PHI: ClassVar[frozenset[str]] = frozenset({"insurance", "result"})
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi4",
            pk="INSVER#STATUS#{status}",
            sk="{created_at}#{id}",
            purpose="verifications by status (work queue)",
        ),
    )
    REFS: ClassVar[dict[str, str]] = {"patient_id": "PATIENT"}

    patient_id: Id
    insurance: Insurance
    status: VerificationStatus = VerificationStatus.PENDING
    result: VerificationResult | None = None
    verified_at: UtcDateTime | None = None

    def decided(
        self, status: VerificationStatus, result: VerificationResult | None, at: datetime
    ) -> InsuranceVerification:
        """The outcome recorded: a pending verification is verified or rejected, once."""
        if self.status is not VerificationStatus.PENDING:
            raise InvalidTransition(
                "insurance_verification.status", f"is {self.status.value} already"
            )
        if status is VerificationStatus.PENDING:
            raise ValidationError("insurance_verification.status", "must be VERIFIED or REJECTED")
        return self.changed(status=status, result=result, verified_at=at, updated_at=at)


class RegistrationStatus(StrEnum):
    PENDING = "PENDING"
    CONVERTED = "CONVERTED"
    REJECTED = "REJECTED"


class Registration(Entity):
    """A self-registration before a patient record exists; converted into a patient."""

    TYPE: ClassVar[str] = "REGISTRATION"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset({"status", "patient_id"})
    RESOURCE: ClassVar[str | None] = "registration"
    PATIENT: ClassVar[str | None] = SELF
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "first_name": C.INDEX,
        "last_name": C.INDEX,
        "date_of_birth": C.INDEX,
        "email": C.CONTACT,
        "phone": C.CONTACT,
        "concerns": C.CLINICAL,
    }
    SUBJECT: ClassVar[str | None] = SELF
    PHI: ClassVar[frozenset[str]] = frozenset(
        {"first_name", "last_name", "email", "phone", "date_of_birth", "concerns"}
    )
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi4",
            pk="REGISTRATION#STATUS#{status}",
            sk="{created_at}#{id}",
            purpose="registrations by status (work queue)",
        ),
    )

    first_name: Name
    last_name: Name
    email: Email
    phone: str | None = Field(default=None, max_length=40)
    date_of_birth: date | None = None
    concerns: list[Short] = Field(default_factory=list, max_length=20)
    status: RegistrationStatus = RegistrationStatus.PENDING
    patient_id: Id | None = None  # set when converted


class InvitationStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"


class Invitation(Entity):
    """A portal invitation: only the token's SHA-256 is stored, and it expires (7 days)."""

    TYPE: ClassVar[str] = "INVITE"
    KEYS: ClassVar[tuple[Key, ...]] = ()
    EXPIRES: ClassVar[str | None] = "expires_at"
    REFS: ClassVar[dict[str, str]] = {"patient_id": "PATIENT"}

    patient_id: Id
    token_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    expires_at: UtcDateTime
    status: InvitationStatus = InvitationStatus.PENDING
    accepted_at: UtcDateTime | None = None


class SessionKind(StrEnum):
    PORTAL = "portal"
    STAFF = "staff"
    REGISTRATION = "registration"


class Session(Entity):
    """A signed-in session (a refresh-token family): idle and absolute timeouts, revocable.

    Only hashes of refresh secrets are kept; ``previous_hash`` is the secret that the last
    refresh replaced, so presenting it again (a stolen, replayed token) is recognised.
    """

    TYPE: ClassVar[str] = "SESSION"
    DECODED_KEPT: ClassVar[bool] = True  # every request checks its session is live
    PATIENT: ClassVar[str | None] = None
    SUBJECT: ClassVar[str | None] = None
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi4", pk="USER#{user_id}#SESSIONS", sk="{id}", purpose="a user's sessions"),
    )
    EXPIRES: ClassVar[str | None] = "expires_at"
    REFS: ClassVar[dict[str, str]] = {"user_id": "USER"}

    user_id: Id
    role: str = Field(default="STAFF", max_length=20)
    kind: SessionKind = SessionKind.STAFF
    expires_at: UtcDateTime  # absolute timeout
    last_used_at: UtcDateTime | None = None
    idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    refresh_hash: str = Field(default="", max_length=64)
    previous_hash: str | None = Field(default=None, max_length=64)
    active: bool = True
    revoked_at: UtcDateTime | None = None
    revoked_reason: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=45)  # the client's, at sign-in
    agent: str | None = Field(default=None, max_length=200)  # its user agent, at sign-in


class MessageKind(StrEnum):
    PORTAL_INVITATION = "portal_invitation"


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"


class Outgoing(Entity):
    """What waits in the clinic's outbox: a message, sealed (it names and reaches its
    recipient, and an invitation's carries a token nobody else may see)."""

    PHI: ClassVar[frozenset[str]] = frozenset({"to", "body"})
    EXPIRES: ClassVar[str | None] = "expires_at"

    channel: Literal["email"] = "email"
    to: Email
    subject: Short
    body: Text
    status: MessageStatus = MessageStatus.PENDING
    sent_at: UtcDateTime | None = None
    expires_at: UtcDateTime


class Message(Outgoing):
    """A message to a patient waiting in the clinic's outbox (sealed under their key)."""

    TYPE: ClassVar[str] = "MESSAGE"
    CLASSES: ClassVar[dict[str, FieldClass]] = {"to": C.CONTACT, "body": C.CLINICAL}
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi4",
            pk="MESSAGE#STATUS#{status}",
            sk="{created_at}#{id}",
            purpose="the outbox: messages by status, oldest first",
        ),
    )
    REFS: ClassVar[dict[str, str]] = {"patient_id": "PATIENT"}

    patient_id: Id
    kind: MessageKind
