"""The audit appender: a process of its own that commits read events for a store.

A read of PHI returns only once its event is durable. Appended in the reading process,
the append competes for the interpreter lock with every request thread: under 32 reader
threads on two cores an append of 15 events took ~6 ms against ~1 ms alone, and every
reader of the batch waited on it. The appender commits with an interpreter of its own,
group-committing whatever arrived while its last commit ran. A reading thread hands its
events over through shared memory and rings a semaphore (neither gives up the
interpreter lock), decrypts what it read meanwhile, then waits on its slot.

The appender is *spawned* (a fresh interpreter, fork + exec at once), never forked from
this process: a fork of a process with threads copies locks held by threads that do not
exist in the child (SQLite's, the allocator's, logging's), and the child can hang on them
for ever. A spawned child inherits no descriptor but its own pipes, so it never holds a
server's listening socket. It dies with its parent: a parent-death signal (set for the
thread that starts appenders, which lives as long as the process) and a watchdog thread
on the parent's pipe. Until it reports ready, and whenever it is found dead or frozen,
reads group-commit in this process instead; a reader never waits past its deadline
(``carevault.waits.audit_deadline``).

Shared memory (named, ``HEADER`` bytes then ``SLOTS`` slots of ``SLOT_BYTES``): the
header holds the appender's heartbeat (monotonic seconds, a double), then the stop flag.
A slot holds its state at byte 0, bytes 4..8 the length of what follows, then JSON
(``{tenant, key, events}`` going in, an error text coming back). Events carry ids and
enums only, never PHI; ``key`` is the tenant's current signing key the first time the
appender needs it (the memory is shared with the appender alone, mode 0600).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import struct
import threading
import time
import weakref
from collections.abc import Sequence
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import orjson

from carevault.audit.signing import HeldKey, Signer
from carevault.audit.trail import AuditTrail
from carevault.errors import StoreUnavailable
from carevault.parent import die_with
from carevault.store import Store, open_store

SLOTS = 128
SLOT_BYTES = 64 * 1024
HEADER = 64
FREE, READY, DONE, FAILED = 0, 1, 2, 3
_BEAT = struct.Struct("<d")  # header bytes 0..8: the appender's last heartbeat
_STOP = 8  # header byte: set when the appender should end
_LENGTH = struct.Struct(">I")
_CONTEXT = multiprocessing.get_context("spawn")
MODE_VAR = "CAREVAULT_AUDIT_APPENDER"  # "process" (default) or "thread"
BEAT_EVERY = 0.2  # the appender's loop beats at least this often
STALE_AFTER = 2.0  # no heartbeat for this long: the appender is frozen or dead


class Receipt:
    """Events handed to the appender; ``wait`` returns once they are durable."""

    __slots__ = ("appender", "slot")

    def __init__(self, appender: Appender, slot: int) -> None:
        self.appender, self.slot = appender, slot

    def wait(self, timeout: float) -> None:
        self.appender.wait(self.slot, timeout)


class Appender:
    """This process's side of one store's appender process."""

    def __init__(self, url: str) -> None:
        self._memory = SharedMemory(create=True, size=HEADER + SLOTS * SLOT_BYTES)
        os.fchmod(self._memory._fd, 0o600)  # type: ignore[attr-defined]
        self._shared = _buffer(self._memory)
        self._bells = [_CONTEXT.Semaphore(0) for _ in range(SLOTS)]
        self._doorbell = _CONTEXT.Semaphore(0)
        self._free = list(range(SLOTS))
        self._lock = threading.Lock()
        self._keys: dict[str, int] = {}  # tenant -> the key version the appender holds
        self.broken = False  # found dead or frozen: the next read starts another
        self._process = _CONTEXT.Process(
            target=_serve,
            args=(url, self._memory.name, self._bells, self._doorbell, os.getpid()),
            name="carevault-audit-appender",
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def ready(self) -> bool:
        """Beating: it has opened the store and serves its slots."""
        return not self.broken and self.beat_age() < STALE_AFTER

    def beat_age(self) -> float:
        """Seconds since the appender's last heartbeat (infinite before its first)."""
        (beat,) = _BEAT.unpack_from(self._shared, 0)
        return time.monotonic() - beat if beat else float("inf")

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def submit(
        self, tenant: str, signer: Signer, events: Sequence[dict[str, Any]]
    ) -> Receipt | None:
        """Hand ``events`` over; None if not ready, they do not fit or no slot is free."""
        if not self.ready:
            return None
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
        at = HEADER + slot * SLOT_BYTES
        _LENGTH.pack_into(self._shared, at + 4, len(body))
        self._shared[at + 8 : at + 8 + len(body)] = body
        self._shared[at] = READY
        self._doorbell.release()
        return Receipt(self, slot)

    def wait(self, slot: int, timeout: float) -> None:
        """Block until ``slot`` is committed; StoreUnavailable if it failed or timed out."""
        at = HEADER + slot * SLOT_BYTES
        give_up = time.monotonic() + timeout
        try:
            while not self._bells[slot].acquire(timeout=0.25):
                if self.broken:
                    raise StoreUnavailable("audit: the appender stopped; the read was not returned")
                if self.beat_age() > STALE_AFTER or time.monotonic() > give_up:
                    self.abandon()
                    raise StoreUnavailable(
                        "audit: the read's event was not recorded in time; the read was not "
                        "returned"
                    )
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

    def abandon(self) -> None:
        """Give up on a frozen or dead appender: kill it; the next read starts another."""
        self.broken = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._process.kill()

    def close(self) -> None:
        """Let the appender finish what it holds and end; remove its shared memory's name."""
        if self._process.pid is not None and self._process.is_alive():
            self._shared[_STOP] = 1
            self._doorbell.release()
            if self.beat_age() == float("inf"):  # still starting: it holds no events yet
                self._process.kill()
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=5)
        self.broken = True
        with contextlib.suppress(FileNotFoundError):  # the mapping goes with this object
            self._memory.unlink()


