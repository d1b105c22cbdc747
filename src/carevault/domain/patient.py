"""Patients: demographics, contact, insurance and medical summary (all PHI), and status."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from carevault.domain.base import (
    SELF,
    BirthDate,
    Email,
    Entity,
    FieldClass,
    Id,
    Key,
    Name,
    Phone,
    Search,
    Short,
    UtcDateTime,
)
from carevault.domain.base import FieldClass as C


class Gender(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    OTHER = "OTHER"
    UNDISCLOSED = "PREFER_NOT_TO_SAY"


class PatientStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    COMPLETED = "COMPLETED"
    TRANSFERRED = "TRANSFERRED"


class AccountStatus(StrEnum):
    NONE = "NONE"
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class ContactMethod(StrEnum):
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    SMS = "SMS"


class BloodType(StrEnum):
    O_POS, O_NEG, A_POS, A_NEG = "O+", "O-", "A+", "A-"
    B_POS, B_NEG, AB_POS, AB_NEG = "B+", "B-", "AB+", "AB-"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    street: Short
    city: Short
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country: Short


class EmergencyContact(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name
    relationship: Short
    phone: Phone


class Insurance(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    provider: Short
    policy_number: Short
    group_number: str | None = Field(default=None, max_length=60)


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    contact_method: ContactMethod = ContactMethod.EMAIL
    time_zone: str | None = Field(default=None, max_length=64)


class ExternalId(BaseModel):
    """An id of this patient in another system (an EHR, a lab, a payer)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    system: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    value: str = Field(min_length=1, max_length=80)

    @property
    def token(self) -> str:
        return f"{self.system.upper()}:{self.value}"


class Patient(Entity):
    """A patient of one clinic (a client, in a wellness practice)."""

    TYPE: ClassVar[str] = "PATIENT"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset(
        {
            "status",
            "account_status",
            "portal_user_id",
            "activated_at",
            "invitation_sent_at",
            "last_login_at",
            "external_tokens",
        }
    )
    RESOURCE: ClassVar[str | None] = "patient"
    PATIENT: ClassVar[str | None] = SELF
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "mrn": C.INDEX,
        "first_name": C.INDEX,
        "last_name": C.INDEX,
        "date_of_birth": C.INDEX,
        "gender": C.DEMOGRAPHIC,
        "email": C.CONTACT,
        "phone": C.CONTACT,
        "address": C.CONTACT,
        "preferences": C.CONTACT,
        "emergency_contact": C.KIN,
        "ssn": C.IDENTIFIER,
        "external_ids": C.IDENTIFIER,
        "external_tokens": C.IDENTIFIER,
        "insurance": C.FINANCIAL,
        "allergies": C.CLINICAL,
        "medications": C.CLINICAL,
        "conditions": C.CLINICAL,
        "blood_type": C.CLINICAL,
    }
    SUBJECT: ClassVar[str | None] = SELF
    PHI: ClassVar[frozenset[str]] = frozenset(
        {
            "mrn",
            "first_name",
            "last_name",
            "date_of_birth",
            "gender",
            "email",
            "phone",
            "ssn",
            "address",
            "emergency_contact",
            "insurance",
            "allergies",
            "medications",
            "conditions",
            "blood_type",
            "preferences",
            "external_ids",
            "external_tokens",
        }
    )
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi1", pk="{TYPE}", sk="{id}", purpose="every patient, oldest first"),
        Key(
            index="gsi4",
            pk="PATIENT#STATUS#{status}",
            sk="{created_at}#{id}",
            purpose="patients by status, newest first (A4)",
        ),
        Key(
            index="gsi5",
            pk="PROVIDER#{primary_provider_id}#PATIENTS",
            sk="{id}",
            purpose="a provider's patients",
        ),
    )
    LOOKUPS: ClassVar[tuple[Search, ...]] = (
        Search(index="patient_email", field="email", normalizer="email", bits=32),
        Search(index="patient_phone", field="phone", normalizer="phone", bits=32),
        Search(index="patient_last", field="last_name", normalizer="name", bits=16),
        Search(index="patient_last3", field="last_name", normalizer="prefix3", bits=10),
        Search(index="patient_sound", field="last_name", normalizer="sounds_like", bits=12),
        Search(index="patient_ext", field="external_tokens", normalizer="identifier", bits=32),
    )
    UNIQUE: ClassVar[tuple[Search, ...]] = (
        Search(index="mrn", field="mrn", normalizer="identifier", bits=64),
    )
    REFS: ClassVar[dict[str, str]] = {"primary_provider_id": "PROVIDER"}

    mrn: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./_-]*$")
    first_name: Name
    last_name: Name
    date_of_birth: BirthDate
    gender: Gender
    email: Email | None = None
    phone: Phone | None = None
    ssn: str | None = Field(default=None, pattern=r"^\d{3}-?\d{2}-?\d{4}$")
    address: Address | None = None
    emergency_contact: EmergencyContact | None = None
    insurance: Insurance | None = None
    allergies: list[Short] = Field(default_factory=list, max_length=100)
    medications: list[Short] = Field(default_factory=list, max_length=100)
    conditions: list[Short] = Field(default_factory=list, max_length=100)
    blood_type: BloodType | None = None
    preferences: Preferences = Field(default_factory=Preferences)
    external_ids: list[ExternalId] = Field(default_factory=list, max_length=20)
    external_tokens: list[str] = Field(default_factory=list)  # derived: SYSTEM:value
    status: PatientStatus = PatientStatus.ACTIVE
    primary_provider_id: Id | None = None
    account_status: AccountStatus = AccountStatus.NONE
    portal_user_id: Id | None = None
    invitation_sent_at: UtcDateTime | None = None
    activated_at: UtcDateTime | None = None
    last_login_at: UtcDateTime | None = None

    def model_post_init(self, context: object, /) -> None:
        tokens = [e.token for e in self.external_ids]
        if self.external_tokens != tokens:
            object.__setattr__(self, "external_tokens", tokens)
