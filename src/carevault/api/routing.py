"""The route class every router uses: JSON bodies parsed strictly, by orjson; handlers of
the embedded engine scheduled for its single writer.

orjson refuses what Python's ``json`` lets through (a lone surrogate such as ``"\\ud800"``,
which no UTF-8 text can hold), so such a body is a 422 naming the body before any service
sees a string it could not encode.

When a request's store is embedded (``LOCAL_STORE``, set by the caller dependencies on
SQLite), a plain (``def``) handler is scheduled so that request threads do not compete for
the interpreter lock, which under load costs more than the handlers' own work:

- a GET (or a POST marked ``@reads_only``, a search that keeps its terms out of the URL)
  runs on the event loop: its store reads are local-file lookups of microseconds;
  its reads are held (``carevault.repo.release``) and their audit events awaited in a
  worker thread before the response is sent, the loop serving others meanwhile;
- any other method runs in a worker thread, one at a time per worker process (SQLite
  takes one writer at a time anyway); the others wait on the loop, at most
  ``WRITE_QUEUE_SECONDS``, then answer 503 busy.

Every other handler, and every request on a networked engine, runs in a worker thread as
FastAPI runs it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any, TypeVar

import orjson
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from carevault.errors import Throttled
from carevault.repo.release import Waiting, holding, settle_all

LOCAL_STORE: ContextVar[bool] = ContextVar("carevault_local_store", default=False)
"""Set for a request whose store is embedded (its reads are local-file lookups)."""

WRITE_QUEUE_SECONDS = 30.0
"""How long a change waits for its worker's writer (SQLite's own busy timeout)."""

_WRITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


class StrictJsonRequest(Request):
    """A request whose ``json()`` is orjson's (its decode error is a ``JSONDecodeError``)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


F = TypeVar("F", bound=Callable[..., Any])


def reads_only(endpoint: F) -> F:
    """Mark a handler of another method than GET that only reads (scheduled as a GET)."""
    endpoint.__dict__["carevault_reads_only"] = True
    return endpoint


def reading(endpoint: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """A GET handler, on the loop where the store is local; its reads' events are durable
    before its result is returned."""

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        if not LOCAL_STORE.get():
            return await run_in_threadpool(endpoint, *args, **kwargs)
        held: list[Waiting] = []
        try:
            with holding(held):
                return endpoint(*args, **kwargs)
        finally:
            if held:  # success or not, every held read is waited for (it frees its slot)
                await run_in_threadpool(settle_all, held)

    return run


def writing(endpoint: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """A handler that may change the store: one at a time per worker where it is local."""

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        if not LOCAL_STORE.get():
            return await run_in_threadpool(endpoint, *args, **kwargs)
        writer = _writer()
        try:
            await asyncio.wait_for(writer.acquire(), WRITE_QUEUE_SECONDS)
        except TimeoutError:
            raise Throttled("the store is busy with other changes; retry shortly") from None
        try:
            return await run_in_threadpool(endpoint, *args, **kwargs)
        finally:
            writer.release()

    return run


def _writer() -> asyncio.Semaphore:
    """This event loop's writer (a semaphore belongs to the loop it is used on)."""
    loop = asyncio.get_running_loop()
    found = _WRITERS.get(loop)
    if found is None:
        found = _WRITERS[loop] = asyncio.Semaphore(1)
    return found


class Route(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if inspect.isfunction(endpoint) and not inspect.iscoroutinefunction(endpoint):
            methods = {m.upper() for m in kwargs.get("methods") or ()}
            reads = methods <= {"GET", "HEAD"} or endpoint.__dict__.get("carevault_reads_only")
            endpoint = reading(endpoint) if reads else writing(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
