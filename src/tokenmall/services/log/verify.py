"""Verifying a tenant's log from what is stored, as ``tokenmall log verify`` does.

In order, stopping at the first thing broken: every leaf (dense indexes, its ``index`` and
``tenant`` fields, valid canonical JSON), the tree recomputed from the leaves against every
stored node and the head's size, every checkpoint (origin, signature under the tenant's key,
root against the recomputed tree), every logged ledger day (its digest recomputed from the
journals, and the leaf's digest), then the state checks the caller adds (the NFG registry's
tokens and collections against the replay of the log).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tokenmall.adapters.db.nfg.log import StoredLeaf
from tokenmall.domain.log import canonical, merkle, note
from tokenmall.domain.log.leaves import LEDGER_DAY, day_digest
from tokenmall.services.log.checkpoints import LogConfig, verifier_key
from tokenmall.services.log.ports import LogStore

StateCheck = Callable[[str, Sequence[tuple[StoredLeaf, dict[str, object]]]], str | None]


@dataclass(frozen=True, slots=True)
class Verdict:
    tenant_id: str
    size: int
    checkpoints: int
    days: int
    problem: str | None  # the first thing broken, None if all holds


def _leaves(
    log: LogStore, tenant_id: str, tree: merkle.MemoryTree
) -> tuple[list[tuple[StoredLeaf, dict[str, object]]], str | None]:
    parsed: list[tuple[StoredLeaf, dict[str, object]]] = []
    for leaf in log.each_leaf(tenant_id):
        where = f"leaf {leaf.index}"
        if leaf.index != tree.size:
            return parsed, f"{where}: expected leaf {tree.size} (the log has a gap)"
        try:
            fields = json.loads(leaf.leaf.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return parsed, f"{where}: not JSON"
        if not isinstance(fields, dict):
            return parsed, f"{where}: not a JSON object"
        if canonical.encode(fields) != leaf.leaf:
            return parsed, f"{where}: not canonical JSON (edited?)"
        if fields.get("index") != leaf.index or fields.get("tenant") != tenant_id:
            return parsed, f"{where}: its index or tenant field does not match its place"
        if fields.get("type") != leaf.type:
            return parsed, f"{where}: its type field does not match the stored type"
        tree.append(leaf.leaf)
        parsed.append((leaf, fields))
    return parsed, None


def verify_tenant(
    log: LogStore, config: LogConfig, tenant_id: str, checks: Sequence[StateCheck] = ()
) -> Verdict:
    tree = merkle.MemoryTree()
    parsed, problem = _leaves(log, tenant_id, tree)
    head = log.peek(tenant_id)
    checkpoints = log.checkpoints(tenant_id)
    days = log.logged_days(tenant_id)

    def verdict(found: str | None) -> Verdict:
        return Verdict(tenant_id, tree.size, len(checkpoints), len(days), found)

    if problem:
        return verdict(problem)
    if head is None or head.size != tree.size:
        return verdict(f"the head says {head.size if head else 0} leaves, {tree.size} stored")
    for level, index, stored in log.each_node(tenant_id):
        if level >= len(tree.levels) or index >= len(tree.levels[level]):
            return verdict(f"node ({level}, {index}) is stored but no leaf makes it")
        if tree.levels[level][index] != stored and level == 0:
            return verdict(
                f"leaf {index}: its bytes no longer hash to the hash stored when it was appended "
                "(the leaf or its hash was edited)"
            )
        if tree.levels[level][index] != stored:
            first = index << level
            return verdict(
                f"node ({level}, {index}) over leaves {first}..{first + (1 << level) - 1} "
                "does not match the leaves (a leaf or the node was edited)"
            )
    if sum(len(level) for level in tree.levels) != sum(1 for _ in log.each_node(tenant_id)):
        return verdict("nodes are missing from the store")
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
    by_index = {leaf.index: fields for leaf, fields in parsed}
    for day in days:
        where = f"ledger day {day.day.isoformat()}"
        fields = by_index.get(day.leaf_index)
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
    for check in checks:
        found = check(tenant_id, parsed)
        if found:
            return verdict(found)
    return verdict(None)
