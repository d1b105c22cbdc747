"""HTTP conventions kept in the store: ETags, idempotent creates, rate limits."""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request

from carevault.access.policy import Principal
from carevault.api.problems import Problem
from carevault.errors import ConflictError
from carevault.store import Attr, Store

IDEMPOTENCY_TTL = 24 * 3600
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(request: Request) -> int:
    """The version an update expects (``If-Match``): 428 if missing, 412 if malformed."""
    given = request.headers.get("if-match")
    if given is None:
        raise Problem(
            428,
            "precondition-required",
            "Precondition required",
            "If-Match: send the ETag of the version you read",
        )
    text = given.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise Problem(
            412, "precondition-failed", "Precondition failed", "If-Match: must be an ETag"
        )
    return int(text)


class Idempotency:
    """A creating POST under an ``Idempotency-Key`` happens once; replays get its result.

    The key item holds a digest of the request and, once done, the status and the id of
    what was created (never the response body: it may hold PHI). A replay re-reads that
    resource through the same guarded path; the same key with another body is a 422.
    """

    def __init__(self, store: Store, tenant: str, user: str, key: str | None) -> None:
        self.store, self.key = store, key
        self.pk, self.sk = f"T#{tenant}#IDEMPOTENCY#{user}", f"{key}"
        self._claim: dict[str, Any] | None = None  # the pending item this request put

    def begin(self, request: Request, body: dict[str, Any]) -> dict[str, Any] | None:
        """None to go ahead (the key is claimed), or the earlier outcome to replay."""
        if self.key is None:
            return None
        if not 1 <= len(self.key) <= 200 or not self.key.isascii() or not self.key.isprintable():
            raise Problem(
                422,
                "invalid-request",
                "Invalid request",
                "Idempotency-Key: must be 1-200 printable ASCII characters",
                field="Idempotency-Key",
                rule="must be 1-200 printable ASCII characters",
            )
        # ASCII escapes: any string JSON can carry (even a lone surrogate) digests the same
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=True).encode()
        digest = hashlib.sha256(request.method.encode() + request.url.path.encode() + canonical)
        now = int(time.time())
        item = {
            "pk": self.pk,
            "sk": self.sk,
            "digest": digest.digest(),
            "state": "pending",
            "expires_at": now + IDEMPOTENCY_TTL,
        }
        try:
            self.store.put(item, condition=Attr("pk").not_exists())
            self._claim = item
            return None
        except ConflictError:
            found = self.store.get(self.pk, self.sk)
        if found is None:  # expired between the two calls: claim it again
            return self.begin(request, body)
        if bytes(found["digest"]) != item["digest"]:
            raise Problem(
                422,
                "idempotency-key-reused",
                "Idempotency key reused",
                "Idempotency-Key: was used for a different request",
                field="Idempotency-Key",
                rule="must not be reused for a different request",
            )
        if found["state"] != "done":
            raise Problem(
                409,
                "idempotency-in-progress",
                "Request in progress",
                "Idempotency-Key: the first request with this key is still running",
                headers={"Retry-After": "1"},
            )
        return dict(found)

    def finish(self, resource_id: str, status: int) -> None:
        if self._claim is not None:
            done = {"state": "done", "resource_id": resource_id, "status": status}
            self.store.put({**self._claim, **done})

    def abandon(self) -> None:
        """Release the key of a request that failed, so it can be retried."""
        if self.key is not None:
            self.store.delete(self.pk, self.sk)


class RateLimiter:
    """Fixed one-minute windows counted in the store, shared by every server process.

    Each process counts its own requests in memory and adds them to the stored count at
    most once a second per caller (``SYNC_SECONDS``), so a request costs no durable write;
    the limit is checked against the stored count (every process's requests up to the
    last sync) plus this process's requests since.
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
            self._sync(who, window, now)

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
            pending, entry[1], entry[2] = int(entry[1]), 0, now
        for _ in range(20):
            item = self.store.get(pk, sk)
            count = 0 if item is None else int(item["count"])
            condition = Attr("pk").not_exists() if item is None else Attr("count").eq(count)
            new = {"pk": pk, "sk": sk, "count": count + pending, "expires_at": (window + 2) * 60}
            try:
                self.store.put(new, condition=condition)
            except ConflictError:
                continue
            with self._lock:
                entry[0] = count + pending
            return
        with self._lock:  # the counter stayed contended: keep the requests for the next sync
            entry[1] += pending


def create_once(
    store: Store,
    principal: Principal,
    key: str | None,
    request: Request,
    body: dict[str, Any],
    create: Callable[[], Any],
    reread: Callable[[str], Any],
) -> Any:
    """Run ``create`` once per idempotency key; a replay re-reads what it created."""
    guard = Idempotency(store, principal.tenant, principal.user_id, key)
    earlier = guard.begin(request, body)
    if earlier is not None:
        return reread(str(earlier["resource_id"]))
    try:
        made = create()
    except BaseException:
        guard.abandon()
        raise
    guard.finish(made.id, 201)
    return made
