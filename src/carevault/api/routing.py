"""The route class every router uses: JSON bodies parsed strictly, by orjson; reads of the
embedded engine served on the event loop.

orjson refuses what Python's ``json`` lets through (a lone surrogate such as ``"\\ud800"``,
which no UTF-8 text can hold), so such a body is a 422 naming the body before any service
sees a string it could not encode.

A GET of a plain (``def``) handler runs on the event loop when the request's store reads
are local-file lookups (``LOCAL_READS``, set by the caller dependencies on SQLite): its
reads are held (``carevault.repo.release``) and their audit events awaited in a worker
thread before the response is sent. It saves the hop of the whole handler to a worker
thread and the interpreter-lock hand-overs between request threads that come with it,
which cost more than the handler's own work under load. Every other handler, and every
request on a networked engine, runs in a worker thread as FastAPI runs it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from carevault.repo.release import Waiting, holding, settle_all

LOCAL_READS: ContextVar[bool] = ContextVar("carevault_local_reads", default=False)
"""Set for a request whose store is embedded: its reads may run on the event loop."""


class StrictJsonRequest(Request):
    """A request whose ``json()`` is orjson's (its decode error is a ``JSONDecodeError``)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


def on_loop(endpoint: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``endpoint`` (a plain function) run on the loop where reads are local, else in a
    worker thread; its reads' events are durable before its result is returned."""

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        if not LOCAL_READS.get():
            return await run_in_threadpool(endpoint, *args, **kwargs)
        held: list[Waiting] = []
        try:
            with holding(held):
                return endpoint(*args, **kwargs)
        finally:
            if held:  # success or not, every held read is waited for (it frees its slot)
                await run_in_threadpool(settle_all, held)

    return run


class Route(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        plain = inspect.isfunction(endpoint) and not inspect.iscoroutinefunction(endpoint)
        if plain and methods and methods <= {"GET", "HEAD"}:
            endpoint = on_loop(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
