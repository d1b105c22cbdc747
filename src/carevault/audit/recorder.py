"""Recording who did what: events for writes ride in the change's own transaction; events
for reads are made durable before the data is handed back, with group commit.

Group commit: callers that arrive while an append is in flight wait for the next one,
which carries all their events at once, so concurrent readers share transactions instead
of queueing one commit each.
"""

from __future__ import annotations

import functools
import ipaddress
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from carevault.audit.appender import appender_for
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail
from carevault.domain.audit import Action, AuditEvent, Level, Outcome
from carevault.domain.base import utcnow
from carevault.domain.ids import new_id, well_formed_id
from carevault.errors import StoreUnavailable
from carevault.repo.records import Staged
from carevault.repo.release import Waiting, settle


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from: the client's address and user agent, as recorded."""

    address: str | None = None
    agent: str | None = None

    @classmethod
    def of(cls, address: str | None, agent: str | None) -> Origin:
        """Only an IP address; the agent as printable ASCII, at most 200 characters."""
        try:
            ip = str(ipaddress.ip_address(address or ""))
        except ValueError:
            ip = None
        text = "".join(c for c in (agent or "") if " " <= c <= "~").strip()[:200]
        return cls(ip, text or None)


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who acts, in which role, for what purpose, in which request, from where."""

    actor: str
    role: str
    purpose: str = "TREATMENT"
    request_id: str | None = None
    origin: Origin = field(default_factory=Origin)


@dataclass
class _Waiter:
    events: Sequence[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit:
    """Leader/follower batching of read events into shared appends."""

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail
        self._lock = threading.Lock()
        self._pending: list[_Waiter] = []
        self._leading = False

    def submit(self, events: Sequence[dict[str, Any]], timeout: float) -> None:
        """Return once ``events`` are durable in the trail; StoreUnavailable past ``timeout``."""
        waiter = _Waiter(events)
        with self._lock:
            self._pending.append(waiter)
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        if not waiter.done.wait(timeout):
            raise StoreUnavailable("audit: the read's event was not recorded in time")
        if waiter.error is not None:
            raise waiter.error

    def _lead(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._leading = False
                    return
            try:
                self.trail.append([e for w in batch for e in w.events])
            except BaseException as exc:  # every waiter of the batch learns it failed
                for w in batch:
                    w.error = exc
            for w in batch:
                w.done.set()


def _stamp() -> str:
    """Now in UTC to the second, as events record it."""
    return _second(int(time.time()))


@functools.lru_cache(maxsize=1)
def _second(second: int) -> str:
    """A second as events record it (formatted once per second, not once per event)."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_COMMITTERS: dict[tuple[int, str], GroupCommit] = {}
_COMMITTERS_LOCK = threading.Lock()


class _Pending:
    """Read events to group-commit in this process when they are waited for."""

    __slots__ = ("events", "group")

    def __init__(self, group: GroupCommit, events: Sequence[dict[str, Any]]) -> None:
        self.group, self.events = group, events

    def wait(self, timeout: float) -> None:
        if self.events:
            self.group.submit(self.events, timeout)


def committer(trail: AuditTrail) -> GroupCommit:
    """The process-wide group committer of a store's tenant."""
    key = (id(trail.store), trail.tenant)
    with _COMMITTERS_LOCK:
        found = _COMMITTERS.get(key)
        if found is None:
            found = _COMMITTERS[key] = GroupCommit(trail)
        return found


class Auditor:
    """Makes events for one request's actions and writes them as the rules require."""

    def __init__(self, trail: AuditTrail, context: AuditContext) -> None:
        self.trail, self.context = trail, context
        self._group = committer(trail)
        self._shared: dict[str, Any] | None = None

    def event(
        self,
        action: Action,
        resource_type: str,
        resource_id: str | None,
        patient_id: str | None,
        outcome: Outcome = Outcome.SUCCESS,
        level: Level = Level.HIPAA,
    ) -> dict[str, Any]:
        """An event of this request's actor, as the fields the chain stores.

        An id that is not well formed (a request's path text, say) is never written: the
        event records the attempt with the id withheld.
        """
        resource, patient = well_formed_id(resource_id), well_formed_id(patient_id)
        now = _stamp()
        fields: dict[str, Any] = {
            **self._base(),
            "id": new_id(),
            "created_at": now,
            "updated_at": now,
            "at": now,
            "day": now[:10],
            "action": action.value,
            "resource_type": resource_type,
            "resource_id": resource,
            "patient_id": patient,
            "outcome": outcome.value,
            "level": level.value,
        }
        if (resource is None and resource_id is not None) or (
            patient is None and patient_id is not None
        ):
            fields["withheld"] = True
        return fields

    def _base(self) -> dict[str, Any]:
        """The fields every event of this request shares, validated once."""
        if self._shared is None:
            c = self.context
            AuditEvent.create(
                at=utcnow(),
                actor_id=c.actor,
                role=c.role,
                action=Action.READ,
                resource_type="CHECK",
                purpose=c.purpose,
                request_id=c.request_id,
                address=c.origin.address,
                agent=c.origin.agent,
            )
            shared: dict[str, Any] = {
                "created_by": None,
                "updated_by": None,
                "actor_id": c.actor,
                "role": c.role,
                "purpose": c.purpose,
                "request_id": c.request_id,
            }
            if c.origin.address is not None:
                shared["address"] = c.origin.address
            if c.origin.agent is not None:
                shared["agent"] = c.origin.agent
            self._shared = shared
        return self._shared

    def record(
        self,
        action: Action,
        resource_type: str,
        resource_id: str | None,
        patient_id: str | None,
        outcome: Outcome,
        level: Level,
        purpose: str | None = None,
    ) -> None:
        """Make one event durable on its own (a login, a denial, an export), as a read's are:
        before the caller goes on, or before its held response goes out.

        ``purpose`` overrides the context's (a shred records its reason code there).
        """
        event = self.event(action, resource_type, resource_id, patient_id, outcome, level)
        if purpose is not None:
            event["purpose"] = purpose
        settle(self.announce([event]))

    def reads(self, events: Sequence[dict[str, Any]]) -> None:
        """Make read events durable (group commit) before the data is returned (or, where the
        caller holds its reads, before it lets the data go: ``carevault.repo.release``)."""
        settle(self.announce(events))

    def announce(self, events: Sequence[dict[str, Any]]) -> Waiting:
        """Start making read events durable; the data may go out once ``wait`` returns.

        The store's audit appender process takes them if there is one; else they are
        group-committed here, at ``wait``.
        """
        signer = self.trail.signer
        if events and isinstance(signer, Signer):
            appender = appender_for(self.trail.store)
            if appender is not None:
                receipt = appender.submit(self.trail.tenant, signer, events)
                if receipt is not None:
                    return receipt
        return _Pending(self._group, events)

    def commit(self, events: Sequence[dict[str, Any]], change: Sequence[Staged]) -> None:
        """Commit a change together with its events."""
        self.trail.append(events, change)
