"""The tamper-evident audit trail: per-tenant hash chains, signed heads, checkpoints.

A tenant's events are spread over ``SHARDS`` chains so no partition takes more than its
share of a busy clinic's events:

    T#{t}#AUDIT#S{s} / E#{seq:012d}   an event: its fields (ids and enums, never PHI),
                                      prev (the previous event's hash) and hash =
                                      SHA-256(prev + canonical JSON of the fields)
    T#{t}#AUDIT#S{s} / HEAD           seq and hash of the last event, signed (Ed25519),
                                      and the chain's Merkle frontier (audit/merkle.py)
    T#{t}#AUDIT#S{s} / CKPT#{seq}     a signed checkpoint every CHECKPOINT events

An append puts its events and moves the head (only if it has not moved meanwhile) in the
same transaction as the change it records, so a committed change always has its event.
Editing, deleting, inserting, reordering or truncating events breaks a link, the head, a
checkpoint or an index key, and ``verify`` names the first break. A trail rolled back,
restored from an old copy or deleted whole is consistent with itself; at every checkpoint
a signed digest of all the tenant's chains goes to the witness log outside the data store
(audit/witness.py), and ``verify`` checks the trail extends every digest witnessed.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError as PydanticError

from carevault.audit.digest import ChainState, Digest, sign
from carevault.audit.merkle import Frontier, leaf_hash
from carevault.audit.signing import HeadSigner
from carevault.audit.witness import Witness, witness_for
from carevault.domain.audit import SHARDS, Action, AuditEvent, Level, Outcome
from carevault.domain.ids import new_id, well_formed_id
from carevault.errors import ConflictError, StoreUnavailable
from carevault.repo.records import Staged, commit
from carevault.store import Attr, Index, Item, KeyCondition, Put, SortKey, Store

GENESIS = bytes(32)
CHECKPOINT = 100
RETENTION_YEARS = 7  # events are kept at least this long (retain_until)
MAX_EVENTS = 25  # per append, leaving room for the change it records

# The last head each chain was seen at in this process, by (store, chain partition): an
# append links to it without reading the head first. It is only a hint: the head is put on
# condition that it is still at that seq and hash, and a moved head is read again.
_HEADS: dict[tuple[int, str], tuple[int, bytes, Frontier]] = {}
_LOG = logging.getLogger("carevault.audit")


class _HeadMoved(ConflictError):
    """Another writer appended to the chain first; the append is retried."""


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes an event's hash covers: its fields as sorted, compact JSON."""
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def link(prev: bytes, body: bytes) -> bytes:
    """An event's hash, chained to the previous one: SHA-256(prev + canonical body)."""
    return hashlib.sha256(prev + body).digest()


def fields_of(item: Item) -> dict[str, Any]:
    """The fields a stored chain item holds (its canonical JSON body, parsed)."""
    found: dict[str, Any] = orjson.loads(item["event"])
    return found


def head_message(tenant: str, shard: int, seq: int, digest: bytes) -> bytes:
    """What a head or checkpoint signature covers."""
    return f"carevault audit|{tenant}|{shard}|{seq}|".encode() + digest


def index_keys(tenant: str, shard: int, fields: dict[str, Any]) -> dict[str, str]:
    """The index keys of an event: the AuditEvent.KEYS templates, written out.

    A test keeps them in step with the templates; ``verify`` checks every stored event's
    keys against them, so an event moved out of an index (say, out of a patient's
    accounting of disclosures) is reported.
    """
    at, day, eid = fields["at"], fields["day"], fields["id"]
    keys = {
        "gsi1pk": f"T#{tenant}#AUDIT#DAY#{day}#S{shard}",
        "gsi1sk": f"{at}#{eid}",
        "gsi4pk": f"T#{tenant}#AUDIT#LEVEL#{fields['level']}#{day}#S{shard}",
        "gsi4sk": f"{at}#{eid}",
    }
    if fields.get("patient_id"):
        keys["gsi3pk"] = f"T#{tenant}#AUDIT#PATIENT#{fields['patient_id']}"
        keys["gsi3sk"] = f"{at}#{eid}"
    return keys


INDEX_ATTRIBUTES = ("gsi1pk", "gsi1sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk")


