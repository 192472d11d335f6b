"""Reading a tenant's stored leaves in index order and checking each, as ``log verify`` does.

The leaves are read a range at a time as one string the database joins (``leaf_run``); a dense
range whose leaves are all flat objects of a known byte shape (``shapes.Shapes.vouch``: each
leaf matched whole by one regular expression, the ``index`` and ``type`` fields of the range
read out together) is checked without reading any leaf as JSON. Any other range is read as
rows and checked together (``bulk.objects``); a leaf the fast tests do not vouch for is
checked alone, the way that names what is wrong with it. ``scan`` checks the leaves from one
index on (up to an end, or to the last), stopping at the first broken one; ``recompute`` scans
them all and builds the tree of those that hold, a level at a time. The stored nodes of a
level are compared a range at a time as one string (``level_holds``).

Which leaves hold, and the first broken one, do not depend on where a scan starts: a scan
from leaf ``k`` after leaves ``0..k-1`` held finds what one scan from leaf 0 finds (the shapes
learned on the way only make it faster). ``services/log/fanout.py`` scans ranges side by side
on that ground.
"""

from __future__ import annotations

import json
from itertools import chain, repeat
from operator import itemgetter
from typing import cast

from tokenmall.domain.log import bulk, canonical, merkle, shapes
from tokenmall.services.log.ports import LogStore

Fields = dict[str, object]
NODE_BATCH = 50_000
LEAF_BATCH = 50_000


class Recomputed:
    """The tree of the leaves up to the first broken one, those leaves, and the problem.

    ``leaves`` is given when the scan kept them, else read from ``log`` when first asked (the
    state checks, a ledger day's leaf). ``nodes_checked``: the levels below it were already
    compared with the stored nodes (by the workers of a fan-out); ``nodes_hold``: whether they
    matched.
    """

    __slots__ = (
        "_fields",
        "_leaves",
        "_log",
        "nodes_checked",
        "nodes_hold",
        "problem",
        "tenant_id",
        "tree",
    )

    def __init__(
        self,
        tree: merkle.MemoryTree,
        leaves: list[bytes] | None,
        problem: str | None,
        *,
        log: LogStore | None = None,
        tenant_id: str = "",
        nodes_checked: int = 0,
        nodes_hold: bool = True,
    ) -> None:
        self.tree = tree
        self._leaves = leaves  # each leaf that holds, in index order (canonical JSON objects)
        self.problem = problem  # the first broken leaf, None if every stored leaf holds
        self._log = log
        self.tenant_id = tenant_id
        self.nodes_checked = nodes_checked
        self.nodes_hold = nodes_hold
        self._fields: list[Fields] | None = None

    @property
    def leaves(self) -> list[bytes]:
        """Each leaf that holds, in index order (read from the store when not kept)."""
        if self._leaves is None:
            assert self._log is not None
            size = self.tree.size
            rows = chain.from_iterable(self._log.leaf_batches(self.tenant_id, LEAF_BATCH))
            self._leaves = [leaf for index, _, leaf in rows if index < size]
        return self._leaves

    @property
    def kept(self) -> bool:
        """Whether the leaves are in memory (one process's scan), not to be read again."""
        return self._leaves is not None

    @property
    def fields(self) -> list[Fields]:
        """Each leaf's object, in index order (read when first asked: the state checks)."""
        if self._fields is None:
            self._fields = _objects(self.leaves)
        return self._fields

    def fields_at(self, index: int) -> Fields:
        if self._leaves is None and self._log is not None:
            found: Fields = json.loads(self._log.entries(self.tenant_id, index, index + 1)[0].leaf)
            return found
        held: Fields = json.loads(self.leaves[index])
        return held


def _objects(leaves: list[bytes]) -> list[Fields]:
    """The objects of leaves proved canonical JSON objects, read 1,000 at a time as one array
    (one call of the C scanner; each leaf is a whole object, so the i-th read is the i-th's)."""
    found: list[Fields] = []
    for start in range(0, len(leaves), bulk.CHUNK):
        found.extend(json.loads(b"[" + b",".join(leaves[start : start + bulk.CHUNK]) + b"]"))
    return found


