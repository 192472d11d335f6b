"""``tokenmall log verify --anchors``: every recorded anchor checked against its chain.

For each confirmed anchor, in tree-size order, stopping at the first that fails: the signed
checkpoint of that size is stored and its signature holds under the tenant's key; the
record's root is the checkpoint's; the endpoint is the record's chain; the transaction has a
successful receipt in the recorded block; the chain's block at that height still has the
recorded hash (a reorganisation is found here); and the receipt's ``Anchored`` event, from the
recorded contract, carries the log's tag and the signed checkpoint's size and root.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenmall.adapters.db.nfg.anchors import AnchorRecord
from tokenmall.domain.log import note
from tokenmall.domain.log.anchors import (
    AnchorStatus,
    ChainError,
    covered_by,
    event_problem,
    tenant_tag,
)
from tokenmall.services.log.anchor_ports import Chain
from tokenmall.services.log.anchoring import DROPPED, Anchoring
from tokenmall.services.log.checkpoints import LogConfig, verifier_key
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import Database, MallUnitOfWork


@dataclass(frozen=True, slots=True)
class AnchorVerdict:
    tenant_id: str
    checked: int  # confirmed anchors checked
    unconfirmed: int  # anchors not confirmed (pending, sent): not checked
    problem: str | None  # the first bad anchor, None if all hold
    dropped: int = 0  # reorganised away, each covered by a newer confirmed anchor (checked)


def _local(unit: MallUnitOfWork, config: LogConfig, record: AnchorRecord) -> str | None:
    """What is wrong with the record against the stored signed checkpoint."""
    stored = {c.size: c for c in unit.log.checkpoints(record.tenant_id)}
    checkpoint = stored.get(record.size)
    key = unit.log.key(record.tenant_id)
    if checkpoint is None or key is None:
        return "no signed checkpoint of that size is stored"
    try:
        opened = note.open_note(checkpoint.note, verifier_key(key), config.signer.verify)
    except note.NoteError as error:
        return f"the signed checkpoint does not verify: {error}"
    if opened.size != record.size or opened.root != record.root:
        return (
            f"the record's root {record.root.hex()} is not the signed checkpoint's "
            f"{opened.root.hex()}"
        )
    if record.tx_hash is None or record.block_number is None or record.block_hash is None:
        return "confirmed without a transaction or block"
    return None


def _on_chain(chain: Chain, config: LogConfig, record: AnchorRecord) -> str | None:
    assert record.tx_hash is not None
    assert record.block_number is not None
    chain_id = chain.chain_id()
    if chain_id != record.chain_id:
        return f"the endpoint is chain {chain_id}, the anchor was made on chain {record.chain_id}"
    receipt = chain.receipt(record.tx_hash, 0)
    if receipt is None:
        return f"the chain has no transaction {record.tx_hash}"
    if not receipt.ok:
        return f"transaction {record.tx_hash} reverted"
    held = chain.block_hash(record.block_number)
    if held != record.block_hash:
        return (
            f"block {record.block_number} is now {held or 'missing'}, the anchor recorded "
            f"{record.block_hash} (a reorganisation?)"
        )
    if receipt.block_number != record.block_number or receipt.block_hash != record.block_hash:
        return (
            f"transaction {record.tx_hash} is in block {receipt.block_number}, "
            f"the anchor recorded block {record.block_number}"
        )
    tag = tenant_tag(config.origin(record.tenant_id))
    return event_problem(receipt.events, record.contract, tag, record.size, record.root)


def verify_anchors(
    db: Database, config: LogConfig, anchoring: Anchoring, tenant_id: str | None = None
) -> list[AnchorVerdict]:
    """One verdict per tenant with anchors (or the one asked); names the first bad anchor."""
    with db.reading() as unit:
        if tenant_id is not None and not unit.log.tenant_exists(tenant_id):
            raise NotFound(f"no tenant {tenant_id}")
        tenants = [tenant_id] if tenant_id is not None else unit.anchors.anchored_tenants()
    verdicts: list[AnchorVerdict] = []
    for tenant in tenants:
        with db.reading() as unit:
            records = unit.anchors.anchors(tenant)
            settings = unit.anchors.settings(tenant)
            confirmed = [r for r in records if r.status == AnchorStatus.CONFIRMED]
            local = [(r, _local(unit, config, r)) for r in confirmed]
        dropped = [r for r in records if r.status == DROPPED]
        unconfirmed = len(records) - len(confirmed) - len(dropped)
        problem: str | None = None
        pairs = [(r.size, r.contract) for r in confirmed]
        for gone in dropped:
            if covered_by(gone.size, gone.contract, pairs) is None:
                problem = (
                    f"anchor of checkpoint {gone.size} (transaction {gone.tx_hash}): "
                    "reorganised away and no newer anchor on its contract covers it"
                )
                break
        checked = 0
        chain: Chain | None = None
        for record, wrong in local if problem is None else []:
            where = f"anchor of checkpoint {record.size} (transaction {record.tx_hash})"
            if wrong is None:
                try:
                    if chain is None:
                        if settings is None:
                            raise ChainError("no JSON-RPC URL is configured to check it")
                        chain = anchoring.connect(settings, send=False)
                    wrong = _on_chain(chain, config, record)
                except (ChainError, ValueError) as error:
                    wrong = f"cannot check it: {error}"
            checked += 1
            if wrong is not None:
                problem = f"{where}: {wrong}"
                break
        verdicts.append(AnchorVerdict(tenant, checked, unconfirmed, problem, len(dropped)))
    return verdicts
