"""Inclusion and consistency proofs an auditor checks without the whole trail.

An inclusion proof (``carevault-inclusion-v1``) shows one event is leaf ``seq - 1`` of
its chain's Merkle tree in a signed digest; a consistency proof
(``carevault-consistency-v1``) shows every chain of an older digest is a prefix of the
same chain in a newer one. Both carry the signed digest(s) and the tenant's public key;
an auditor pins that key (from a digest they trust) rather than take it from the proof.
docs/audit.md describes the formats.
"""

from __future__ import annotations

from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from carevault.audit.digest import Digest, parse
from carevault.audit.merkle import (
    consistency_proof,
    inclusion_path,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from carevault.audit.signing import Signer
from carevault.audit.trail import AuditTrail
from carevault.errors import NotFound, ValidationError


def keyed(digest: Digest, trail: AuditTrail) -> Digest:
    """The digest with the public key of the version that signed it."""
    if not isinstance(trail.signer, Signer):
        return digest
    key = trail.signer.public_key(digest.kid)
    if key is None:
        return digest
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    return digest.model_copy(update={"public_key": raw})


def _bodies(trail: AuditTrail, shard: int, size: int) -> list[bytes]:
    """The canonical bodies of a chain's first ``size`` events (its tree's leaves)."""
    bodies: list[bytes] = []
    for item in trail.events(shard):
        if len(bodies) == size:
            break
        bodies.append(bytes(item["event"]))
    if len(bodies) != size:
        raise ValidationError("digest", f"chain {shard} holds fewer events than the digest")
    return bodies


def inclusion(trail: AuditTrail, event_id: str) -> dict[str, Any]:
    """A proof that event ``event_id`` is in the trail, against a fresh signed digest."""
    digest = trail.witness_digest() or trail.digest()
    for shard in range(trail.shards):
        state = digest.chain(shard)
        if state is None or not state.size:
            continue
        bodies = _bodies(trail, shard, state.size)
        for index, body in enumerate(bodies):
            if orjson.loads(body).get("id") == event_id:
                leaves = [leaf_hash(b) for b in bodies]
                return {
                    "format": "carevault-inclusion-v1",
                    "shard": shard,
                    "index": index,
                    "size": state.size,
                    "event": body.decode(),
                    "path": [p.hex() for p in inclusion_path(leaves, index)],
                    "digest": keyed(digest, trail).data(),
                }
    raise NotFound("audit event", event_id)


def consistency(trail: AuditTrail, old: Digest) -> dict[str, Any]:
    """A proof that the trail now extends ``old``, chain by chain."""
    if old.tenant != trail.tenant:
        raise ValidationError("digest.tenant", "must be this tenant's")
    new = trail.witness_digest() or trail.digest()
    chains = []
    for before in old.chains:
        after = new.chain(before.shard)
        if after is None or after.size < before.size:
            raise ValidationError("digest", f"chain {before.shard} is shorter now than then")
        proof: list[bytes] = []
        if before.size and before.size < after.size:
            bodies = _bodies(trail, before.shard, after.size)
            proof = consistency_proof([leaf_hash(b) for b in bodies], before.size)
        chains.append({"shard": before.shard, "proof": [p.hex() for p in proof]})
    return {
        "format": "carevault-consistency-v1",
        "old": keyed(old, trail).data(),
        "new": keyed(new, trail).data(),
        "chains": chains,
    }


def _signed(digest: Digest, public_key: str | None) -> list[str]:
    key_hex = public_key or digest.public_key
    if key_hex is None:
        return [f"the digest of {digest.at} names no public key; pass --public-key"]
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
        key.verify(bytes.fromhex(digest.sig), digest.message())
    except (ValueError, InvalidSignature):
        return [f"the digest of {digest.at} is not signed by that key"]
    return []


def _hashes(values: Any, where: str) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValidationError(where, "must be a list of hex hashes")
    try:
        found = [bytes.fromhex(v) for v in values]
    except ValueError:
        raise ValidationError(where, "must be a list of hex hashes") from None
    if any(len(h) != 32 for h in found):
        raise ValidationError(where, "every hash must be 32 bytes")
    return found


def check(proof: dict[str, Any], public_key: str | None = None) -> list[str]:
    """What is wrong with ``proof`` (nothing: it holds). ValidationError if malformed."""
    kind = proof.get("format")
    if kind == "carevault-inclusion-v1":
        return _check_inclusion(proof, public_key)
    if kind == "carevault-consistency-v1":
        return _check_consistency(proof, public_key)
    raise ValidationError("format", "must be carevault-inclusion-v1 or carevault-consistency-v1")


def _check_inclusion(proof: dict[str, Any], public_key: str | None) -> list[str]:
    digest = parse(proof.get("digest", {}), "digest")
    problems = _signed(digest, public_key)
    shard, index, event = proof.get("shard"), proof.get("index"), proof.get("event")
    if not isinstance(shard, int) or not isinstance(index, int) or not isinstance(event, str):
        raise ValidationError("proof", "needs shard and index (integers) and event (text)")
    state = digest.chain(shard)
    if state is None:
        return [*problems, f"the digest has no chain {shard}"]
    path = _hashes(proof.get("path"), "path")
    leaf = leaf_hash(event.encode())
    if not verify_inclusion(leaf, index, state.size, path, bytes.fromhex(state.root)):
        problems.append("the event is not in the digest's tree (event or path altered)")
    return problems


def _check_consistency(proof: dict[str, Any], public_key: str | None) -> list[str]:
    old, new = parse(proof.get("old", {}), "old"), parse(proof.get("new", {}), "new")
    problems = _signed(old, public_key) + _signed(new, public_key)
    if old.tenant != new.tenant:
        problems.append("the digests are of different tenants")
    chains = proof.get("chains")
    if not isinstance(chains, list):
        raise ValidationError("chains", "must be a list")
    proved = {}
    for n, entry in enumerate(chains):
        if not isinstance(entry, dict) or not isinstance(entry.get("shard"), int):
            raise ValidationError(f"chains.{n}", "needs a shard (integer) and a proof")
        proved[entry["shard"]] = _hashes(entry.get("proof"), f"chains.{n}.proof")
    for before in old.chains:
        after = new.chain(before.shard)
        if after is None or after.size < before.size:
            problems.append(f"chain {before.shard} is shorter in the newer digest")
            continue
        if not before.size:
            continue
        path = proved.get(before.shard)
        holds = path is not None and verify_consistency(
            before.size,
            after.size,
            bytes.fromhex(before.root),
            bytes.fromhex(after.root),
            path,
        )
        if not holds:
            problems.append(f"chain {before.shard}: the newer digest does not extend the older")
    return problems
