"""How entities go out as JSON and what a client may send in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from carevault.access.caller import Caller
from carevault.api.protocol import etag
from carevault.domain.base import SELF, Entity


def public(entity: Entity) -> dict[str, Any]:
    """An entity as the JSON the API returns, masked for the caller.

    A withheld field is absent and named under ``masked``; ``null`` keeps meaning "not on
    file", so a reader can tell the two apart.
    """
    hidden = entity.masked
    if not hidden:
        return entity.model_dump(mode="json")
    return {**entity.model_dump(mode="json", exclude=set(hidden)), "masked": sorted(hidden)}


def public_json(entity: Entity) -> bytes:
    """``public(entity)`` as JSON bytes, serialized once by pydantic's own encoder."""
    hidden = entity.masked
    if not hidden:
        return entity.__pydantic_serializer__.to_json(entity)
    shown = entity.__pydantic_serializer__.to_json(entity, exclude=set(hidden))
    return shown[:-1] + b',"masked":' + orjson.dumps(sorted(hidden)) + b"}"


class Json(Response):
    """A JSON response of bytes already encoded (no second pass over the body)."""

    media_type = "application/json"


def reply(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Json:
    """A JSON response of ``content`` (an entity is masked for the caller)."""
    if isinstance(content, Entity):
        data = public_json(content)
    else:
        data = orjson.dumps(content, default=_encode)
    return Json(data, status_code=status, headers=headers)


def _encode(value: Any) -> Any:
    if isinstance(value, Entity):
        return orjson.Fragment(public_json(value))  # pydantic's encoder, not a dict first
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(type(value).__name__)


def new_fields(caller: Caller, body: BaseModel, entity: type[Entity]) -> dict[str, Any]:
    """The fields of a new entity from a validated request body, once the caller is known
    to be allowed to write one for the patient it names (403 otherwise)."""
    fields = body.model_dump(exclude_unset=True)
    named = fields.get(entity.PATIENT) if isinstance(entity.PATIENT, str) else None
    patient = named if isinstance(named, str) and entity.PATIENT != SELF else None
    caller.practice.uow.may_create(entity, patient)
    return fields


def sent(body: BaseModel | None) -> dict[str, Any]:
    """The fields a client sent in a validated body (none without a body)."""
    return {} if body is None else body.model_dump(exclude_unset=True)


def with_etag(entity: Entity, status: int = 200, location: str | None = None) -> Json:
    """An entity's JSON with its ``ETag`` (and ``Location``, for one just made)."""
    headers = {"ETag": etag(entity.version)}
    if location is not None:
        headers["Location"] = location
    return reply(entity, status, headers)


def created(request: Request, made: Entity) -> Json:
    """A 201 with ``Location`` (the new resource under the request's path) and ETag."""
    return with_etag(made, 201, f"{request.url.path}/{made.id}")


def page(items: list[Any], cursor: str | None) -> Json:
    """A page of a listing: its items and the cursor of the next page (null at the end)."""
    parts = [public_json(x) if isinstance(x, Entity) else orjson.dumps(x) for x in items]
    return Json(b'{"items":[' + b",".join(parts) + b'],"next":' + orjson.dumps(cursor) + b"}")


PathId = Annotated[str, Path(min_length=1, max_length=64, description="The resource's id")]
PageSize = Annotated[int, Field(ge=1, le=200, description="Items on a page (1-200)")]
Cursor = Annotated[
    str | None, Field(default=None, max_length=64, description="The `next` of the page before")
]


def paged_list(
    found: Sequence[Entity], limit: int, cursor: str | None
) -> tuple[list[Entity], str | None]:
    """A page of matches held in memory (a search's), by id: ``cursor`` is the last id sent."""
    ordered = sorted(found, key=lambda e: e.id)
    if cursor is not None:
        ordered = [e for e in ordered if e.id > cursor]
    items = ordered[:limit]
    more = len(ordered) > limit
    return items, items[-1].id if more else None


@dataclass(frozen=True)
class Paging:
    """The page a listing asks for: its size and where the previous page stopped."""

    limit: int
    cursor: str | None


async def paging(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Paging:
    return Paging(limit, cursor)


PagingDep = Annotated[Paging, Depends(paging)]
