"""The verifier's fast path (leaves vouched for by their byte shape, read a range at a time)
gives the reference tree's root, and still names the leaf that was tampered with.

The log is held in memory by ``MemoryLog`` (the few reads ``verify_tenant`` makes, over the
same shapes of rows the SQL adapter returns); the reference is the tree of the leaves appended
one by one (``MemoryTree.append``, the RFC 9162 recursion for the root).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tokenmall import bootstrap
from tokenmall.adapters.db.nfg.log import Head, LeafRun
from tokenmall.domain.log import merkle, shapes
from tokenmall.domain.log.leaves import Event, leaf_bytes
from tokenmall.services.log import leaf_scan, verify

TENANT = "t-shapes"
MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = bootstrap.log_config("a-test-secret-for-the-shape-tests", "test.tokenmall.example")


def _leaf(index: int, tenant: str = TENANT) -> bytes:
    kind = ("transfer", "mint", "list")[index % 3]
    fields: dict[str, object] = {"token": f"col_a/{index % 10}", "serial": index % 10}
    if kind == "transfer":
        fields.update({"from": "usr_a", "to": "用户乙"})  # UTF-8 in a flat string
    if index % 11 == 4:  # a nested value: not flat, left to the general check
        fields["rights"] = {"b": [1, 2], "a": None}
    return leaf_bytes(tenant, index, MOMENT, Event(kind, None, fields))


class MemoryLog:
    """The reads ``verify_tenant`` makes, over rows held in memory."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.rows = [(i, str(_kind(leaf)), leaf) for i, leaf in enumerate(leaves)]
        tree = merkle.MemoryTree()
        for leaf in leaves:
            tree.append(leaf)
        self.nodes = {
            (level, index): digest
            for level, row in enumerate(tree.levels)
            for index, digest in enumerate(row)
        }
        self.runs = 0

    def leaf_run(self, tenant_id: str, start: int, end: int) -> LeafRun:
        rows = [row for row in self.rows if start <= row[0] < end]
        self.runs += 1
        return LeafRun(
            b"\n".join(r[2] for r in rows),
            "\n".join(r[1] for r in rows),
            len(rows),
            min((r[1] for r in rows), default=None),
            max((r[1] for r in rows), default=None),
            rows[0][0] if rows else -1,
            rows[-1][0] if rows else -1,
        )

    def leaf_batches(
        self, tenant_id: str, batch: int = 50_000, after: int = -1
    ) -> Iterator[list[tuple[int, str, bytes]]]:
        rest = [row for row in self.rows if row[0] > after]
        for start in range(0, len(rest), batch):
            yield rest[start : start + batch]

    def peek(self, tenant_id: str) -> Head:
        return Head(len(self.rows), 0, MOMENT)

    def checkpoints(self, tenant_id: str) -> list[object]:
        return []

    def logged_days(self, tenant_id: str) -> list[object]:
        return []

    def node_run(self, tenant_id: str, level: int, start: int, end: int) -> tuple[bytes, int, bool]:
        found = [self.nodes[(level, i)] for i in range(start, end) if (level, i) in self.nodes]
        return b"".join(found), len(found), all(len(n) == 32 for n in found)

    def node_count(self, tenant_id: str) -> int:
        return len(self.nodes)

    def each_node(self, tenant_id: str) -> Iterator[tuple[int, int, bytes]]:
        for (level, index), digest in sorted(self.nodes.items()):
            yield level, index, digest

    def key(self, tenant_id: str) -> None:
        return None


def _kind(leaf: bytes) -> str:
    return leaf.split(b'"type":"')[1].split(b'"')[0].decode()


def _reference_root(leaves: list[bytes]) -> bytes:
    tree = merkle.MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000, 1025])
@pytest.mark.parametrize("batch", [4, 50_000])
def test_the_fast_path_gives_the_reference_root(size: int, batch: int) -> None:
    leaves = [_leaf(i) for i in range(size)]
    log = MemoryLog(leaves)
    done = verify.recompute(log, TENANT, batch=batch)  # type: ignore[arg-type]
    assert done.problem is None
    assert done.tree.size == size
    assert done.tree.root() == _reference_root(leaves)
    assert done.leaves == leaves
    assert [f["index"] for f in done.fields] == list(range(size))
    verdict = verify.verify_tenant(log, CONFIG, TENANT)  # type: ignore[arg-type]
    assert verdict.problem is None
    assert verdict.size == size


