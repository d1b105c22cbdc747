"""The typed contract: request and response models, derived from the entities they carry.

An entity declares its fields once; the API's models are read off it, so the OpenAPI
document, the validation of a request and the JSON a response holds cannot drift apart:

- ``shown(Patient)``: a patient as the API returns it. Only the fields every entity has are
  always present; a field withheld from the caller is absent and named under ``masked``.
- ``new(Patient)``: the body that creates one (the fields only the server sets left out).
- ``changes(Patient)``: the body of a PATCH (every field optional).
- ``page_of(shown(Patient))``: a page of a listing, ``items`` and the ``next`` cursor.

Money is a decimal string in requests (``"150.00"``): a JSON number is refused, since it
cannot say whether it counts cents or units.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    create_model,
)
from pydantic.fields import FieldInfo

from carevault.domain.base import (
    BASE_FIELDS,
    MONEY_SCHEMA,
    Cents,
    Entity,
    cents_of,
    kind_of,
    money_text,
)
from carevault.domain.billing import LineItem

Money = Annotated[
    int,
    BeforeValidator(cents_of),
    Field(ge=0, le=10**12),
    WithJsonSchema(MONEY_SCHEMA, mode="validation"),
]
"""An amount of money a client sends: a decimal string, read into cents."""

ALWAYS = ("id", "version", "created_at", "updated_at")
"""The fields every returned entity has, whatever the caller may see."""

FORBID = ConfigDict(extra="forbid")

NAMED: dict[type, tuple[str, frozenset[str]]] = {}
"""Each request model's field prefix in errors (``patient`` in ``patient.phone``), and the
fields of its entity only the server sets (refused as such, not as unknown)."""

M = TypeVar("M", bound=type[BaseModel])


def named(prefix: str, owned: frozenset[str] = frozenset()) -> Callable[[M], M]:
    """Register a request model's error prefix (a class decorator)."""

    def register(model: M) -> M:
        NAMED[model] = (prefix, owned)
        return model

    return register


def error_field(model: Any, loc: list[str], kind: str) -> tuple[str, str | None]:
    """A body error's field as the API names it, and the rule of a field sent that the
    model does not take (``None``: keep the validator's own)."""
    model = _model_of(model)
    bases = model.__mro__ if isinstance(model, type) else ()
    found = next((NAMED[base] for base in bases if base in NAMED), None)
    prefix, owned = found if found is not None else ("", frozenset[str]())
    field = ".".join([prefix, *loc] if prefix else loc)
    if kind != "extra_forbidden":
        return field, None
    return field, "is set by the server" if loc and loc[-1] in owned else "is not a field of it"


def _model_of(annotation: Any) -> Any:
    """The model of a body's annotation (``Issue | None`` -> ``Issue``)."""
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


@named("invoice.line_items")
class NewLineItem(BaseModel):
    """A line of a new invoice: its amount is ``quantity`` times ``unit_price``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    description: str = Field(min_length=1, max_length=200, examples=["Consultation"])
    code: str | None = Field(default=None, max_length=20, description="CPT or HCPCS code")
    quantity: int = Field(default=1, ge=1, le=1000)
    unit_price: Money


INBOUND: dict[Any, Any] = {LineItem: NewLineItem, list[LineItem]: list[NewLineItem]}
"""Nested models a request holds in another shape than a stored record."""


def _annotation(info: FieldInfo, inbound: bool) -> Any:
    """A field's type with its constraints, as a request (``inbound``) or response has it."""
    if inbound and info.annotation in INBOUND:
        kind = INBOUND[info.annotation]
        return Annotated[(kind, *info.metadata)] if info.metadata else kind
    if inbound and _is_cents(info):
        return Money
    if inbound and info.annotation is bool:
        return StrictBool  # "yes" or 1 is not true
    if not info.metadata:
        return info.annotation
    return Annotated[(info.annotation, *info.metadata)]


def _is_cents(info: FieldInfo) -> bool:
    own = Cents.__metadata__  # type: ignore[attr-defined]
    return info.annotation is int and any(m in own for m in info.metadata)


def _default(info: FieldInfo) -> Any:
    """A field's default as a client would send it (an amount as its decimal string)."""
    value = info.get_default(call_default_factory=True)
    return money_text(value) if _is_cents(info) and isinstance(value, int) else value


@cache
def shown(entity: type[Entity], drop: frozenset[str] = frozenset()) -> type[BaseModel]:
    """An entity as the API returns it, named as the entity is."""
    fields: dict[str, Any] = {}
    for name, info in entity.model_fields.items():
        if name in drop:
            continue
        kind = _annotation(info, inbound=False)
        required = name in ALWAYS
        fields[name] = (kind, Field(description=info.description) if required else None)
    fields["masked"] = (
        list[str] | None,
        Field(default=None, description="Fields withheld from the caller (absent above)"),
    )
    return create_model(entity.__name__, __doc__=_doc(entity), **fields)


@cache
def new(
    entity: type[Entity],
    drop: frozenset[str] = frozenset(),
    name: str | None = None,
    optional: frozenset[str] = frozenset(),
) -> type[BaseModel]:
    """The body that creates an entity: every field a client may set, required as stored
    (but those ``optional`` names, which the server fills in when they are not sent)."""
    fields: dict[str, Any] = {}
    for field, info in _writable(entity, drop):
        kind = _annotation(info, inbound=True)
        if field in optional:
            fields[field] = (kind | None, Field(default=None, description=info.description))
        elif info.is_required():
            fields[field] = (kind, Field(description=info.description))
        else:
            fields[field] = (kind, Field(default=_default(info), description=info.description))
    made: type[BaseModel] = create_model(
        name or f"New{entity.__name__}", __config__=FORBID, __doc__=_doc(entity), **fields
    )
    return named(kind_of(entity), BASE_FIELDS | entity.SERVER_OWNED | drop)(made)


@cache
def changes(
    entity: type[Entity], drop: frozenset[str] = frozenset(), name: str | None = None
) -> type[BaseModel]:
    """The body of a PATCH: any of the fields a client may set, each optional."""
    fields: dict[str, Any] = {
        field: (_annotation(info, inbound=True), Field(default=None, description=info.description))
        for field, info in _writable(entity, drop)
    }
    made: type[BaseModel] = create_model(
        name or f"{entity.__name__}Changes", __config__=FORBID, __doc__=_doc(entity), **fields
    )
    return named(kind_of(entity), BASE_FIELDS | entity.SERVER_OWNED | drop)(made)


def _writable(entity: type[Entity], drop: frozenset[str]) -> list[tuple[str, FieldInfo]]:
    owned = BASE_FIELDS | entity.SERVER_OWNED | drop
    return [(name, info) for name, info in entity.model_fields.items() if name not in owned]


def _doc(entity: type[Entity]) -> str:
    return (entity.__doc__ or entity.__name__).strip().splitlines()[0]


@cache
def page_of(item: type[BaseModel], name: str | None = None) -> type[BaseModel]:
    """A page of a listing: its items and the cursor of the next page (null at the end)."""
    title = name or f"{item.__name__}Page"
    return create_model(
        title,
        __doc__=f"A page of a listing ({title}); pass `next` as `cursor` for the next page",
        items=(list[item], ...),  # type: ignore[valid-type]
        next=(str | None, Field(description="The next page's cursor; null on the last page")),
    )


def body(model: type[BaseModel], value: BaseModel) -> dict[str, Any]:
    """A validated request body as service keywords: only the fields the client sent."""
    assert isinstance(value, model)
    return value.model_dump(exclude_unset=True)


__all__ = ["Money", "body", "changes", "money_text", "new", "page_of", "shown"]
