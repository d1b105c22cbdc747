"""The route class every router uses: JSON bodies parsed strictly, by orjson.

orjson refuses what Python's ``json`` lets through (a lone surrogate such as ``"\\ud800"``,
which no UTF-8 text can hold), so such a body is a 422 naming the body before any service
sees a string it could not encode.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class StrictJsonRequest(Request):
    """A request whose ``json()`` is orjson's (its decode error is a ``JSONDecodeError``)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class Route(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