def _leaf(
    tenant_id: str, expected: int, index: int, kind: str, leaf: bytes
) -> tuple[Fields | None, str | None]:
    """One leaf checked alone: its object, or what is wrong with it."""
    where = f"leaf {index}"
    if index != expected:
        return None, f"{where}: expected leaf {expected} (the log has a gap)"
    try:
        fields = json.loads(leaf.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, f"{where}: not JSON"
    if not isinstance(fields, dict):
        return None, f"{where}: not a JSON object"
    try:
        canonical_form = canonical.encode(fields) == leaf
    except canonical.NotCanonical:
        canonical_form = False
    if not canonical_form:
        return None, f"{where}: not canonical JSON (edited?)"
    if fields.get("index") != index or fields.get("tenant") != tenant_id:
        return None, f"{where}: its index or tenant field does not match its place"
    if fields.get("type") != kind:
        return None, f"{where}: its type field does not match the stored type"
    return fields, None


_INDEX = itemgetter(0)
_KIND = itemgetter(1)
_LEAF = itemgetter(2)
_SAYS = itemgetter("index", "tenant", "type")


def _batch_holds(
    tenant_id: str, first: int, rows: list[tuple[int, str, bytes]], found: list[Fields | None]
) -> bool:
    """Whether the batch's rows are leaves ``first``, ``first + 1``… and each one's object (as
    the fast test found it) names its index, the tenant and the stored type."""
    places = range(first, first + len(rows))
    try:
        said = list(map(_SAYS, cast(list[Fields], found)))  # a None or a field missing: no
    except (KeyError, TypeError):
        return False
    return list(map(_INDEX, rows)) == list(places) and said == list(
        zip(places, repeat(tenant_id), map(_KIND, rows), strict=False)
    )


def _vouched_run(
    log: LogStore, known: shapes.Shapes, tenant_id: str, first: int, batch: int
) -> list[bytes] | None:
    """Leaves ``first`` up to ``first + batch`` as the database joins them, when they are dense
    and their shapes vouch for them all (``shapes.Shapes.vouch``); None otherwise (the end of
    the log, a gap, a leaf of no known flat shape: the general checks read them)."""
    run = log.leaf_run(tenant_id, first, first + batch)
    if run.count == 0 or run.first != first or run.last != first + run.count - 1:
        return None
    leaves = run.leaves.split(b"\n")  # no canonical JSON holds a raw newline
    if len(leaves) != run.count:
        return None
    kind = run.low if run.low == run.high else None
    return leaves if known.vouch(first, leaves, run.leaves, run.kinds, kind) else None


def scan(
    log: LogStore,
    tenant_id: str,
    first: int,
    end: int | None,
    hashes: list[bytes],
    kept: list[bytes] | None,
    batch: int = LEAF_BATCH,
) -> tuple[int, str | None]:
    """Check the stored leaves from index ``first`` on, up to ``end`` (excluded; None: the
    last), in index order, stopping at the first broken one; the hash of each that holds is
    appended to ``hashes`` and the leaf to ``kept`` (unless None). The index after the last
    that holds, and the problem (None: every leaf read holds)."""
    known = shapes.Shapes(tenant_id)
    position = first
    while True:
        size = batch if end is None else min(batch, end - position)
        if size <= 0:
            return position, None
        vouched = _vouched_run(log, known, tenant_id, position, size)
        if vouched is not None:
            if kept is not None:
                kept.extend(vouched)
            hashes.extend(merkle.leaf_hashes(vouched))
            position += len(vouched)
            continue
        rows = next(log.leaf_batches(tenant_id, size, after=position - 1), None)
        if rows is not None and end is not None:
            rows = [row for row in rows if row[0] < end]
        if not rows:
            return position, None
        leaves = list(map(_LEAF, rows))
        found = bulk.objects(leaves)
        if _batch_holds(tenant_id, position, rows, found):
            if kept is not None:
                kept.extend(leaves)
            hashes.extend(merkle.leaf_hashes(leaves))
            position += len(leaves)
            continue
        problem = None
        held = 0
        for (index, kind, leaf), fields in zip(rows, found, strict=True):
            expected = position + held
            if (
                fields is None
                or index != expected
                or fields.get("index") != index
                or fields.get("tenant") != tenant_id
                or fields.get("type") != kind
            ):
                fields, problem = _leaf(tenant_id, expected, index, kind, leaf)
                if fields is None:
                    break
            held += 1
        if kept is not None:
            kept.extend(leaves[:held])
        hashes.extend(merkle.leaf_hashes(leaves[:held]))
        position += held
        if problem is not None:
            return position, problem


def recompute(log: LogStore, tenant_id: str, batch: int = LEAF_BATCH) -> Recomputed:
    """Every stored leaf checked, in index order, and the tree of those that hold."""
    hashes: list[bytes] = []
    kept: list[bytes] = []
    _, problem = scan(log, tenant_id, 0, None, hashes, kept, batch)
    return Recomputed(merkle.MemoryTree.of_leaf_hashes(hashes), kept, problem)


def level_holds(log: LogStore, tenant_id: str, level: int, first: int, nodes: list[bytes]) -> bool:
    """Whether the stored nodes ``(level, first)`` onwards are ``nodes``, one for one (read a
    batch at a time as one string; every stored one 32 bytes long)."""
    for start in range(0, len(nodes), NODE_BATCH):
        end = min(start + NODE_BATCH, len(nodes))
        joined, count, even = log.node_run(tenant_id, level, first + start, first + end)
        if not even or count != end - start or joined != b"".join(nodes[start:end]):
            return False
    return True
