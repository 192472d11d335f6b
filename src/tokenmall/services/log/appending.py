"""Appending events to a tenant's log, in the transaction of the change they record.

The head row is locked first, so appends of one tenant run one at a time and indexes are dense.
The left siblings the new leaves complete nodes with are read in one query; the leaves and
nodes are inserted together. ``record`` also signs a checkpoint in the same transaction when
one is due (``checkpoints.sign_if_due``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tokenmall.adapters.db.nfg.log import StoredLeaf
from tokenmall.domain.log import merkle
from tokenmall.domain.log.leaves import Event, leaf_bytes
from tokenmall.services.log import checkpoints
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.log.ports import LogStore


@dataclass(frozen=True, slots=True)
class Appended:
    first_index: int
    size: int  # the log's size after the append
    signed_size: int = 0  # the size its latest checkpoint signed, as the locked head said


def _left_siblings(start: int, count: int) -> list[tuple[int, int]]:
    """The stored nodes that leaves ``start..start+count-1`` complete nodes with."""
    wanted: set[tuple[int, int]] = set()
    for index in range(start, start + count):
        level, position = 0, index
        while position & 1:
            if position << level <= start:
                wanted.add((level, position - 1))
            level += 1
            position >>= 1
    return sorted(wanted)


def append(log: LogStore, tenant_id: str, events: Sequence[Event], now: datetime) -> Appended:
    head = log.head(tenant_id, for_update=True, now=now)
    first = size = head.size
    if not events:
        return Appended(first, size, head.signed_size)
    log.nodes(tenant_id, _left_siblings(first, len(events)))
    made: dict[tuple[int, int], bytes] = {}

    def node(level: int, index: int) -> bytes:
        found = made.get((level, index))
        return found if found is not None else log.node(tenant_id, level, index)

    leaves: list[StoredLeaf] = []
    nodes: list[tuple[int, int, bytes]] = []
    for event in events:
        leaf = leaf_bytes(tenant_id, size, now, event)
        for level, index, digest in merkle.completed_nodes(size, merkle.leaf_hash(leaf), node):
            made[(level, index)] = digest
            nodes.append((level, index, digest))
        leaves.append(StoredLeaf(size, event.type, event.subject, leaf))
        size += 1
    log.add_leaves(tenant_id, leaves, nodes, now)
    log.set_size(tenant_id, size, now)
    return Appended(first, size, head.signed_size)


def record(
    log: LogStore, config: LogConfig, tenant_id: str, events: Sequence[Event], now: datetime
) -> Appended:
    """Append the events and sign a checkpoint if one is now due (the use cases' call)."""
    appended = append(log, tenant_id, events, now)
    # The head stays locked by the append: its sizes need no second read.
    checkpoints.sign_if_due(
        log, config, tenant_id, now, sizes=(appended.size, appended.signed_size)
    )
    return appended
