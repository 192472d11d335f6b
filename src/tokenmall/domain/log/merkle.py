"""The Merkle tree of a transparency log, exactly as RFC 9162 §2.1 defines it.

Hashes are SHA-256; a leaf's hash is ``H(0x00 || leaf)``, a node's ``H(0x01 || left || right)``;
the tree hash of ``n`` leaves splits them at the largest power of two below ``n``.

The tree is stored as its *perfect nodes*: the hash of every aligned run of ``2**level`` leaves
that is complete (``(level, index)`` covers leaves ``index * 2**level`` up to the next). Leaves
are level 0. Appending leaf ``i`` completes one node per trailing one-bit of ``i`` (one more node
per leaf on average), and every subtree hash RFC 9162 asks for — roots of any size, inclusion
and consistency proofs — is a fold of at most ``2 * log2(n)`` stored nodes. The functions here
take the store as a ``node(level, index)`` callable, so the same code runs over a list in
memory (``MemoryTree``) or rows in a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

NodeGetter = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not lead to the root it claims, or asked of sizes that do not exist."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    """``leaf_hash`` of each leaf, in order."""
    sha256 = hashlib.sha256
    return [sha256(b"\x00" + leaf).digest() for leaf in leaves]


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def completed_nodes(index: int, leaf: bytes, node: NodeGetter) -> list[tuple[int, int, bytes]]:
    """The perfect nodes that appending leaf hash ``leaf`` at ``index`` completes, level 0 first.

    ``node`` must answer the nodes already stored (the left siblings of the new ones).
    """
    made = [(0, index, leaf)]
    level, position, current = 0, index, leaf
    while position & 1:
        current = node_hash(node(level, position - 1), current)
        level += 1
        position >>= 1
        made.append((level, position, current))
    return made


def subtree_hash(start: int, end: int, node: NodeGetter) -> bytes:
    """MTH(D[start:end]) for a range RFC 9162's recursion produces (``start`` aligned)."""
    size = end - start
    if size <= 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        return node(size.bit_length() - 1, start // size)
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def root(size: int, node: NodeGetter) -> bytes:
    """The tree hash of the first ``size`` leaves."""
    return subtree_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeGetter) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, node))
            start += k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, node: NodeGetter) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end, complete = 0, second, True
    m = first
    while True:
        size = end - start
        if m == size:
            if not complete:
                proof.append(subtree_hash(start, end, node))
            break
        k = _split(size)
        if m <= k:
            proof.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, node))
            start += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from leaf hash ``leaf`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Raise ``ProofError`` unless ``proof`` leads from ``leaf`` to ``expected_root``."""
    if root_from_inclusion(index, size, leaf, proof) != expected_root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ``ProofError`` unless ``proof`` shows the tree of ``first`` leaves is a prefix
    of the tree of ``second`` leaves (RFC 9162 §2.1.4.2)."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first == second:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError("equal sizes with different roots")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != first_root or sr != second_root:
        raise ProofError("the consistency proof does not lead to both roots")


class MemoryTree:
    """A tree kept in lists, one per level (benchmarks, replays, the verifier's recomputation)."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @classmethod
    def of_leaf_hashes(cls, leaves: list[bytes]) -> MemoryTree:
        """The tree of these leaf hashes (the list is kept as its bottom level), built a level
        at a time: each level's nodes are the hashes of the pairs below, ``n - 1`` in all."""
        return cls.of_lower_levels([leaves])

    @classmethod
    def of_lower_levels(cls, levels: list[list[bytes]]) -> MemoryTree:
        """The tree whose lowest levels are ``levels`` (each one every perfect node of its
        level, leaves first; the lists are kept), the levels above built from the top one."""
        tree = cls()
        tree.levels = list(levels)
        sha256 = hashlib.sha256
        level = levels[-1]
        while len(level) > 1:
            pairs = iter(level)  # an odd last node waits for a sibling not yet appended
            level = [
                sha256(b"\x01" + left + right).digest()
                for left, right in zip(pairs, pairs, strict=False)
            ]
            tree.levels.append(level)
        return tree

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def append_hash(self, leaf: bytes) -> int:
        """Append a leaf hash; its index."""
        index = len(self.levels[0])
        levels = self.levels
        levels[0].append(leaf)
        level, position, current = 0, index, leaf
        while position & 1:
            current = node_hash(levels[level][position - 1], current)
            level += 1
            position >>= 1
            if level == len(levels):
                levels.append([])
            levels[level].append(current)
        return index

    def append(self, leaf: bytes) -> int:
        return self.append_hash(leaf_hash(leaf))

    def append_many(self, leaves: Iterable[bytes]) -> int:
        """Append leaves (their bytes) in order, as ``append`` does one; the new size."""
        levels = self.levels
        bottom = levels[0]
        sha256 = hashlib.sha256
        for leaf in leaves:
            current = sha256(b"\x00" + leaf).digest()
            position = len(bottom)
            bottom.append(current)
            level = 0
            while position & 1:
                current = sha256(b"\x01" + levels[level][position - 1] + current).digest()
                level += 1
                position >>= 1
                if level == len(levels):
                    levels.append([])
                levels[level].append(current)
        return len(bottom)

    def root(self, size: int | None = None) -> bytes:
        return root(self.size if size is None else size, self.node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else size, self.node)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, self.size if second is None else second, self.node)
