"""Merkle trees as RFC 6962 hashes them: roots, inclusion and consistency proofs."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from carevault.audit.merkle import (
    EMPTY,
    Frontier,
    consistency_proof,
    inclusion_path,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"event {i}".encode()) for i in range(n)]


def test_hashing_is_rfc_6962s_with_domain_separation() -> None:
    # written out by hand from RFC 6962 section 2.1, not from the module's own code
    a, b, c = (hashlib.sha256(b"\x00" + x).digest() for x in (b"a", b"b", b"c"))
    ab = hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash(b"a") == a
    assert root([a]) == a
    assert root([a, b]) == ab
    # three leaves split at two: (a b) c, not a (b c)
    assert root([a, b, c]) == hashlib.sha256(b"\x01" + ab + c).digest()
    assert root([]) == EMPTY == hashlib.sha256(b"").digest()
    assert leaf_hash(ab[:0] + b"\x01" + a + b) != ab  # a leaf can never pass for a node


@given(st.integers(0, 300))
def test_the_frontier_gives_the_root_of_every_prefix(n: int) -> None:
    all_leaves, tree = leaves(n), Frontier()
    for i, leaf in enumerate(all_leaves):
        tree.append(leaf)
        assert tree.root() == root(all_leaves[: i + 1])
    assert Frontier.packed(n, tree.pack()).root() == root(all_leaves)


@given(st.integers(1, 200), st.data())
def test_inclusion_proofs_hold_and_fail_when_anything_is_altered(
    n: int, data: st.DataObject
) -> None:
    all_leaves = leaves(n)
    head = root(all_leaves)
    i = data.draw(st.integers(0, n - 1))
    path = inclusion_path(all_leaves, i)
    assert verify_inclusion(all_leaves[i], i, n, path, head)
    assert not verify_inclusion(leaf_hash(b"forged"), i, n, path, head)
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda j: j != i))
        assert not verify_inclusion(all_leaves[i], other, n, path, head)
    if path:
        k = data.draw(st.integers(0, len(path) - 1))
        bent = [*path[:k], node_hash(path[k], path[k]), *path[k + 1 :]]
        assert not verify_inclusion(all_leaves[i], i, n, bent, head)
        assert not verify_inclusion(all_leaves[i], i, n, path[:-1], head)


@given(st.integers(1, 200), st.data())
def test_consistency_proofs_hold_and_fail_when_a_digest_is_altered(
    n: int, data: st.DataObject
) -> None:
    all_leaves = leaves(n)
    m = data.draw(st.integers(1, n))
    proof = consistency_proof(all_leaves, m)
    old, new = root(all_leaves[:m]), root(all_leaves)
    assert verify_consistency(m, n, old, new, proof)
    assert not verify_consistency(m, n, node_hash(old, old), new, proof)
    assert not verify_consistency(m, n, old, node_hash(new, new), proof)
    # a history rewritten before the old size cannot be proved consistent
    rewritten = [leaf_hash(b"rewritten"), *all_leaves[1:]]
    if m < n:
        assert not verify_consistency(m, n, old, root(rewritten), consistency_proof(rewritten, m))
        assert not verify_consistency(m, n, old, new, [])
