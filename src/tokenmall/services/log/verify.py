"""Verifying a tenant's log from what is stored, as ``tokenmall log verify`` does.

In order, stopping at the first thing broken: every leaf (dense indexes, its ``index`` and
``tenant`` fields, valid canonical JSON), the tree recomputed from the leaves against every
stored node and the head's size, every checkpoint (origin, signature under the tenant's key,
root against the recomputed tree), every logged ledger day (its digest recomputed from the
journals, and the leaf's digest), that every ledger day leaf is recorded as a logged day, then
the state checks the caller adds (the NFG registry's tokens and collections against the replay
of the log).

The leaves are read a range at a time as one string the database joins (``leaf_run``); a dense
range whose leaves are all flat objects of a known byte shape (``shapes.Shapes.vouch``: each
leaf matched whole by one regular expression, the ``index`` and ``type`` fields of the range
read out together) is checked without reading any leaf as JSON. Any other range is read as
rows and checked together (``bulk.objects``); a leaf the fast tests do not vouch for is
checked alone, the way that names what is wrong with it. The leaves' objects are read only
when asked (the state checks, a ledger day's leaf). The tree is built a level at a time from
the leaf hashes, and the stored nodes are compared a range at a time as one string; only
when they differ are they read again one by one, to name the first that does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import cast

from tokenmall.domain.log import bulk, canonical, merkle, note, shapes
from tokenmall.domain.log.leaves import LEDGER_DAY, day_digest
from tokenmall.services.log.checkpoints import LogConfig, verifier_key
from tokenmall.services.log.ports import LogStore

Fields = dict[str, object]
# A check beyond the log: the tenant and its leaves as ``(index, fields)`` in index order;
# what is broken, or None.
StateCheck = Callable[[str, Sequence[tuple[int, Fields]]], str | None]
NODE_BATCH = 50_000
LEAF_BATCH = 50_000


@dataclass(frozen=True, slots=True)
class Verdict:
    tenant_id: str
    size: int
    checkpoints: int
    days: int
    problem: str | None  # the first thing broken, None if all holds


class Recomputed:
    """The tree of the leaves up to the first broken one, those leaves, and the problem."""

    __slots__ = ("_fields", "leaves", "problem", "tree")

    def __init__(self, tree: merkle.MemoryTree, leaves: list[bytes], problem: str | None) -> None:
        self.tree = tree
        self.leaves = leaves  # each leaf that holds, in index order (canonical JSON objects)
        self.problem = problem  # the first broken leaf, None if every stored leaf holds
        self._fields: list[Fields] | None = None

    @property
    def fields(self) -> list[Fields]:
        """Each leaf's object, in index order (read when first asked: the state checks)."""
        if self._fields is None:
            self._fields = _objects(self.leaves)
        return self._fields

    def fields_at(self, index: int) -> Fields:
        found: Fields = json.loads(self.leaves[index])
        return found


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


def recompute(log: LogStore, tenant_id: str, batch: int = LEAF_BATCH) -> Recomputed:
    """Every stored leaf checked, in index order, and the tree of those that hold."""
    hashes: list[bytes] = []
    kept: list[bytes] = []
    known = shapes.Shapes(tenant_id)
    while True:
        vouched = _vouched_run(log, known, tenant_id, len(kept), batch)
        if vouched is not None:
            kept.extend(vouched)
            hashes.extend(merkle.leaf_hashes(vouched))
            continue
        rows = next(log.leaf_batches(tenant_id, batch, after=len(kept) - 1), None)
        if rows is None:
            return Recomputed(merkle.MemoryTree.of_leaf_hashes(hashes), kept, None)
        leaves = list(map(_LEAF, rows))
        first = len(kept)
        found = bulk.objects(leaves)
        if _batch_holds(tenant_id, first, rows, found):
            kept.extend(leaves)
            hashes.extend(merkle.leaf_hashes(leaves))
            continue
        problem = None
        for (index, kind, leaf), fields in zip(rows, found, strict=True):
            expected = len(kept)
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
            kept.append(leaf)
        hashes.extend(merkle.leaf_hashes(leaves[: len(kept) - first]))
        if problem is not None:
            return Recomputed(merkle.MemoryTree.of_leaf_hashes(hashes), kept, problem)


def _first_broken_node(log: LogStore, tenant_id: str, tree: merkle.MemoryTree) -> str | None:
    """Every stored node read one by one against the tree: the first that does not match."""
    stored_nodes = 0
    for level, index, stored in log.each_node(tenant_id):
        stored_nodes += 1
        if level >= len(tree.levels) or index >= len(tree.levels[level]):
            return f"node ({level}, {index}) is stored but no leaf makes it"
        if tree.levels[level][index] != stored and level == 0:
            return (
                f"leaf {index}: its bytes no longer hash to the hash stored when it was appended "
                "(the leaf or its hash was edited)"
            )
        if tree.levels[level][index] != stored:
            first = index << level
            return (
                f"node ({level}, {index}) over leaves {first}..{first + (1 << level) - 1} "
                "does not match the leaves (a leaf or the node was edited)"
            )
    if sum(len(level) for level in tree.levels) != stored_nodes:
        return "nodes are missing from the store"
    return None


