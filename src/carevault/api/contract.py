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
from typing import Annotated, Any, TypeVar, get_args, get_origin

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


@cache
def inbound(model: type[BaseModel]) -> type[BaseModel]:
    """A nested model as a request holds it (``NewLineItem``): its amounts are decimal
    strings and its booleans strict; a model with neither is taken as it is."""
    own = model.model_fields.values()
    if not any(
        _is_cents(i) or Cents in get_args(i.annotation) or i.annotation is bool for i in own
    ):
        return model
    fields: dict[str, Any] = {
        name: (_annotation(info, inbound=True), _field(info))
        for name, info in model.model_fields.items()
    }
    made: type[BaseModel] = create_model(
        f"New{model.__name__}",
        __config__=ConfigDict(**model.model_config),
        __doc__=model.__doc__ or model.__name__,
        **fields,
    )
    return made


def _annotation(info: FieldInfo, inbound: bool) -> Any:
    """A field's type with its constraints, as a request (``inbound``) or response has it."""
    nested = _nested(info.annotation) if inbound else None
    if nested is not None:
        return Annotated[(nested, *info.metadata)] if info.metadata else nested
    if inbound and _is_cents(info):
        return Money
    if inbound and Cents in get_args(info.annotation):  # an optional amount
        return Money | None
    if inbound and info.annotation is bool:
        return StrictBool  # "yes" or 1 is not true
    if not info.metadata:
        return info.annotation
    return Annotated[(info.annotation, *info.metadata)]


def _nested(annotation: Any) -> Any:
    """The request form of a nested model, or of a list of them (None: not one)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return None if issubclass(annotation, Entity) else inbound(annotation)
    args = get_args(annotation)
    if get_origin(annotation) is list and len(args) == 1:
        item = _nested(args[0])
        return None if item is None else list[item]  # type: ignore[valid-type]
    return None


def _is_cents(info: FieldInfo) -> bool:
    own = Cents.__metadata__  # type: ignore[attr-defined]
    return info.annotation is int and any(m in own for m in info.metadata)


def _field(info: FieldInfo, optional: bool = False) -> Any:
    """A field's requiredness, default and description, as a request model declares it."""
    if optional or not info.is_required():
        default = None if optional else _default(info)
        return Field(default=default, description=info.description)
    return Field(description=info.description)


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
        fields[field] = (
            kind | None if field in optional else kind,
            _field(info, field in optional),
        )
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


__all__ = ["Money", "changes", "inbound", "money_text", "new", "page_of", "shown"]
