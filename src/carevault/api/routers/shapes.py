"""How entities go out as JSON and what a client may send in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from carevault.access.caller import Caller
from carevault.api.protocol import etag
from carevault.domain.base import BASE_FIELDS, SELF, Entity, kind_of
from carevault.errors import ValidationError


def public(entity: Entity) -> dict[str, Any]:
    """An entity as the JSON the API returns, masked for the caller.

    A withheld field is absent and named under ``masked``; ``null`` keeps meaning "not on
    file", so a reader can tell the two apart.
    """
    hidden = entity.masked
    if not hidden:
        return entity.model_dump(mode="json")
    return {**entity.model_dump(mode="json", exclude=set(hidden)), "masked": sorted(hidden)}


def client_fields(
    body: dict[str, Any],
    entity: type[Entity],
    also: frozenset[str] = frozenset(),
    what: str | None = None,
) -> dict[str, Any]:
    """A request body's fields, refusing those only the server sets (every entity's own,
    the entity's ``SERVER_OWNED`` and ``also``, what this one route sets) and those the
    entity does not have."""
    owned = BASE_FIELDS | entity.SERVER_OWNED | also
    for name in body:
        if name in owned:
            raise ValidationError(f"{what or kind_of(entity)}.{name}", "is set by the server")
        if name not in entity.model_fields:
            raise ValidationError(f"{what or kind_of(entity)}.{name}", "is not a field of it")
    return body


def new_fields(
    caller: Caller, body: dict[str, Any], entity: type[Entity], what: str | None = None
) -> dict[str, Any]:
    """The fields of a new entity from a request body: fields only the server sets are
    refused, then whether the caller may write one (for the patient the body names) is
    asked, so a refusal is a 403 before the body's values are judged."""
    fields = client_fields(body, entity, what=what)
    named = body.get(entity.PATIENT) if isinstance(entity.PATIENT, str) else None
    patient = named if isinstance(named, str) and entity.PATIENT != SELF else None
    caller.practice.uow.may_create(entity, patient)
    return fields


def with_etag(response: Response, entity: Entity) -> dict[str, Any]:
    response.headers["ETag"] = etag(entity.version)
    return public(entity)


def created(request: Request, response: Response, made: Entity) -> dict[str, Any]:
    """A 201's body, with ``Location`` (the new resource under the request's path) and ETag."""
    response.headers["Location"] = f"{request.url.path}/{made.id}"
    return with_etag(response, made)


def page(items: list[Any], cursor: str | None) -> dict[str, Any]:
    """A page of a listing: its items and the cursor of the next page (null at the end)."""
    return {"items": [public(x) if isinstance(x, Entity) else x for x in items], "next": cursor}


@dataclass(frozen=True)
class Paging:
    """The page a listing asks for: its size and where the previous page stopped."""

    limit: int
    cursor: str | None


def paging(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Paging:
    return Paging(limit, cursor)


PagingDep = Annotated[Paging, Depends(paging)]


def search_terms(body: dict[str, Any]) -> tuple[str, str]:
    """The ``by`` and ``value`` of a search body (searches are POSTs: no PHI in URLs)."""
    by, value = body.get("by"), body.get("value")
    if not isinstance(by, str):
        raise ValidationError("search.by", "is required")
    if not isinstance(value, str):
        raise ValidationError("search.value", "is required")
    return by, value


def step_fields(
    body: dict[str, Any], what: str, allowed: frozenset[str], required: frozenset[str]
) -> dict[str, Any]:
    """The fields of a state change (cancel, pay, …): only ``allowed``, all of ``required``."""
    for name in body:
        if name not in allowed:
            raise ValidationError(f"{what}.{name}", "is not a field of this step")
    for name in sorted(required - body.keys()):
        raise ValidationError(f"{what}.{name}", "is required")
    return body