def _buffer(memory: SharedMemory) -> memoryview:
    found = memory.buf
    if found is None:
        raise StoreUnavailable("audit: the appender's shared memory is closed")
    return found


def _serve(url: str, name: str, bells: list[Any], doorbell: Any, parent: int) -> None:
    """The appender process: commit ready slots, a batch per tenant, until told to stop."""
    die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when it ends
    memory = SharedMemory(name=name)
    shared = _buffer(memory)
    store = open_store(url)
    keys: dict[str, HeldKey] = {}
    try:
        while not shared[_STOP]:
            _BEAT.pack_into(shared, 0, time.monotonic())
            if not doorbell.acquire(timeout=BEAT_EVERY):
                continue
            while doorbell.acquire(False):  # one pass serves every ring so far
                pass
            by_tenant: dict[str, list[tuple[int, list[dict[str, Any]]]]] = {}
            for slot in range(SLOTS):
                at = HEADER + slot * SLOT_BYTES
                if shared[at] != READY:
                    continue
                (length,) = _LENGTH.unpack_from(shared, at + 4)
                message = orjson.loads(bytes(shared[at + 8 : at + 8 + length]))
                if message["key"] is not None:
                    version, seed = message["key"]
                    keys[message["tenant"]] = HeldKey(int(version), bytes.fromhex(seed))
                by_tenant.setdefault(message["tenant"], []).append((slot, message["events"]))
            for tenant, entries in by_tenant.items():
                _commit(store, keys, tenant, entries, shared, bells)
    finally:
        store.close()
        del shared
        memory.close()


def _commit(
    store: Store,
    keys: dict[str, HeldKey],
    tenant: str,
    entries: list[tuple[int, list[dict[str, Any]]]],
    shared: memoryview,
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
        at = HEADER + slot * SLOT_BYTES
        _LENGTH.pack_into(shared, at + 4, len(text))
        shared[at + 8 : at + 8 + len(text)] = text
        shared[at] = state
        bells[slot].release()


class _Starter:
    """One long-lived thread starts every appender of this process.

    A parent-death signal fires when the *thread* that started the child ends; request
    threads come and go, this one lasts as long as the process.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Appender] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, appender: Appender) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="carevault-appender-starter", daemon=True
                )
                self._thread.start()
        self._queue.put(appender)

    def _run(self) -> None:
        while True:
            try:
                appender = self._queue.get(timeout=60)  # idle: nothing to start
            except queue.Empty:
                continue
            if appender.broken:  # closed before it started
                continue
            try:
                appender.start()
            except Exception:  # reads keep committing in process; the next one tries again
                appender.broken = True


_STARTER = _Starter()
_APPENDERS: dict[int, Appender] = {}
_APPENDERS_LOCK = threading.Lock()


def appender_for(store: Store) -> Appender | None:
    """The appender of ``store`` (started on first use); None to append in this process.

    None when the store was not opened from a URL, or ``CAREVAULT_AUDIT_APPENDER=thread``.
    The appender may still be starting: its ``submit`` then returns None.
    """
    if store.url is None or os.environ.get(MODE_VAR, "process") == "thread":
        return None
    with _APPENDERS_LOCK:
        found = _APPENDERS.get(id(store))
        if found is not None and found.broken:
            _retire(found)
            found = None
        if found is None:
            found = _APPENDERS[id(store)] = Appender(store.url)
            _STARTER.start(found)
            if not hasattr(store, "_appender_hooked"):
                stop = functools.partial(_stop, id(store))
                weakref.finalize(store, stop)
                store.on_close(stop)
                store.__dict__["_appender_hooked"] = True
        return found


def _retire(appender: Appender) -> None:
    """Close a broken appender off the caller's path (it may take a moment)."""
    threading.Thread(target=appender.close, name="appender-retire", daemon=True).start()


def stop_appender(store: Store) -> None:
    """Stop ``store``'s appender now (reads go on in process until the next one starts)."""
    _stop(id(store))


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
