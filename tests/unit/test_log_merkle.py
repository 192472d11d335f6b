"""The log's Merkle tree against RFC 9162 and against pymerkle, an independent implementation."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from tokenmall.domain.log import merkle
from tokenmall.domain.log.merkle import MemoryTree, ProofError


def _trees(n: int, seed: int) -> tuple[list[bytes], MemoryTree, InmemoryTree]:
    rng = random.Random(seed)
    leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(n)]
    mine, oracle = MemoryTree(), InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        mine.append(leaf)
        oracle.append_entry(leaf)
    return leaves, mine, oracle


def test_the_empty_tree_and_one_leaf_hash_as_the_rfc_says() -> None:
    assert MemoryTree().root() == hashlib.sha256(b"").digest()
    tree = MemoryTree()
    tree.append(b"a")
    assert tree.root() == hashlib.sha256(b"\x00a").digest()
    tree.append(b"b")
    left, right = hashlib.sha256(b"\x00a").digest(), hashlib.sha256(b"\x00b").digest()
    assert tree.root() == hashlib.sha256(b"\x01" + left + right).digest()


def test_roots_and_inclusion_proofs_equal_pymerkle_for_every_size_up_to_64() -> None:
    leaves, mine, oracle = _trees(64, 1)
    for size in range(1, 65):
        assert mine.root(size) == oracle.get_root(size)
        for index in range(size):
            # pymerkle's path starts with the leaf's own hash, then RFC 9162's path.
            theirs = [
                bytes.fromhex(h)
                for h in oracle.prove_inclusion(index + 1, size).serialize()["path"]
            ]
            assert mine.inclusion_proof(index, size) == theirs[1:]
            assert theirs[0] == merkle.leaf_hash(leaves[index])


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 1000), seed=st.integers(0, 2**32))
def test_roots_equal_pymerkle_and_every_index_proves_at_random_sizes(size: int, seed: int) -> None:
    leaves, mine, oracle = _trees(size, seed)
    root = mine.root()
    assert root == oracle.get_root(size)
    for index in range(size):
        proof = mine.inclusion_proof(index)
        merkle.verify_inclusion(index, size, merkle.leaf_hash(leaves[index]), proof, root)
        assert len(proof) <= (size - 1).bit_length()


@settings(max_examples=25, deadline=None)
@given(second=st.integers(1, 1000), seed=st.integers(0, 2**32), data=st.data())
def test_consistency_proofs_between_any_two_sizes(
    second: int, seed: int, data: st.DataObject
) -> None:
    _, mine, oracle = _trees(second, seed)
    for first in data.draw(st.lists(st.integers(0, second), min_size=1, max_size=20)):
        proof = mine.consistency_proof(first, second)
        first_root = mine.root(first)
        merkle.verify_consistency(first, second, first_root, mine.root(second), proof)
        if 0 < first < second:
            assert oracle.get_root(first) == first_root
            oracle.prove_consistency(first, second).verify(first_root, mine.root(second))


def test_every_pair_of_sizes_up_to_40_is_consistent_and_wrong_roots_are_refused() -> None:
    _, mine, _ = _trees(40, 7)
    for second in range(1, 41):
        for first in range(0, second + 1):
            proof = mine.consistency_proof(first, second)
            merkle.verify_consistency(first, second, mine.root(first), mine.root(second), proof)
            if 0 < first < second:
                with pytest.raises(ProofError):
                    merkle.verify_consistency(
                        first,
                        second,
                        mine.root(first - 1) if first > 1 else b"x" * 32,
                        mine.root(second),
                        proof,
                    )


def test_a_changed_leaf_byte_a_wrong_index_or_a_changed_hash_fails_the_proof() -> None:
    leaves, mine, _ = _trees(100, 3)
    root = mine.root()
    for index in (0, 1, 37, 63, 64, 99):
        proof = mine.inclusion_proof(index)
        changed = bytearray(leaves[index] or b"\x00")
        changed[0] ^= 1
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, 100, merkle.leaf_hash(bytes(changed)), proof, root)
        with pytest.raises(ProofError):
            merkle.verify_inclusion(
                (index + 1) % 100, 100, merkle.leaf_hash(leaves[index]), proof, root
            )
        for k in range(len(proof)):
            bad = list(proof)
            bad[k] = bytes(32)
            with pytest.raises(ProofError):
                merkle.verify_inclusion(index, 100, merkle.leaf_hash(leaves[index]), bad, root)
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, 100, merkle.leaf_hash(leaves[index]), proof[:-1], root)


def test_nodes_completed_by_an_append_are_the_stored_ones() -> None:
    tree = MemoryTree()
    stored: dict[tuple[int, int], bytes] = {}
    for i in range(300):
        leaf = merkle.leaf_hash(i.to_bytes(4, "big"))
        for level, index, digest in merkle.completed_nodes(
            i, leaf, lambda lv, ix: stored[(lv, ix)]
        ):
            stored[(level, index)] = digest
        tree.append_hash(leaf)
        assert merkle.root(i + 1, lambda lv, ix: stored[(lv, ix)]) == tree.root()
    assert len(stored) == sum(len(level) for level in tree.levels)


def test_proofs_of_a_million_leaf_tree_have_at_most_20_hashes() -> None:
    assert (
        merkle.inclusion_proof(999_999, 1_000_000, lambda level, index: b"\x00" * 32).__len__()
        <= 20
    )
    with pytest.raises(ProofError):
        merkle.inclusion_proof(5, 5, lambda level, index: b"")
