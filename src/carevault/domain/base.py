"""The entity base: fields, PHI, keys, lookups, uniques and references declared in one place.

An entity's class variables are its storage declaration, read by ``carevault.repo``:

- ``TYPE``: the type name in keys (``T#{t}#{TYPE}#{id}``);
- ``PHI``: fields sealed under the subject's data key (never in a key, log or error);
- ``SUBJECT``: the field naming whose data key seals it (``"@self"``: the entity itself);
- ``KEYS``: GSI templates over plain fields (GSI2 is always the subject's history);
- ``WHEN``: the subject-history sort template; ``LOOKUPS``/``UNIQUE``: beacon searches;
- ``REFS``: fields naming entities that must exist in the same clinic when it is written;
- ``RESOURCE``: the name permissions and the API give it (None: never served);
- ``PATIENT``: the field naming the patient it is about (``"@self"``: it is the patient);
- ``SERVER_OWNED``: fields only the server sets (state, timestamps, derived values);
- ``CLASSES``: each field's class (what it tells: identity, contact, clinical content, …);
  undeclared fields are ``admin``. Access policy is derived from these three.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pydantic
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from carevault.domain.ids import check_id, new_id
from carevault.errors import ValidationError

SELF = "@self"


EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)
"""The dates carevault takes: from 1900-01-01 to 2199-12-31 (a birth date, a visit, a
query's range). Outside them a date is refused, so no computation reaches the calendar's
own ends (years 1 and 9999)."""
RANGE_RULE = f"must be from {EARLIEST.isoformat()} to {LATEST.isoformat()}"


def _day(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(RANGE_RULE)
    return value


def _utc(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("must be an ISO 8601 instant with an offset")
    if not offset and not value.microsecond and EARLIEST.year <= value.year <= LATEST.year:
        # as every stored instant is written: UTC to the second
        return value if value.tzinfo is UTC else value.replace(tzinfo=UTC)
    if not EARLIEST <= value.date() <= LATEST:  # the date as written, before any shift
        raise ValueError(RANGE_RULE)
    return value.astimezone(UTC).replace(microsecond=0)


Day = Annotated[date, AfterValidator(_day)]
"""A calendar date within the supported dates."""


UtcDateTime = Annotated[
    datetime,
    AfterValidator(_utc),
    PlainSerializer(lambda d: d.isoformat()[:19] + "Z", return_type=str, when_used="json"),
]
"""An instant, stored as fixed-width UTC ISO-8601 (``2025-06-15T14:00:00Z``), sortable."""


def utcnow() -> datetime:
    """Now, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def _id(value: str) -> str:
    try:
        return check_id(value)
    except ValidationError:
        raise ValueError("must be a 26-character ULID") from None


Id = Annotated[str, AfterValidator(_id)]
"""A time-sortable random id (ULID)."""


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as America/New_York") from None
    return value


TimeZone = Annotated[str, AfterValidator(_zone)]


def _born(value: date) -> date:
    if value > date.today() or value.year < 1880:
        raise ValueError("must be a past date after 1880")
    return value


BirthDate = Annotated[date, AfterValidator(_born)]
"""A date of birth: a past date after 1880."""

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError("must be a time of day HH:MM from 00:00 to 24:00")
    return value


ClockTime = Annotated[str, AfterValidator(_clock)]
"""A local wall-clock time ``HH:MM``; ``24:00`` is the end of the day."""


def minutes(clock: str) -> int:
    """Minutes since midnight of an ``HH:MM`` clock time."""
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def local_instant(day: date, clock: str, zone: str) -> datetime:
    """The UTC instant of wall-clock ``clock`` on ``day`` in ``zone`` (24:00 = next midnight)."""
    total = minutes(clock)
    naive = datetime.combine(day, time(0)) + timedelta(minutes=total)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _email(value: str, info: ValidationInfo) -> str:
    if info.context and info.context.get("stored"):
        return value  # validated when it was written; reads skip the costly syntax check
    try:
        return validate_email(value)[1]
    except PydanticCustomError:
        raise ValueError("must be an email address such as name@example.org") from None


Email = Annotated[str, AfterValidator(_email)]


def _phone(value: str, info: ValidationInfo) -> str:
    if info.context and info.context.get("stored"):
        return value
    try:
        possible = phonenumbers.is_possible_number(phonenumbers.parse(value, "US"))
    except phonenumbers.NumberParseException:
        possible = False
    if not possible:
        raise ValueError("must be a phone number such as +1 415 555 0132 or (415) 555-0132")
    return value


Phone = Annotated[str, Field(min_length=3, max_length=40), AfterValidator(_phone)]
"""A phone number as written (national numbers read as US ones); searches normalize it."""
"""An email address, checked (and its domain normalized) when written."""

MONEY = re.compile(r"(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?", re.ASCII)
MONEY_RULE = 'must be an amount as a decimal string such as "150.00"'


def cents_of(value: Any) -> int:
    """Minor units (cents) of a decimal string ``"150.00"``; a number is refused (it is
    ambiguous: cents or units, and a float is inexact)."""
    if not isinstance(value, str) or MONEY.fullmatch(value) is None:
        raise ValueError(MONEY_RULE)
    units, _, fraction = value.partition(".")
    return int(units) * 100 + int(fraction.ljust(2, "0") or "0")


def money_text(cents: int) -> str:
    """Cents as the decimal string the API speaks: ``15000`` -> ``"150.00"``."""
    return f"{cents // 100}.{cents % 100:02d}"


def _stored_cents(value: Any) -> Any:
    return cents_of(value) if isinstance(value, str) else value


MONEY_SCHEMA = {
    "type": "string",
    "pattern": f"^{MONEY.pattern}$",
    "description": "An amount as a decimal string, two places at most",
    "examples": ["150.00"],
}
Cents = Annotated[
    int,
    BeforeValidator(_stored_cents),
    Field(ge=0, le=10**12),
    PlainSerializer(money_text, return_type=str, when_used="json"),
    WithJsonSchema(MONEY_SCHEMA),
]
"""An amount of money, held in minor units (cents, exact); in JSON a decimal string with two
places (``"150.00"``), in the currency its record names."""
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Text = Annotated[str, Field(min_length=1, max_length=10_000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class Key(BaseModel):
    """A GSI key template over plain fields: ``{field}`` placeholders, pk after ``T#{t}#``."""

    model_config = ConfigDict(frozen=True)
    index: Literal["gsi1", "gsi3", "gsi4", "gsi5"]
    pk: str
    sk: str
    purpose: str


class Search(BaseModel):
    """An encrypted search over a PHI field: beacon index name, normalizer and bit length."""

    model_config = ConfigDict(frozen=True)
    index: str
    field: str
    normalizer: Literal[
        "email", "phone", "name", "prefix3", "sounds_like", "identifier", "name_birth"
    ]
    bits: int = Field(ge=4, le=64)
    across_tenants: bool = False


class FieldClass(StrEnum):
    """What a field tells about its subject: masks and the access policy are per class."""

    INDEX = "index"  # who the patient is: name, date of birth, MRN (the patient index)
    DEMOGRAPHIC = "demographic"  # gender and the like
    CONTACT = "contact"  # how to reach them: email, phone, address, preferences
    KIN = "kin"  # their emergency contact
    IDENTIFIER = "identifier"  # government and external identifiers (SSN, payer ids)
    FINANCIAL = "financial"  # insurance, charges, payments
    VISIT = "visit"  # why they come: a booking's reason and preparation
    NOTES = "notes"  # clinicians' free-text notes on a booking
    CLINICAL = "clinical"  # diagnoses, medications, allergies, findings, documents
    ADMIN = "admin"  # status, dates and references: no content about the patient


class Entity(BaseModel):
    """A stored entity: an id, a version for optimistic locking, and who changed it when."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, str_strip_whitespace=True)

    TYPE: ClassVar[str]
    PHI: ClassVar[frozenset[str]] = frozenset()
    SUBJECT: ClassVar[str | None] = "patient_id"
    KEYS: ClassVar[tuple[Key, ...]] = ()
    WHEN: ClassVar[str] = "{created_at}"
    LOOKUPS: ClassVar[tuple[Search, ...]] = ()
    UNIQUE: ClassVar[tuple[Search, ...]] = ()
    REFS: ClassVar[dict[str, str]] = {}
    EXPIRES: ClassVar[str | None] = None  # a datetime field after which the item is gone
    HOME: ClassVar[tuple[str, str]] = ("{TYPE}#{id}", "#")  # the home item's key (after T#{t}#)
    RESOURCE: ClassVar[str | None] = None
    PATIENT: ClassVar[str | None] = "patient_id"
    CLASSES: ClassVar[dict[str, FieldClass]] = {}
    SERVER_OWNED: ClassVar[frozenset[str]] = frozenset()  # fields no request body may set
    DECODED_KEPT: ClassVar[bool] = False  # read on every request: its decoded form is kept

    id: Id = Field(default_factory=new_id)
    version: int = Field(default=0, ge=0)
    created_at: UtcDateTime = Field(default_factory=utcnow)
    updated_at: UtcDateTime = Field(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=64)
    updated_by: str | None = Field(default=None, max_length=64)
    deleted_at: UtcDateTime | None = None

    STORED_APART: ClassVar[frozenset[str]] = frozenset({"id", "version", "deleted_at"})
    _masked: frozenset[str] = PrivateAttr(default=frozenset())

    @classmethod
    def field_class(cls, name: str) -> FieldClass:
        """The class of one field (undeclared: admin)."""
        return cls.CLASSES.get(name, FieldClass.ADMIN)

    @classmethod
    def patient_of(cls, entity_id: str, fields: Mapping[str, Any]) -> str | None:
        """The patient an entity is about, from its id and its (plain) fields."""
        if cls.PATIENT is None or cls.PATIENT == SELF:
            return entity_id if cls.PATIENT == SELF else None
        value = fields.get(cls.PATIENT)
        return value if isinstance(value, str) else None

    @property
    def patient(self) -> str | None:
        """The patient this entity is about, if any."""
        return self.patient_of(self.id, self.__dict__)

    @property
    def masked(self) -> frozenset[str]:
        """Fields withheld from the reader (emptied here; absent from what the API returns)."""
        return self._masked

    def masked_for(self, hidden: frozenset[str]) -> Self:
        """A copy with ``hidden`` fields withheld."""
        hidden = hidden & frozenset(type(self).model_fields) - BASE_FIELDS
        if not hidden:
            return self
        copy = self.model_copy(update=dict.fromkeys(hidden))
        copy._masked = self._masked | hidden
        return copy

    def as_masked(self, hidden: frozenset[str]) -> Self:
        """This entity, marked as read with ``hidden`` withheld (they are empty already)."""
        self._masked = self._masked | hidden
        return self

    @classmethod
    def create(cls, **data: Any) -> Self:
        """Validate input into an entity; bad input raises ValidationError naming the field."""
        return checked(cls, data)

    def changed(self, **data: Any) -> Self:
        """A copy with ``data`` applied and validated (the version is kept for the update).

        A masked entity cannot change: its withheld fields would be written empty.
        """
        if self._masked:
            raise MaskedWrite(type(self).__name__)
        return checked(type(self), {**self.model_dump(), **data})

    def fields(self) -> dict[str, Any]:
        """The stored form of every field but id, version and deletion (JSON types only)."""
        return self.model_dump(mode="json", exclude=set(self.STORED_APART))


BASE_FIELDS = frozenset(
    {"id", "version", "created_at", "updated_at", "created_by", "updated_by", "deleted_at"}
)
"""Fields every entity has; never masked (they tell nothing about the patient)."""


class MaskedWrite(RuntimeError):
    """A program error: an entity read masked was about to be written."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind}: read masked, so it cannot be written; read it for change")


E = TypeVar("E", bound=BaseModel)


_WORDS = frozenset({"a", "an", "the", "must", "is", "value", "input", "only"})


def kind_of(cls: type) -> str:
    """An entity class's name as fields are prefixed with: ``ClinicalNote`` -> clinical_note."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def checked(cls: type[E], data: dict[str, Any], *, stored: bool = False) -> E:
    """``cls`` validated from ``data``; pydantic's errors become one ValidationError.

    The field is the error's location; a rule checked across fields (``end must be after
    start``) names its field first, and that name completes the location.
    """
    try:
        return cls.model_validate(data, context={"stored": True} if stored else None)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = [str(p) for p in first["loc"]]
        rule = str(first["msg"]).removeprefix("Value error, ")
        head, _, rest = rule.partition(" ")
        named = re.fullmatch(r"[a-z_.]+", head) is not None and head not in _WORDS
        if first["type"] == "value_error" and named:
            where.append(head)
            rule = rest
        raise ValidationError(".".join([kind_of(cls), *where]), rule) from None