def event_of(item: Item) -> AuditEvent:
    """The event a stored chain item holds; never fails, so a listing never does.

    An id field that is not a well-formed id (written before ids were checked) is shown
    withheld; an event that still does not read is shown as UNREADABLE, with its place.
    """
    try:
        fields = {k: v for k, v in fields_of(item).items() if k != "tenant"}
    except (KeyError, TypeError, orjson.JSONDecodeError):
        fields = {}
    try:
        return AuditEvent.model_validate(fields, context={"stored": True})
    except PydanticError:
        pass
    for name in AuditEvent.IDS:
        if fields.get(name) is not None and well_formed_id(fields[name]) != fields[name]:
            fields[name], fields["withheld"] = None, True
    try:
        return AuditEvent.model_validate(fields, context={"stored": True})
    except PydanticError:
        return _unreadable(fields, item)


def _unreadable(fields: dict[str, Any], item: Item) -> AuditEvent:
    """A stand-in for a stored event that does not read as one (its place kept)."""
    shard = fields.get("shard")
    return AuditEvent.create(
        id=well_formed_id(fields.get("id")) or new_id(),
        at=datetime(1970, 1, 1, tzinfo=UTC),
        shard=shard if isinstance(shard, int) and 0 <= shard < SHARDS else 0,
        seq=int(str(item.get("sk", "E#0"))[2:] or 0),
        actor_id="unreadable",
        role="UNREADABLE",
        action=Action.READ,
        resource_type="UNREADABLE",
        outcome=Outcome.FAILURE,
        level=Level.CRITICAL,
        withheld=True,
    )


def exported(item: Item) -> dict[str, Any]:
    """A stored event as an export row: its fields and its chain hash (hex)."""
    return {**event_of(item).model_dump(mode="json"), "hash": bytes(item["hash"]).hex()}


