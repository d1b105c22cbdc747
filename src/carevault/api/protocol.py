"""HTTP conventions kept in the store: ETags, idempotent creates, rate limits."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from carevault.access.policy import Principal
from carevault.api.problems import Problem
from carevault.domain.ids import new_id
from carevault.errors import CarevaultError, ConflictError, NotFound
from carevault.store import Attr, Store

IDEMPOTENCY_TTL = 24 * 3600
CLAIM_SECONDS = 60  # a claim older than this, with nothing committed, is a dead request's
ETAG = re.compile(r'(?:W/)?"?([0-9]{1,18})"?', re.ASCII)  # a version: ASCII digits, bounded
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def etag(version: int) -> str:
    return f'"{version}"'


async def expected_version(
    given: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The ETag of the version read, such as "3" (required)',
        ),
    ] = None,
) -> int:
    return version_in(given)


ExpectedVersion = Annotated[int, Depends(expected_version)]
"""The version an update expects, from ``If-Match`` (declared, so clients send it)."""


def version_in(given: str | None) -> int:
    """The version an update expects (``If-Match``): 428 if missing, 412 if malformed."""
    if given is None:
        raise Problem(
            428,
            "precondition-required",
            "Precondition required",
            "If-Match: send the ETag of the version you read",
        )
    found = ETAG.fullmatch(given.strip())
    if found is None:
        raise Problem(
            412,
            "precondition-failed",
            "Precondition failed",
            'If-Match: must be an ETag this API sent, such as "3"',
        )
    return int(found.group(1))


class Idempotency:
    """A creating POST under an ``Idempotency-Key`` happens once; replays get its result.

    The key item holds a digest of the request and the id the resource is created under
    (never the response body: it may hold PHI). A replay re-reads that resource through
    the same gated path; the same key with another body is a 422. A claim whose request
    died before committing is taken over after ``CLAIM_SECONDS``.
    """

    def __init__(self, store: Store, tenant: str, user: str, key: str | None) -> None:
        self.store, self.key = store, key
        self.pk, self.sk = f"T#{tenant}#IDEMPOTENCY#{user}", f"{key}"
        self._claim: dict[str, Any] | None = None  # the pending item this request put

    def begin(
        self, request: Request, body: dict[str, Any], reread: Callable[[str], Any]
    ) -> tuple[str, Any]:
        """``(id, None)``: the key is claimed, create the resource under ``id``; or
        ``(id, resource)``: the earlier request with this key made it, replay it."""
        made_id = new_id()
        if self.key is None:
            return made_id, None
        if not 1 <= len(self.key) <= 200 or not self.key.isascii() or not self.key.isprintable():
            raise Problem(
                422,
                "invalid-request",
                "Invalid request",
                "Idempotency-Key: must be 1-200 printable ASCII characters",
                field="Idempotency-Key",
                rule="must be 1-200 printable ASCII characters",
            )
        # ASCII escapes: any string JSON can carry digests the same
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=True).encode()
        digest = hashlib.sha256(request.method.encode() + request.url.path.encode() + canonical)
        now = int(time.time())
        item = {
            "pk": self.pk,
            "sk": self.sk,
            "digest": digest.digest(),
            "state": "pending",
            "resource_id": made_id,
            "claimed_at": now,
            "expires_at": now + IDEMPOTENCY_TTL,
        }
        for _ in range(3):
            try:
                self.store.put(item, condition=Attr("pk").not_exists())
                self._claim = item
                return made_id, None
            except ConflictError:
                found = self.store.get(self.pk, self.sk)
            if found is None:  # expired between the two calls: claim it again
                continue
            if bytes(found["digest"]) != item["digest"]:
                raise Problem(
                    422,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    "Idempotency-Key: was used for a different request",
                    field="Idempotency-Key",
                    rule="must not be reused for a different request",
                )
            earlier = self._made(found, reread)
            if earlier is not None:
                return str(found["resource_id"]), earlier
            claimed = found.get("claimed_at")
            if claimed is None or now - int(claimed) < CLAIM_SECONDS:
                raise Problem(
                    409,
                    "idempotency-in-progress",
                    "Request in progress",
                    "Idempotency-Key: the first request with this key is still running",
                    headers={"Retry-After": "1"},
                )
            # the first request died before it committed: take its claim over, once
            try:
                self.store.put(item, condition=Attr("claimed_at").eq(claimed))
                self._claim = item
                return made_id, None
            except ConflictError:
                continue
        raise Problem(
            409,
            "idempotency-in-progress",
            "Request in progress",
            "Idempotency-Key: another request with this key is running",
            headers={"Retry-After": "1"},
        )

    def _made(self, found: dict[str, Any], reread: Callable[[str], Any]) -> Any:
        """What the request behind a claim created, if it committed (None if not yet)."""
        if "resource_id" not in found:
            return None
        try:
            made = reread(str(found["resource_id"]))
        except NotFound:
            return None
        if found["state"] != "done":  # committed, then died before it said so
            self.store.put({**found, "state": "done", "status": 201})
        return made

    def finish(self, resource_id: str, status: int) -> None:
        if self._claim is not None:
            done = {"state": "done", "resource_id": resource_id, "status": status}
            self.store.put({**self._claim, **done})

    def abandon(self) -> None:
        """Release the key of a request that failed, so it can be retried."""
        if self._claim is not None:
            self.store.delete(self.pk, self.sk)


_log = logging.getLogger("carevault.api")
_SYNCS: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "carevault_rate_syncs", default=None
)


@contextmanager
def deferred_syncs(held: list[Callable[[], None]]) -> Iterator[None]:
    """Within it, rate counts due for the store are noted in ``held``, to be run after."""
    token = _SYNCS.set(held)
    try:
        yield
    finally:
        _SYNCS.reset(token)


class RateLimiter:
    """Fixed one-minute windows counted in the store, shared by every server process.

    Each process counts its own requests in memory and adds them to the stored count at
    most once a second per caller (``SYNC_SECONDS``), so a request costs no durable write;
    the limit is checked against the stored count (every process's requests up to the
    last sync) plus this process's requests since. An API request defers its sync
    (``deferred_syncs``, set by the edge) until its response is sent, then runs it in a
    worker thread: no response, and never the event loop, waits for that write.
    """

    SYNC_SECONDS = 1.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        # (who, window) -> [stored count at last sync, requests since, time of last sync]
        self._windows: dict[tuple[str, int], list[float]] = {}

    def hit(self, who: str, limit: int, now: float | None = None) -> None:
        """Count a request of ``who``; 429 with ``Retry-After`` past ``limit`` a minute."""
        now = time.time() if now is None else now
        window = int(now // 60)
        with self._lock:
            entry = self._windows.get((who, window))
            if entry is None:
                self._forget(window)
                entry = self._windows[(who, window)] = [0, 0, 0.0]
            if entry[0] + entry[1] >= limit:
                retry = max(1, math.ceil((window + 1) * 60 - now))
                raise Problem(
                    429,
                    "rate-limited",
                    "Too many requests",
                    f"at most {limit} requests a minute; try again in {retry} s",
                    headers={"Retry-After": str(retry)},
                )
            entry[1] += 1
            due = now - entry[2] >= self.SYNC_SECONDS
            if due:
                entry[2] = now  # one sync per caller and second, even while one is running
        if due:
            held = _SYNCS.get()
            if held is None:
                self._sync(who, window, now)
            else:
                held.append(lambda: self._sync(who, window, now))

    def _forget(self, window: int) -> None:
        for key in [k for k in self._windows if k[1] < window]:
            del self._windows[key]

    def _sync(self, who: str, window: int, now: float) -> None:
        """Add this process's new requests to the stored count; learn everyone's total."""
        pk, sk = f"PLATFORM#RATE#{who}", str(window)
        with self._lock:
            entry = self._windows.get((who, window))
            if entry is None:
                return
            pending, entry[1] = int(entry[1]), 0
        try:
            for _ in range(20):
                item = self.store.get(pk, sk)
                count = 0 if item is None else int(item["count"])
                condition = Attr("pk").not_exists() if item is None else Attr("count").eq(count)
                new = {
                    "pk": pk,
                    "sk": sk,
                    "count": count + pending,
                    "expires_at": (window + 2) * 60,
                }
                try:
                    self.store.put(new, condition=condition)
                except ConflictError:
                    continue
                with self._lock:
                    entry[0] = count + pending
                return
        except CarevaultError as exc:  # the store is unavailable: counted at the next sync
            _log.warning("rate counts not synced to the store: %s", type(exc).__name__)
        with self._lock:  # contended or failed: keep the requests for the next sync
            entry[1] += pending


def create_once(
    store: Store,
    principal: Principal,
    key: str | None,
    request: Request,
    body: dict[str, Any],
    create: Callable[[str], Any],
    reread: Callable[[str], Any],
) -> Any:
    """Run ``create(id)`` once per idempotency key; a replay re-reads what it created.

    The id is chosen before the create and kept in the key's claim, so a request that
    committed and then died (no response sent) is found by a replay and answered with it.
    """
    guard = Idempotency(store, principal.tenant, principal.user_id, key)
    made_id, earlier = guard.begin(request, body, reread)
    if earlier is not None:
        return earlier
    try:
        made = create(made_id)
    except BaseException:
        guard.abandon()
        raise
    guard.finish(made.id, 201)
    return made