def _broken_node(log: LogStore, tenant_id: str, tree: merkle.MemoryTree) -> str | None:
    """The stored nodes against the tree, a batch of one level at a time, and their count."""
    for level, nodes in enumerate(tree.levels):
        for start in range(0, len(nodes), NODE_BATCH):
            end = min(start + NODE_BATCH, len(nodes))
            joined, count, even = log.node_run(tenant_id, level, start, end)
            if not even or count != end - start or joined != b"".join(nodes[start:end]):
                return _first_broken_node(log, tenant_id, tree)
    if log.node_count(tenant_id) != sum(len(level) for level in tree.levels):
        return _first_broken_node(log, tenant_id, tree)
    return None


_DAY_MARK = b'"type":"%s"' % LEDGER_DAY.encode()


def _day_leaves(leaves: list[bytes]) -> list[int]:
    """The indexes of the ledger day leaves among leaves proved canonical JSON objects: the
    mark found as bytes (a quote inside a string is escaped, so only a key can make it), then
    the object's own ``type`` read."""
    found = []
    for start in range(0, len(leaves), bulk.CHUNK):
        chunk = leaves[start : start + bulk.CHUNK]
        if _DAY_MARK not in b"\n".join(chunk):  # most chunks: one search in C
            continue
        for index, leaf in enumerate(chunk, start):
            if _DAY_MARK in leaf and json.loads(leaf).get("type") == LEDGER_DAY:
                found.append(index)
    return found


def verify_tenant(
    log: LogStore, config: LogConfig, tenant_id: str, checks: Sequence[StateCheck] = ()
) -> Verdict:
    done = recompute(log, tenant_id)
    tree = done.tree
    head = log.peek(tenant_id)
    checkpoints = log.checkpoints(tenant_id)
    days = log.logged_days(tenant_id)

    def verdict(found: str | None) -> Verdict:
        return Verdict(tenant_id, tree.size, len(checkpoints), len(days), found)

    if done.problem:
        return verdict(done.problem)
    if head is None or head.size != tree.size:
        return verdict(f"the head says {head.size if head else 0} leaves, {tree.size} stored")
    broken = _broken_node(log, tenant_id, tree)
    if broken:
        return verdict(broken)
    key = log.key(tenant_id)
    for checkpoint in checkpoints:
        where = f"checkpoint at size {checkpoint.size}"
        if key is None:
            return verdict(f"{where}: the tenant has no key to check it with")
        try:
            opened = note.open_note(checkpoint.note, verifier_key(key), config.signer.verify)
        except note.NoteError as error:
            return verdict(f"{where}: {error}")
        if opened.origin != key.name:
            return verdict(f"{where}: origin {opened.origin!r} is not the log's {key.name!r}")
        if opened.size != checkpoint.size or opened.root != checkpoint.root:
            return verdict(f"{where}: the signed note does not match the stored size and root")
        if checkpoint.size > tree.size or tree.root(checkpoint.size) != opened.root:
            return verdict(f"{where}: its root is not the root of the stored leaves")
    for day in days:
        where = f"ledger day {day.day.isoformat()}"
        fields = done.fields_at(day.leaf_index) if 0 <= day.leaf_index < tree.size else None
        if fields is None or fields.get("type") != LEDGER_DAY:
            return verdict(f"{where}: leaf {day.leaf_index} is not its day leaf")
        if day.first_journal_id is None or day.last_journal_id is None:
            continue
        digest = day_digest(
            log.journals_between(tenant_id, day.first_journal_id, day.last_journal_id)
        )
        if digest.digest != day.digest or fields.get("digest") != digest.digest.hex():
            return verdict(
                f"{where}: journals {day.first_journal_id}..{day.last_journal_id} no longer "
                "match the logged digest (a past journal was edited)"
            )
        if digest.journals != day.journals:
            return verdict(f"{where}: {digest.journals} journals, {day.journals} logged")
    recorded = {day.leaf_index for day in days}
    for index in _day_leaves(done.leaves):
        if index not in recorded:
            return verdict(
                f"leaf {index}: a ledger day leaf whose day is not recorded as logged "
                "(its record was removed: its journals go unchecked, the day would be logged again)"
            )
    leaves = list(enumerate(done.fields)) if checks else []
    for check in checks:
        found = check(tenant_id, leaves)
        if found:
            return verdict(found)
    return verdict(None)