class AuditTrail:
    """Appends a tenant's events to its chains, and reads them back."""

    def __init__(
        self,
        store: Store,
        signer: HeadSigner,
        tenant: str,
        *,
        shards: int = SHARDS,
        witness: Witness | bool | None = True,
    ) -> None:
        self.store, self.signer, self.tenant, self.shards = store, signer, tenant, shards
        self.witness = witness_for(store) if witness is True else witness or None

    def partition(self, shard: int) -> str:
        return f"T#{self.tenant}#AUDIT#S{shard}"

    # -- appending ---------------------------------------------------------------------

    def stage(self, events: Sequence[AuditEvent | dict[str, Any]], shard: int) -> list[Staged]:
        """Actions appending ``events`` to chain ``shard`` as of its current head.

        Only the head is put conditionally: while it has not moved, the sequence numbers
        after it are this append's.
        """
        pk, t = self.partition(shard), self.tenant
        known = _HEADS.get((id(self.store), pk))
        if known is None:
            known = self._head_state(shard)
        seq, prev, tree = known[0], known[1], known[2].copy()
        staged: list[Staged] = []
        for event in events:
            seq += 1
            fields = event if isinstance(event, dict) else {**event.fields(), "id": event.id}
            fields = {**fields, "shard": shard, "seq": seq, "tenant": t}
            body = canonical(fields)
            digest = link(prev, body)
            tree.append(leaf_hash(body))
            day = fields["day"]
            item: Item = {
                "pk": pk,
                "sk": f"E#{seq:012d}",
                "event": body,
                "prev": prev,
                "hash": digest,
                "retain_until": f"{int(day[:4]) + RETENTION_YEARS}{day[4:]}",
                **index_keys(t, shard, fields),
            }
            staged.append(Staged(Put(item)))
            if seq % CHECKPOINT == 0:
                staged.append(Staged(Put(self._signed(pk, f"CKPT#{seq:012d}", shard, seq, digest))))
            prev = digest
        new_head = {**self._signed(pk, "HEAD", shard, seq, prev), "frontier": tree.pack()}
        if known[0] == 0:
            moved = Attr("pk").not_exists()
        else:
            moved = Attr("seq").eq(known[0]) & Attr("hash").eq(known[1])
        staged.append(Staged(Put(new_head, moved), _HeadMoved("audit")))
        return staged

    def _head_state(self, shard: int) -> tuple[int, bytes, Frontier]:
        """A chain's (seq, hash, Merkle frontier) as its stored head says."""
        head = self.store.get(self.partition(shard), "HEAD")
        if head is None:
            return 0, GENESIS, Frontier()
        seq = int(head["seq"])
        if "frontier" in head:
            return seq, bytes(head["hash"]), Frontier.packed(seq, bytes(head["frontier"]))
        tree = Frontier()  # a head written before chains kept their tree: rebuild it once
        for item in self.events(shard):
            if int(item["sk"][2:]) > seq:
                break
            tree.append(leaf_hash(bytes(item["event"])))
        return seq, bytes(head["hash"]), tree

    def _linked(self, staged: list[Staged]) -> None:
        """Remember the head an append committed (the next append links to it)."""
        head = staged[-1].action.item  # type: ignore[union-attr]
        tree = Frontier.packed(head["seq"], head["frontier"])
        _HEADS[(id(self.store), head["pk"])] = (head["seq"], head["hash"], tree)

    def _signed(self, pk: str, sk: str, shard: int, seq: int, digest: bytes) -> Item:
        kid, signature = self.signer.sign(head_message(self.tenant, shard, seq, digest))
        return {"pk": pk, "sk": sk, "seq": seq, "hash": digest, "kid": kid, "sig": signature}

    def append(
        self, events: Sequence[AuditEvent | dict[str, Any]], change: Sequence[Staged] = ()
    ) -> None:
        """Commit ``events`` (and the ``change`` they record) in one transaction."""
        if not events:
            commit(self.store, change)
            return
        for start in range(0, len(events), MAX_EVENTS):
            batch = events[start : start + MAX_EVENTS]
            first = start == 0
            for _ in range(50):
                shard = random.randrange(self.shards)
                staged = self.stage(batch, shard)
                try:
                    commit(self.store, [*(change if first else ()), *staged])
                except _HeadMoved:  # another writer got there first: link to its new head
                    _HEADS.pop((id(self.store), self.partition(shard)), None)
                    continue
                self._linked(staged)
                if len(staged) > len(batch) + 1:  # a checkpoint was crossed
                    self.witness_digest()
                break
            else:
                raise StoreUnavailable("audit: the chains stayed busy; try again")

    # -- digests -----------------------------------------------------------------------

    def digest(self) -> Digest:
        """A signed digest of every chain of the tenant as their heads are now."""
        chains = []
        for shard in range(self.shards):
            seq, prev, tree = self._head_state(shard)
            state = ChainState(shard=shard, size=seq, head=prev.hex(), root=tree.root().hex())
            chains.append(state)
        return sign(self.tenant, chains, self.signer)

    def witness_digest(self) -> Digest | None:
        """Sign a digest and append it to the witness log (None when there is none).

        A witness that cannot be written does not fail the append it follows: the events
        are committed; the window until the next digest is only proved consistent.
        """
        if self.witness is None:
            return None
        found = self.digest()
        try:
            self.witness.append(found)
        except Exception as exc:
            _LOG.warning("audit: the witness log could not be written (%s)", type(exc).__name__)
            return None
        return found

    # -- reading -----------------------------------------------------------------------

    def events(self, shard: int) -> Iterator[Item]:
        """A chain's stored event items, in sequence order."""
        yield from self.store.query_all(self.partition(shard), sk=SortKey.begins_with("E#"))

    def query(
        self, index: Index, partition: str, sk: KeyCondition | None = None
    ) -> list[AuditEvent]:
        """Events of one GSI partition (``partition`` follows ``T#{tenant}#``)."""
        items = self.store.query_all(f"T#{self.tenant}#{partition}", index=index, sk=sk)
        return [event_of(i) for i in items]

    def first(
        self, index: Index, partition: str, limit: int, sk: KeyCondition | None = None
    ) -> list[AuditEvent]:
        """The first ``limit`` events of one GSI partition (in sort-key order)."""
        found = self.store.query(f"T#{self.tenant}#{partition}", index=index, sk=sk, limit=limit)
        return [event_of(i) for i in found.items]


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain stops verifying, and how (``shard`` -1: the tenant's whole trail)."""

    shard: int
    seq: int
    problem: str


@dataclass(frozen=True, slots=True)
class Report:
    """What ``verify`` found: events checked, digests checked, and the first break per chain."""

    events: int
    breaks: list[Break]
    digests: int = 0

    @property
    def intact(self) -> bool:
        return not self.breaks


def verify(trail: AuditTrail, against: Sequence[Digest] = ()) -> Report:
    """Recompute every chain of the tenant; check it extends every digest it must.

    The digests are those of the trail's witness log and ``against`` (an auditor's own).
    """
    breaks: list[Break] = []
    digests = list(against)
    if trail.witness is not None:
        witnessed = trail.witness.read(trail.tenant)
        digests.extend(witnessed.digests)
        if witnessed.unreadable:
            problem = f"{witnessed.unreadable} witness log entries are unreadable"
            breaks.append(Break(-1, 0, problem))
    expected: dict[int, dict[int, tuple[str, str, str]]] = {}  # shard -> size -> (head, root, at)
    for d in digests:
        if d.tenant != trail.tenant or not d.signed_by(trail.signer):
            breaks.append(Break(-1, 0, f"the digest of {d.at} is not signed by this tenant"))
            continue
        for c in d.chains:
            if c.size:
                expected.setdefault(c.shard, {})[c.size] = (c.head, c.root, d.at)
    total = 0
    for shard in range(trail.shards):
        count, found = _verify_chain(trail, shard, expected.get(shard, {}))
        total += count
        if found is not None:
            breaks.append(found)
    return Report(total, breaks, len(digests))


def _verify_chain(
    trail: AuditTrail, shard: int, expected: dict[int, tuple[str, str, str]]
) -> tuple[int, Break | None]:
    tenant, pk = trail.tenant, trail.partition(shard)
    prev, seq, digests, tree = GENESIS, 0, {0: GENESIS}, Frontier()
    for item in trail.events(shard):
        at = int(item["sk"][2:])
        try:
            body = bytes(item["event"])
            fields = orjson.loads(body)
        except (KeyError, TypeError, orjson.JSONDecodeError):
            return seq, Break(shard, at, "the event was altered")
        if not isinstance(fields, dict):
            return seq, Break(shard, at, "the event was altered")
        if at != seq + 1 or fields.get("seq") != at:
            problem = "an event is missing" if at > seq + 1 else "events are out of order"
            return seq, Break(shard, seq + 1, problem)
        if fields.get("tenant") != tenant or fields.get("shard") != shard:
            return seq, Break(shard, at, "an event was moved from another chain")
        if bytes(item.get("prev", b"")) != prev:
            return seq, Break(shard, at, "the link to the previous event is broken")
        digest = link(prev, body)
        if bytes(item.get("hash", b"")) != digest:
            return seq, Break(shard, at, "the event was altered")
        if not _indexed_as_stated(tenant, shard, fields, item):
            return seq, Break(shard, at, "the event's index keys were changed")
        prev, seq = digest, at
        digests[at] = digest
        tree.append(leaf_hash(body))
        witnessed = expected.get(at)
        if witnessed is not None and (prev.hex(), tree.root().hex()) != witnessed[:2]:
            return seq, Break(shard, at, f"the events differ from the digest of {witnessed[2]}")
    longest = max(expected, default=0)
    if longest > seq:
        when = expected[longest][2]
        problem = (
            f"the chain holds {seq} events but the digest of {when} witnessed {longest}: "
            "events were deleted or the trail was rolled back"
        )
        return seq, Break(shard, seq + 1, problem)
    head = trail.store.get(pk, "HEAD")
    if head is None:
        return seq, Break(shard, seq, "the chain head is missing") if seq else None
    if not _signature_holds(trail, shard, head):
        return seq, Break(shard, int(head.get("seq", 0)), "the chain head's signature is invalid")
    if int(head["seq"]) > seq:
        return seq, Break(shard, seq + 1, "events after this one were removed (truncated)")
    if int(head["seq"]) < seq:
        return seq, Break(shard, int(head["seq"]) + 1, "events were added after the signed head")
    if bytes(head["hash"]) != prev:
        return seq, Break(shard, seq, "the chain head does not match the events")
    if "frontier" in head and bytes(head["frontier"]) != tree.pack():
        return seq, Break(shard, seq, "the chain head's Merkle tree does not match the events")
    present = set()
    for checkpoint in trail.store.query_all(pk, sk=SortKey.begins_with("CKPT#")):
        at = int(checkpoint["seq"])
        present.add(at)
        good = _signature_holds(trail, shard, checkpoint) and digests.get(at) == bytes(
            checkpoint["hash"]
        )
        if not good:
            return seq, Break(shard, at, "a signed checkpoint does not match the events")
    missing = [n for n in range(CHECKPOINT, seq + 1, CHECKPOINT) if n not in present]
    if missing:
        return seq, Break(shard, missing[0], "a signed checkpoint was deleted")
    return seq, None


def _indexed_as_stated(tenant: str, shard: int, fields: dict[str, Any], item: Item) -> bool:
    """Whether the item's index keys are exactly those its event's fields call for."""
    try:
        wanted = index_keys(tenant, shard, fields)
    except (KeyError, TypeError):
        return False
    return all(item.get(name) == wanted.get(name) for name in INDEX_ATTRIBUTES)


def _signature_holds(trail: AuditTrail, shard: int, item: Item) -> bool:
    try:
        message = head_message(trail.tenant, shard, int(item["seq"]), bytes(item["hash"]))
        return trail.signer.verify(int(item["kid"]), message, bytes(item["sig"]))
    except (KeyError, TypeError, ValueError):
        return False
