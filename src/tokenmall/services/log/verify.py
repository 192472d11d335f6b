"""Verifying a tenant's log from what is stored, as ``tokenmall log verify`` does.

In order, stopping at the first thing broken: every leaf (dense indexes, its ``index`` and
``tenant`` fields, valid canonical JSON), the tree recomputed from the leaves against every
stored node and the head's size, every checkpoint (origin, signature under the tenant's key,
root against the recomputed tree), every logged ledger day (its digest recomputed from the
journals, and the leaf's digest), that every ledger day leaf is recorded as a logged day, then
the state checks the caller adds (the NFG registry's tokens and collections against the replay
of the log).

The leaves are read and checked by ``leaf_scan`` (in one process, or a range per worker process
for a large log: ``fanout``); the stored nodes are compared a level at a time with the
recomputed tree, a range at a time as one string, and only when they differ are they read
again one by one, to name the first that does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tokenmall.domain.log import bulk, merkle, note
from tokenmall.domain.log.leaves import LEDGER_DAY, day_digest
from tokenmall.services.log.checkpoints import LogConfig, verifier_key
from tokenmall.services.log.fanout import Fanout
from tokenmall.services.log.leaf_scan import Fields, Recomputed, level_holds, recompute
from tokenmall.services.log.ports import LogStore

__all__ = ["Fields", "Recomputed", "StateCheck", "Verdict", "recompute", "verify_tenant"]

# A check beyond the log: the tenant and its leaves as ``(index, fields)`` in index order;
# what is broken, or None.
StateCheck = Callable[[str, Sequence[tuple[int, Fields]]], str | None]


@dataclass(frozen=True, slots=True)
class Verdict:
    tenant_id: str
    size: int
    checkpoints: int
    days: int
    problem: str | None  # the first thing broken, None if all holds


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


def _broken_node(log: LogStore, tenant_id: str, done: Recomputed) -> str | None:
    """The stored nodes against the tree, a batch of one level at a time (those below
    ``done.nodes_checked`` already compared by the fan-out's workers), and their count."""
    tree = done.tree
    if not done.nodes_hold:
        return _first_broken_node(log, tenant_id, tree)
    for level in range(done.nodes_checked, len(tree.levels)):
        if not level_holds(log, tenant_id, level, 0, tree.levels[level]):
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
    log: LogStore,
    config: LogConfig,
    tenant_id: str,
    checks: Sequence[StateCheck] = (),
    fanout: Fanout | None = None,
) -> Verdict:
    """The first thing broken in the tenant's log, in the order the module says; ``fanout``
    checks a large log's leaves (and their nodes) in worker processes, with the same verdict."""
    done = (fanout.recompute(log, tenant_id) if fanout is not None else None) or recompute(
        log, tenant_id
    )
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
    broken = _broken_node(log, tenant_id, done)
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
    # Every leaf's stored type was checked against its own field above, so the store's types
    # find the day leaves when the leaves were checked in worker processes (not kept here).
    day_leaves = (
        _day_leaves(done.leaves)
        if done.kept
        else log.indexes_of_type(tenant_id, LEDGER_DAY, tree.size)
    )
    for index in day_leaves:
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
