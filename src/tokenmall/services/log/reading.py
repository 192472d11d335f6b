"""What the log's public endpoints answer: the checkpoint, the key, entries, proofs, bundles.

Every answer is computed from stored nodes; a bad range or size is refused with
``InvalidInput`` naming the parameter (the edge answers 400).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from tokenmall.adapters.db.nfg.log import StoredLeaf
from tokenmall.domain.log import merkle
from tokenmall.domain.log.anchors import tenant_tag
from tokenmall.services.log import checkpoints
from tokenmall.services.log.anchor_ports import ConfirmedAnchors
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.log.ports import LogStore
from tokenmall.services.mall.errors import InvalidInput, NotFound

MAX_ENTRIES = 1_000
BUNDLE_FORMAT = "tokenmall-certificate-bundle/1"


def _size(log: LogStore, tenant_id: str) -> int:
    head = log.peek(tenant_id)
    return 0 if head is None else head.size


def checkpoint_note(log: LogStore, tenant_id: str) -> str:
    latest = log.latest_checkpoint(tenant_id)
    if latest is None:
        raise NotFound(f"tenant {tenant_id} has no signed checkpoint yet")
    return latest.note


def key_text(log: LogStore, tenant_id: str) -> str:
    key = log.key(tenant_id)
    if key is None:
        raise NotFound(f"tenant {tenant_id} has no log key yet")
    return checkpoints.verifier_key(key).text()


def entries(log: LogStore, tenant_id: str, start: int, end: int) -> list[StoredLeaf]:
    """Leaves ``start <= i < end`` (at most 1,000; fewer past the log's end)."""
    if start < 0:
        raise InvalidInput("start must be 0 or more", "start")
    if end <= start:
        raise InvalidInput("end must be greater than start", "end")
    size = _size(log, tenant_id)
    if start > size:
        raise InvalidInput(f"start must be at most the log's size ({size})", "start")
    return log.entries(tenant_id, start, min(end, start + MAX_ENTRIES, size))


def _getter(log: LogStore, tenant_id: str) -> merkle.NodeGetter:
    return lambda level, index: log.node(tenant_id, level, index)


def inclusion(log: LogStore, tenant_id: str, index: int, tree_size: int) -> list[bytes]:
    size = _size(log, tenant_id)
    if not 1 <= tree_size <= size:
        raise InvalidInput(f"tree_size must be between 1 and the log's size {size}", "tree_size")
    if not 0 <= index < tree_size:
        raise InvalidInput(f"index must be between 0 and {tree_size - 1}", "index")
    return merkle.inclusion_proof(index, tree_size, _getter(log, tenant_id))


def consistency(log: LogStore, tenant_id: str, first: int, second: int) -> list[bytes]:
    size = _size(log, tenant_id)
    if not 1 <= second <= size:
        raise InvalidInput(f"second must be between 1 and the log's size {size}", "second")
    if not 1 <= first <= second:
        raise InvalidInput(f"first must be between 1 and second ({second})", "first")
    return merkle.consistency_proof(first, second, _getter(log, tenant_id))


@dataclass(frozen=True, slots=True)
class Bundle:
    """A subject's events with their proofs against one signed checkpoint; ``pending`` counts
    events no checkpoint covers yet (none once ``covering`` signed one)."""

    document: dict[str, object]
    pending: int


def bundle(
    log: LogStore,
    config: LogConfig,
    tenant_id: str,
    subject: str,
    now: datetime,
    *,
    sign: bool = True,
    anchors: ConfirmedAnchors | None = None,
) -> Bundle:
    """The proof bundle of ``subject`` (a token's ``collection/serial``): what the offline
    verifier checks. ``sign``: sign a checkpoint now if the latest misses its last event.
    With ``anchors``: against the newest anchored checkpoint when it covers every event of
    the subject, with its anchor (chain, contract, transaction, block) in the bundle."""
    events = log.of_subject(tenant_id, subject)
    if not events:
        raise NotFound(f"the log has no events of {subject}")
    last = events[-1].index
    anchored = None if anchors is None else anchors.newest_confirmed(tenant_id)
    latest = None
    if anchored is not None and anchored.size > last:
        latest = next((c for c in log.checkpoints(tenant_id) if c.size == anchored.size), None)
    if latest is None or anchored is None or latest.root != anchored.root:
        anchored, latest = None, None
    if latest is None:
        latest = (
            checkpoints.covering(log, config, tenant_id, last, now)
            if sign
            else log.latest_checkpoint(tenant_id)
        )
    key = log.key(tenant_id)
    if latest is None or key is None:
        raise NotFound(f"tenant {tenant_id} has no signed checkpoint yet")
    covered = [e for e in events if e.index < latest.size]
    getter = _getter(log, tenant_id)
    document: dict[str, object] = {
        "format": BUNDLE_FORMAT,
        "tenant": tenant_id,
        "token": subject,
        "tree_size": latest.size,
        "root": latest.root.hex(),
        "checkpoint": latest.note,
        "verifier_key": checkpoints.verifier_key(key).text(),
        "events": [
            {
                "index": e.index,
                "leaf": base64.b64encode(e.leaf).decode("ascii"),
                "inclusion": [
                    h.hex() for h in merkle.inclusion_proof(e.index, latest.size, getter)
                ],
            }
            for e in covered
        ],
    }
    if anchored is not None:
        document["anchor"] = {
            "chain_id": anchored.chain_id,
            "contract": anchored.contract,
            "tx_hash": anchored.tx_hash,
            "block_number": anchored.block_number,
            "block_hash": anchored.block_hash,
            "tenant_tag": tenant_tag(config.origin(tenant_id)).hex(),
            "tree_size": anchored.size,
            "root": anchored.root.hex(),
        }
    return Bundle(document, len(events) - len(covered))
