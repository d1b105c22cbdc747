"""A trail proves it is whole: rollback, deleted chains and moved index keys are reported.

Each scenario rewrites the store around carevault, as someone with the database's
credentials (but not the witness log's) would, leaving the trail consistent with itself;
``verify`` must then report a break, where before it passed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from carevault.audit import trail as trail_module
from carevault.audit.digest import parse
from carevault.audit.proofs import check, consistency, inclusion
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail, fields_of, verify
from carevault.audit.witness import FileWitness, StoreWitness
from carevault.crypto import Keyring, LocalKeyProvider
from carevault.domain.audit import Action, AuditEvent, Level
from carevault.domain.ids import new_id
from carevault.store import SortKey, Store
from tests.audit.raw import Item, Raw
from tests.domain.world import utc

pytestmark = pytest.mark.engines
EVERY = 10  # checkpoints every ten events, so short chains have several
SCENARIOS = (
    "rollback-to-checkpoint",
    "old-backup-head",
    "chain-deleted",
    "all-chains-deleted",
    "newest-checkpoint-deleted",
    "index-keys-moved",
)


def event(i: int, patient: str) -> AuditEvent:
    return AuditEvent.create(
        at=utc(2027, 3, 1, 9, i % 60),
        actor_id=f"user{i % 3}",
        role="DOCTOR",
        action=Action.READ,
        resource_type="PATIENT",
        resource_id=patient,
        patient_id=patient,
        level=Level.HIPAA,
    )


@dataclass
class Built:
    trail: AuditTrail
    raw: Raw
    patient: str
    early_head: Item  # a backup's head of the longest chain, from halfway through
    longest: int


@pytest.fixture
def built(
    store: Store,
    make_store: Callable[[], Store],
    endpoint: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Built:
    monkeypatch.setattr(trail_module, "CHECKPOINT", EVERY)
    ring = Keyring(make_store(), LocalKeyProvider.create(tmp_path / "root.key"))
    tenant, patient = new_id(), new_id()
    witness = FileWitness(tmp_path / "witness.jsonl")
    trail = AuditTrail(store, Signer(ring, tenant), tenant, witness=witness)
    raw = Raw(store, endpoint)
    heads: dict[int, Item] = {}
    for start in range(0, 160, 5):
        trail.append([event(i, patient) for i in range(start, start + 5)])
        if start == 80:
            heads = {
                s: h for s in range(4) if (h := raw.get(trail.partition(s), "HEAD")) is not None
            }
    trail.witness_digest()  # as the next checkpoint would
    sizes = {s: sum(1 for _ in trail.events(s)) for s in range(4)}
    longest = max(sizes, key=lambda s: sizes[s])
    assert sizes[longest] > 3 * EVERY and longest in heads
    assert verify(trail).intact  # whole before anything is done to it
    return Built(trail, raw, patient, heads[longest], longest)


def _items(b: Built, shard: int, prefix: str = "") -> list[Item]:
    pk = b.trail.partition(shard)
    found = b.trail.store.query_all(pk, sk=SortKey.begins_with(prefix) if prefix else None)
    return [i for i in (b.raw.get(x["pk"], x["sk"]) for x in found) if i is not None]


def _rewrite(kind: str, b: Built) -> None:
    shard, pk = b.longest, b.trail.partition(b.longest)
    events = _items(b, shard, "E#")
    if kind == "rollback-to-checkpoint":  # back to the last-but-one checkpoint
        checkpoints = _items(b, shard, "CKPT#")
        keep = checkpoints[-2]
        for e in events:
            if int(e["sk"][2:]) > int(keep["seq"]):
                b.raw.delete(pk, e["sk"])
        for c in checkpoints[-1:]:
            b.raw.delete(pk, c["sk"])
        b.raw.put({**keep, "sk": "HEAD"})
    elif kind == "old-backup-head":  # an old backup's head restored, newer events deleted
        for e in events:
            if int(e["sk"][2:]) > int(b.early_head["seq"]):
                b.raw.delete(pk, e["sk"])
        for c in _items(b, shard, "CKPT#"):
            if int(c["seq"]) > int(b.early_head["seq"]):
                b.raw.delete(pk, c["sk"])
        b.raw.put(b.early_head)
    elif kind in ("chain-deleted", "all-chains-deleted"):
        for s in [shard] if kind == "chain-deleted" else list(range(4)):
            for item in _items(b, s):
                b.raw.delete(item["pk"], item["sk"])
    elif kind == "newest-checkpoint-deleted":
        newest = _items(b, shard, "CKPT#")[-1]
        b.raw.delete(pk, newest["sk"])
    elif kind == "index-keys-moved":  # out of the patient's accounting of disclosures
        victim = random.Random(7).choice([e for e in events if "gsi3pk" in e])
        elsewhere = victim["gsi3pk"].replace(b.patient, new_id())
        b.raw.put({**victim, "gsi3pk": elsewhere})


@pytest.mark.parametrize("kind", SCENARIOS)
def test_a_trail_made_consistent_with_itself_is_still_reported(kind: str, built: Built) -> None:
    _rewrite(kind, built)
    unwitnessed = AuditTrail(
        built.trail.store, built.trail.signer, built.trail.tenant, witness=False
    )
    report = verify(built.trail)
    assert not report.intact, kind
    assert report.digests >= 1
    if kind not in {"index-keys-moved", "newest-checkpoint-deleted"}:
        # without the witness these rewrites leave a trail consistent with itself: the
        # witness is what catches them
        assert verify(unwitnessed).intact, kind
    built.raw.close()


def test_an_auditors_own_digest_catches_a_rollback_the_store_hides(
    built: Built, tmp_path: Path
) -> None:
    kept = parse(built.trail.digest().line())  # an auditor saved this digest
    _rewrite("old-backup-head", built)
    alone = AuditTrail(built.trail.store, built.trail.signer, built.trail.tenant, witness=False)
    assert verify(alone).intact
    report = verify(alone, against=[kept])
    assert not report.intact
    assert any("rolled back" in b.problem for b in report.breaks)
    built.raw.close()


def test_a_forged_digest_is_reported(built: Built) -> None:
    honest = built.trail.digest()
    forged = honest.model_copy(update={"at": "2030-01-01T00:00:00.000000Z"})
    report = verify(built.trail, against=[forged])
    assert any("not signed" in b.problem for b in report.breaks)
    built.raw.close()


def test_inclusion_and_consistency_proofs_check_offline_and_fail_when_altered(
    built: Built,
) -> None:
    trail = built.trail
    old = parse(trail.digest().line())
    some = fields_of(_items(built, built.longest, "E#")[7])
    proof = inclusion(trail, some["id"])
    assert proof["size"] >= 8 and check(proof) == []
    altered = orjson.loads(proof["event"])
    altered["action"] = "DELETE"
    assert check({**proof, "event": orjson.dumps(altered, option=orjson.OPT_SORT_KEYS).decode()})
    assert check({**proof, "path": [bytes(32).hex(), *proof["path"][1:]]})
    # a stranger's key does not sign this tenant's digests
    assert check(proof, public_key=bytes(32).hex()) or check(proof, public_key="ab" * 32)
    for i in range(12):  # the trail grows; the old digest stays a prefix of the new
        trail.append([event(1000 + i, built.patient)])
    grown = consistency(trail, old)
    assert check(grown) == []
    bent = orjson.loads(orjson.dumps(grown))
    bent["old"]["chains"][built.longest]["root"] = bytes(32).hex()
    assert check(bent)  # one altered root in a digest: it no longer verifies
    built.raw.close()


def test_a_witness_in_another_database_keeps_digests_append_only(
    built: Built, make_store: Callable[[], Store]
) -> None:
    other = StoreWitness(make_store())
    digest = built.trail.digest()
    other.append(digest)
    other.append(built.trail.digest())
    kept = other.read(built.trail.tenant)
    assert kept.unreadable == 0 and kept.digests[0].at == digest.at
    assert len(kept.digests) == 2
    built.raw.close()
