"""The audit appender: a process of its own that commits read events for a store.

A read of PHI returns only once its event is durable. Appended in the reading process,
the append competes for the interpreter lock with every request thread: under 32 reader
threads on two cores an append of 15 events took ~6 ms against ~1 ms alone, and every
reader of the batch waited on it. The appender commits with an interpreter of its own,
group-committing whatever arrived while its last commit ran. A reading thread hands its
events over through shared memory and rings a semaphore (neither gives up the
interpreter lock), decrypts what it read meanwhile, then waits on its slot.

Shared memory holds ``SLOTS`` slots of ``SLOT_BYTES``: byte 0 the slot's state, bytes
4..8 the length of what follows, then JSON (``{tenant, key, events}`` going in, an error
text coming back). Events carry ids and enums only, never PHI; ``key`` is the tenant's
current signing key the first time the appender needs it (the mapping is shared with
the appender alone). The appender is forked from the process that first needs it and
touches nothing it inherited but the shared memory and the semaphores: it opens the
store again from its URL.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import mmap
import multiprocessing
import os
import signal
import struct
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import orjson

from carevault.audit.signing import HeldKey, Signer
from carevault.audit.trail import AuditTrail
from carevault.errors import StoreUnavailable
from carevault.store import Store, open_store

SLOTS = 128
SLOT_BYTES = 64 * 1024
FREE, READY, DONE, FAILED = 0, 1, 2, 3
_STOP = SLOTS * SLOT_BYTES  # one byte after the slots: set when the appender should end
_LENGTH = struct.Struct(">I")
_CONTEXT = multiprocessing.get_context("fork")
MODE_VAR = "CAREVAULT_AUDIT_APPENDER"  # "process" (default) or "thread"


class Receipt:
    """Events handed to the appender; ``wait`` returns once they are durable."""

    __slots__ = ("appender", "slot")

    def __init__(self, appender: Appender, slot: int) -> None:
        self.appender, self.slot = appender, slot

    def wait(self) -> None:
        self.appender.wait(self.slot)


class Appender:
    """This process's side of one store's appender process."""

    def __init__(self, url: str) -> None:
        self._shared = mmap.mmap(-1, SLOTS * SLOT_BYTES + 1)
        self._bells = [_CONTEXT.Semaphore(0) for _ in range(SLOTS)]
        self._doorbell = _CONTEXT.Semaphore(0)
        self._free = list(range(SLOTS))
        self._lock = threading.Lock()
        self._keys: dict[str, int] = {}  # tenant -> the key version the appender holds
        self.broken = False  # found dead by a waiter: the next read starts another
        self._process = _CONTEXT.Process(
            target=_serve,
            args=(url, self._shared, self._bells, self._doorbell, os.getpid()),
            name="carevault-audit-appender",
            daemon=True,
        )
        self._process.start()

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def submit(
        self, tenant: str, signer: Signer, events: Sequence[dict[str, Any]]
    ) -> Receipt | None:
        """Hand ``events`` over; None if they do not fit or no slot is free (append here)."""
        version = signer.current()
        key = None
        if self._keys.get(tenant) != version:
            held, seed = signer.seed()
            key, version = [held, seed.hex()], held
        body = orjson.dumps({"tenant": tenant, "key": key, "events": events})
        if len(body) > SLOT_BYTES - 8:
            return None
        with self._lock:
            if not self._free:
                return None
            slot = self._free.pop()
            self._keys[tenant] = version
        at = slot * SLOT_BYTES
        _LENGTH.pack_into(self._shared, at + 4, len(body))
        self._shared[at + 8 : at + 8 + len(body)] = body
        self._shared[at] = READY
        self._doorbell.release()
        return Receipt(self, slot)

    def wait(self, slot: int) -> None:
        """Block until ``slot`` is committed; StoreUnavailable if it failed."""
        at = slot * SLOT_BYTES
        try:
            while not self._bells[slot].acquire(timeout=1.0):
                if not self.alive:
                    self.broken = True
                    raise StoreUnavailable("audit: the appender stopped; the read was not returned")
            state = self._shared[at]
            if state != DONE:
                (length,) = _LENGTH.unpack_from(self._shared, at + 4)
                text = bytes(self._shared[at + 8 : at + 8 + length]).decode()
                raise StoreUnavailable(f"audit: the read's event was not recorded ({text})")
        finally:
            if not self.broken:
                self._shared[at] = FREE
                with self._lock:
                    self._free.append(slot)

    def close(self) -> None:
        """Let the appender finish what it holds and end."""
        if self._process.is_alive():
            self._shared[_STOP] = 1
            self._doorbell.release()
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)


def _serve(
    url: str,
    shared: mmap.mmap,
    bells: list[Any],
    doorbell: Any,
    parent: int,
) -> None:
    """The appender process: commit ready slots, a batch per tenant, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when it ends
    store = open_store(url)
    keys: dict[str, HeldKey] = {}
    try:
        while not shared[_STOP]:
            if not doorbell.acquire(timeout=1.0):
                if os.getppid() != parent:
                    return
                continue
            while doorbell.acquire(False):  # one pass serves every ring so far
                pass
            ready = [s for s in range(SLOTS) if shared[s * SLOT_BYTES] == READY]
            by_tenant: dict[str, list[tuple[int, list[dict[str, Any]]]]] = {}
            for slot in ready:
                at = slot * SLOT_BYTES
                (length,) = _LENGTH.unpack_from(shared, at + 4)
                message = orjson.loads(shared[at + 8 : at + 8 + length])
                if message["key"] is not None:
                    version, seed = message["key"]
                    keys[message["tenant"]] = HeldKey(int(version), bytes.fromhex(seed))
                by_tenant.setdefault(message["tenant"], []).append((slot, message["events"]))
            for tenant, entries in by_tenant.items():
                _commit(store, keys, tenant, entries, shared, bells)
    finally:
        store.close()