def test_flat_runs_are_vouched_for_by_their_shapes() -> None:
    flat = [leaf_bytes(TENANT, i, MOMENT, Event("transfer", None, {"n": i})) for i in range(40)]
    known = shapes.Shapes(TENANT)
    joined = b"\n".join(flat)
    assert known.vouch(0, flat, joined, "\n".join(["transfer"] * 40), "transfer")
    assert known.vouch(0, flat, joined, "\n".join(["transfer"] * 40), None)
    assert known.known == [("index", "n", "tenant", "time", "type")]
    assert not known.vouch(1, flat, joined, "\n".join(["transfer"] * 40), "transfer")
    assert not known.vouch(0, flat, joined, "\n".join(["mint"] * 40), "mint")
    kinds = "\n".join(["transfer"] * 39 + ["mint"])
    assert not known.vouch(0, flat, joined, kinds, None)


@pytest.mark.parametrize(
    "leaf",
    [
        b'{"index":0,"n":1,"tenant":"t-shapes","time":"x","type":"transfer"}',  # the reference
        b'{"index":0,"n":1,"tenant":"t-shapes","time":"x","type":"transfer"} ',
        b'{"index":0,"n":01,"tenant":"t-shapes","time":"x","type":"transfer"}',
        b'{"index":0,"n":-0,"tenant":"t-shapes","time":"x","type":"transfer"}',
        b'{"index":0,"n":1.0,"tenant":"t-shapes","time":"x","type":"transfer"}',
        b'{"index":0,"n":9007199254740993,"tenant":"t-shapes","time":"x","type":"transfer"}',
        b'{"index":0,"n":"a\\u0041","tenant":"t-shapes","time":"x","type":"transfer"}',
        b'{"index":0,"n":"\xff","tenant":"t-shapes","time":"x","type":"transfer"}',
        b'{"index":0,"n":1,"tenant":"t-other","time":"x","type":"transfer"}',
        b'{"n":1,"index":0,"tenant":"t-shapes","time":"x","type":"transfer"}',
        b'{"index":0,"n":1,"n":2,"tenant":"t-shapes","time":"x","type":"transfer"}',
        b'{"index":0, "n":1,"tenant":"t-shapes","time":"x","type":"transfer"}',
    ],
)
def test_a_shape_vouches_only_for_canonical_leaves(leaf: bytes) -> None:
    known = shapes.Shapes(TENANT)
    assert known.learn_leaf(b'{"index":0,"n":1,"tenant":"t-shapes","time":"x","type":"transfer"}')
    canonical_form = leaf == b'{"index":0,"n":1,"tenant":"t-shapes","time":"x","type":"transfer"}'
    assert known.vouch(0, [leaf], leaf, "transfer", "transfer") is canonical_form


def _tamper(leaves: list[bytes], index: int, old: bytes, new: bytes) -> MemoryLog:
    log = MemoryLog(leaves)  # nodes as appended: the tampering comes after
    i, kind, leaf = log.rows[index]
    assert old in leaf
    log.rows[index] = (i, kind, leaf.replace(old, new, 1))
    return log


@pytest.mark.parametrize("batch", [4, 50_000])
@pytest.mark.parametrize(
    ("old", "new", "wanted"),
    [
        (b'"serial":', b'"serial": ', "not canonical JSON"),
        (b"col_a/", b"col_b/", "its bytes no longer hash to the hash stored"),
        (b'"tenant":"t-shapes"', b'"tenant":"t-other"', "its index or tenant field"),
    ],
)
def test_a_tampered_leaf_is_named(batch: int, old: bytes, new: bytes, wanted: str) -> None:
    leaves = [_leaf(i) for i in range(1003)]
    for index in (0, 5, 517, 1002):
        log = _tamper(leaves, index, old, new)
        verdict = verify.verify_tenant(log, CONFIG, TENANT)  # type: ignore[arg-type]
        assert verdict.problem is not None
        assert verdict.problem.startswith(f"leaf {index}: "), verdict.problem
        assert wanted in verdict.problem, verdict.problem
        assert verify.recompute(log, TENANT, batch=batch).tree.size in (index, 1003)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000])
def test_a_flat_log_is_read_by_the_fast_path_alone(size: int) -> None:
    leaves = [
        leaf_bytes(TENANT, i, MOMENT, Event("transfer", None, {"token": f"col_a/{i}"}))
        for i in range(size)
    ]
    log = MemoryLog(leaves)
    vouched = leaf_scan._vouched_run(log, shapes.Shapes(TENANT), TENANT, 0, 50_000)  # type: ignore[arg-type]
    assert vouched == leaves
    assert verify.recompute(log, TENANT).tree.root() == _reference_root(leaves)  # type: ignore[arg-type]
