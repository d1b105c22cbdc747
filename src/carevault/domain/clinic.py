"""Clinics (the tenants), their users and the providers' professional profiles."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carevault.domain.base import (
    SELF,
    Cents,
    ClockTime,
    Currency,
    Email,
    Entity,
    FieldClass,
    Id,
    Key,
    Name,
    Phone,
    Search,
    Short,
    TimeZone,
    minutes,
)
from carevault.domain.base import FieldClass as C


class Plan(StrEnum):
    TRIAL = "TRIAL"
    BASIC = "BASIC"
    PROFESSIONAL = "PROFESSIONAL"
    ENTERPRISE = "ENTERPRISE"


class Subscription(BaseModel):
    """What the clinic pays for."""

    model_config = ConfigDict(extra="forbid")
    plan: Plan = Plan.TRIAL
    seats: int = Field(default=5, ge=1, le=10_000)
    active: bool = True


class ClinicSettings(BaseModel):
    """How the clinic schedules and bills."""

    model_config = ConfigDict(extra="forbid")
    slot_minutes: int = Field(default=15, ge=5, le=240, multiple_of=5)
    default_appointment_minutes: int = Field(default=30, ge=5, le=180, multiple_of=5)
    phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    currency: Currency = "USD"
    invoice_due_days: int = Field(default=30, ge=0, le=365)
    mfa_for_all_roles: bool = False


class Clinic(Entity):
    """A clinic: the tenant every other entity belongs to."""

    TYPE: ClassVar[str] = "CLINIC"
    DECODED_KEPT: ClassVar[bool] = True  # every request reads its clinic (time zone, settings)
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset({"active", "subscription"})
    RESOURCE: ClassVar[str | None] = "clinic"
    PATIENT: ClassVar[str | None] = None
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "address": C.CONTACT,
        "phone": C.CONTACT,
        "email": C.CONTACT,
    }
    SUBJECT: ClassVar[str | None] = SELF
    PHI: ClassVar[frozenset[str]] = frozenset({"address", "phone", "email"})
    KEYS: ClassVar[tuple[Key, ...]] = ()  # listed platform-wide by the clinic directory

    name: Name
    time_zone: TimeZone = "UTC"
    address: str | None = Field(default=None, max_length=500)
    phone: Phone | None = None
    email: Email | None = None
    settings: ClinicSettings = Field(default_factory=ClinicSettings)
    subscription: Subscription = Field(default_factory=Subscription)
    active: bool = True


class Role(StrEnum):
    ADMIN = "ADMIN"
    DOCTOR = "DOCTOR"
    STAFF = "STAFF"
    BILLING = "BILLING"
    AUDITOR = "AUDITOR"
    PATIENT = "PATIENT"
    CLAIMS_PROCESSOR = "CLAIMS_PROCESSOR"  # a payer's: adjudicates claims
    MEMBER_SERVICES = "MEMBER_SERVICES"  # a payer's: members, enrollments, eligibility
    PROVIDER_RELATIONS = "PROVIDER_RELATIONS"  # a payer's: providers, networks, fees
    FRAUD_ANALYST = "FRAUD_ANALYST"  # a payer's: fraud alerts and their evidence
    SERVICE = "SERVICE"  # an API client: its permissions are its scopes


CLINIC_ROLES = frozenset(
    {Role.ADMIN, Role.DOCTOR, Role.STAFF, Role.BILLING, Role.AUDITOR, Role.PATIENT}
)
PAYER_ROLES = frozenset(
    {
        Role.ADMIN,
        Role.CLAIMS_PROCESSOR,
        Role.MEMBER_SERVICES,
        Role.PROVIDER_RELATIONS,
        Role.FRAUD_ANALYST,
        Role.AUDITOR,
    }
)
"""The roles a clinic's users hold, and a payer's (ARCHITECTURE 5)."""


CARE_ROLES = frozenset({Role.DOCTOR})
"""Roles that provide care: a provider profile belongs to a user of one of them."""

PERMISSION = r"^[a-z_]+:(read|write|search|delete|export)$"


class User(Entity):
    """A person who signs in: clinic staff, or a patient using the portal."""

    TYPE: ClassVar[str] = "USER"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset({"active", "patient_id"})
    RESOURCE: ClassVar[str | None] = "user"
    PATIENT: ClassVar[str | None] = None
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "first_name": C.INDEX,
        "last_name": C.INDEX,
        "email": C.CONTACT,
        "phone": C.CONTACT,
    }
    SUBJECT: ClassVar[str | None] = SELF
    PHI: ClassVar[frozenset[str]] = frozenset({"first_name", "last_name", "email", "phone"})
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi1", pk="{TYPE}", sk="{id}", purpose="every user of the clinic"),
        Key(index="gsi4", pk="USER#ROLE#{role}", sk="{id}", purpose="users by role (A2)"),
    )
    UNIQUE: ClassVar[tuple[Search, ...]] = (
        Search(index="login", field="email", normalizer="email", bits=64, across_tenants=True),
    )
    REFS: ClassVar[dict[str, str]] = {"patient_id": "PATIENT"}

    first_name: Name
    last_name: Name
    email: Email
    phone: Phone | None = None
    role: Role
    active: bool = True
    patient_id: Id | None = None  # the portal user's own patient record

    @field_validator("role")
    @classmethod
    def _person(cls, value: Role) -> Role:
        if value is Role.SERVICE:
            raise ValueError("SERVICE is for API clients, not users")
        return value


class ApiClient(Entity):
    """A service account: a hashed secret and the permissions (scopes) it may use."""

    TYPE: ClassVar[str] = "CLIENT"
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset({"active", "secret_hash"})
    RESOURCE: ClassVar[str | None] = "client"
    PATIENT: ClassVar[str | None] = None
    SUBJECT: ClassVar[str | None] = None
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi1", pk="{TYPE}", sk="{id}", purpose="every API client of the clinic"),
    )

    name: Name
    scopes: list[Annotated[str, Field(pattern=PERMISSION)]] = Field(min_length=1, max_length=100)
    secret_hash: str = Field(min_length=20, max_length=200)
    active: bool = True


class DayHours(BaseModel):
    """Working hours on one weekday, local time; ``end`` may be 24:00."""

    model_config = ConfigDict(extra="forbid")
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> DayHours:
        if minutes(self.end) <= minutes(self.start):
            raise ValueError("end must be after start")
        return self


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class WorkingHours(BaseModel):
    """A provider's weekly hours; a day left out is a day off."""

    model_config = ConfigDict(extra="forbid")
    monday: DayHours | None = None
    tuesday: DayHours | None = None
    wednesday: DayHours | None = None
    thursday: DayHours | None = None
    friday: DayHours | None = None
    saturday: DayHours | None = None
    sunday: DayHours | None = None

    def on(self, weekday: int) -> DayHours | None:
        """Hours on ``weekday`` (0 = Monday)."""
        hours: DayHours | None = getattr(self, WEEKDAYS[weekday])
        return hours


class ProviderProfile(Entity):
    """A provider's professional profile and availability; its id is the provider's user id."""

    TYPE: ClassVar[str] = "PROVIDER"
    RESOURCE: ClassVar[str | None] = "provider"
    PATIENT: ClassVar[str | None] = None
    SUBJECT: ClassVar[str | None] = None
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi1", pk="{TYPE}", sk="{id}", purpose="every provider of the clinic"),
        Key(
            index="gsi5",
            pk="PROVIDER#SPECIALTY#{specialization}",
            sk="{id}",
            purpose="providers by specialization",
        ),
    )
    REFS: ClassVar[dict[str, str]] = {"id": "USER"}

    license_number: Short
    specialization: str = Field(min_length=1, max_length=80, pattern=r"^[^#]+$")
    department: str | None = Field(default=None, max_length=200)
    years_of_experience: int | None = Field(default=None, ge=0, le=80)
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    consultation_fee: Cents = 0
    currency: Currency = "USD"
    accepting_patients: bool = True
