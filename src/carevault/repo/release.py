"""When the events of a read must be durable: before the read returns, or, while a caller
holds its reads, before that caller lets the data go.

An API request served on the event loop holds its reads: each read notes its events on
their way to the trail and returns at once, and the route waits for all of them (in a
worker thread, so the loop serves other requests meanwhile) before its response is sent.
The rule is the same either way: no data read leaves the process before the event
recording its read is durable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from carevault.waits import audit_deadline


class Waiting(Protocol):
    """Read events on their way to the audit trail."""

    def wait(self, timeout: float) -> None:
        """Return once they are durable; StoreUnavailable after ``timeout`` seconds."""
        ...


_HELD: ContextVar[list[Waiting] | None] = ContextVar("carevault_held_reads", default=None)


def settle(waiting: Waiting) -> None:
    """Wait until the events are durable, or note them if this context holds its reads."""
    held = _HELD.get()
    if held is None:
        waiting.wait(audit_deadline())
    else:
        held.append(waiting)


@contextmanager
def holding(held: list[Waiting]) -> Iterator[None]:
    """Within it, reads note their events in ``held``; ``settle_all(held)`` must follow."""
    token = _HELD.set(held)
    try:
        yield
    finally:
        _HELD.reset(token)


def settle_all(held: Sequence[Waiting]) -> None:
    """Wait for every held read within one deadline; each is waited for (and so frees what
    it holds) even after one failed, and the first failure is raised after all."""
    ends = time.monotonic() + audit_deadline()
    failure: Exception | None = None
    for waiting in held:
        try:
            waiting.wait(max(ends - time.monotonic(), 0.05))
        except Exception as exc:  # raised below, once every wait is done
            failure = failure or exc
    if failure is not None:
        raise failure