def _commit(
    store: Store,
    keys: dict[str, HeldKey],
    tenant: str,
    entries: list[tuple[int, list[dict[str, Any]]]],
    shared: mmap.mmap,
    bells: list[Any],
) -> None:
    """Append one tenant's ready events together; tell every slot how it went."""
    state, text = DONE, b""
    try:
        key = keys.get(tenant)
        if key is None:
            raise StoreUnavailable("no signing key was handed over")
        AuditTrail(store, key, tenant).append([e for _, events in entries for e in events])
    except Exception as exc:  # every slot of the batch learns it failed, and why
        state, text = FAILED, f"{type(exc).__name__}: {exc}"[:500].encode()
    for slot, _ in entries:
        at = slot * SLOT_BYTES
        _LENGTH.pack_into(shared, at + 4, len(text))
        shared[at + 8 : at + 8 + len(text)] = text
        shared[at] = state
        bells[slot].release()


_APPENDERS: dict[int, Appender] = {}
_APPENDERS_LOCK = threading.Lock()


def appender_for(store: Store) -> Appender | None:
    """The appender of ``store`` (started on first use); None to append in this process.

    None when the store was not opened from a URL, or ``CAREVAULT_AUDIT_APPENDER=thread``.
    """
    if store.url is None or os.environ.get(MODE_VAR, "process") == "thread":
        return None
    with _APPENDERS_LOCK:
        found = _APPENDERS.get(id(store))
        if found is None or found.broken:
            found = _APPENDERS[id(store)] = Appender(store.url)
            stop = functools.partial(_stop, id(store))
            weakref.finalize(store, stop)
            store.on_close(stop)
        return found


def _stop(key: int) -> None:
    with _APPENDERS_LOCK:
        found = _APPENDERS.pop(key, None)
    if found is not None:
        found.close()


@atexit.register
def _stop_all() -> None:
    for key in list(_APPENDERS):
        with contextlib.suppress(Exception):
            _stop(key)
