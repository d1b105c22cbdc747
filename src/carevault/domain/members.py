"""A payer's members (seed 004): demographics as PHI, subscribers and their dependants, and
enrollments in product lines with effective and termination dates."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator

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
)
from carevault.domain.base import FieldClass as C
from carevault.domain.patient import Address, Gender


class Relationship(StrEnum):
    """A member's relationship to the subscriber (X12 INS02 individual relationship codes)."""

    SELF = "18"
    SPOUSE = "01"
    CHILD = "19"
    DOMESTIC_PARTNER = "53"
    WARD = "15"
    OTHER_ADULT = "G8"


class Coverage(StrEnum):
    """What an enrollment covers; a member holds one enrollment per kind on a date."""

    MEDICAL = "MEDICAL"
    DENTAL = "DENTAL"
    VISION = "VISION"
    PHARMACY = "PHARMACY"


MEMBER_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$"


def name_birth(last_name: str, first_name: str, born: date) -> str:
    """The value a member is found by from a name and a birth date (its beacon folds the
    names: ``carevault.crypto.normalize.name_birth``)."""
    return f"{last_name}|{first_name}|{born.isoformat()}"


class Member(Entity):
    """A person a payer covers: a subscriber, or a dependant of one."""

    TYPE: ClassVar[str] = "MEMBER"
    RESOURCE: ClassVar[str | None] = "member"
    PATIENT: ClassVar[str | None] = SELF
    SUBJECT: ClassVar[str | None] = SELF  # a data key per member: shredding reaches all
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset({"name_birth"})
    CLASSES: ClassVar[dict[str, FieldClass]] = {
        "member_number": C.INDEX,
        "first_name": C.INDEX,
        "last_name": C.INDEX,
        "date_of_birth": C.INDEX,
        "name_birth": C.INDEX,
        "gender": C.DEMOGRAPHIC,
        "email": C.CONTACT,
        "phone": C.CONTACT,
        "address": C.CONTACT,
        "ssn": C.IDENTIFIER,
    }
    PHI: ClassVar[frozenset[str]] = frozenset(
        {
            "member_number",
            "first_name",
            "last_name",
            "date_of_birth",
            "name_birth",
            "gender",
            "email",
            "phone",
            "address",
            "ssn",
        }
    )
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(index="gsi1", pk="{TYPE}", sk="{id}", purpose="every member, oldest first"),
        Key(
            index="gsi5",
            pk="MEMBER#{subscriber_id}#DEPENDANTS",
            sk="{id}",
            purpose="a subscriber's dependants",
        ),
    )
    LOOKUPS: ClassVar[tuple[Search, ...]] = (
        Search(index="member_ssn", field="ssn", normalizer="identifier", bits=32),
        Search(index="member_name_birth", field="name_birth", normalizer="name_birth", bits=32),
    )
    UNIQUE: ClassVar[tuple[Search, ...]] = (
        Search(index="member_number", field="member_number", normalizer="identifier", bits=64),
    )
    REFS: ClassVar[dict[str, str]] = {"subscriber_id": "MEMBER"}

    member_number: str = Field(pattern=MEMBER_NUMBER)
    first_name: Name
    last_name: Name
    date_of_birth: BirthDate
    gender: Gender
    ssn: str | None = Field(default=None, pattern=r"^\d{3}-?\d{2}-?\d{4}$")
    email: Email | None = None
    phone: Phone | None = None
    address: Address | None = None
    subscriber_id: Id | None = Field(
        default=None, description="The subscriber this member is a dependant of (none: self)"
    )
    relationship: Relationship = Relationship.SELF
    name_birth: str = ""  # derived: the name + birth date search token

    @model_validator(mode="after")
    def _subscriber(self) -> Member:
        if (self.subscriber_id is None) != (self.relationship is Relationship.SELF):
            raise ValueError(
                "relationship must be 18 (self) for a subscriber and another code for a "
                "dependant (who names subscriber_id)"
            )
        if self.subscriber_id == self.id:
            raise ValueError("subscriber_id must name another member")
        return self

    def model_post_init(self, context: object, /) -> None:
        token = name_birth(self.last_name, self.first_name, self.date_of_birth)
        if self.name_birth != token:
            object.__setattr__(self, "name_birth", token)


class Enrollment(Entity):
    """A member's coverage by one product line from ``effective`` to ``termination``."""

    TYPE: ClassVar[str] = "ENROLLMENT"
    RESOURCE: ClassVar[str | None] = "enrollment"
    PATIENT: ClassVar[str | None] = "member_id"
    SUBJECT: ClassVar[str | None] = "member_id"
    KEYS: ClassVar[tuple[Key, ...]] = (
        Key(
            index="gsi5",
            pk="MEMBER#{member_id}#ENROLLMENTS",
            sk="{effective}#{id}",
            purpose="a member's enrollments by effective date (P2)",
        ),
    )
    REFS: ClassVar[dict[str, str]] = {"member_id": "MEMBER"}

    member_id: Id
    product_line: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,39}$")
    coverage: Coverage = Coverage.MEDICAL
    effective: date
    termination: date | None = Field(
        default=None, description="The last covered day (none: open-ended)"
    )

    @model_validator(mode="after")
    def _dates(self) -> Enrollment:
        if self.termination is not None and self.termination < self.effective:
            raise ValueError("termination must be on or after effective")
        return self

    def covers(self, day: date) -> bool:
        """Whether the member is covered on ``day`` by this enrollment."""
        return self.effective <= day and (self.termination is None or day <= self.termination)
