"""The anchoring job: each tenant's newest signed checkpoint sent to its EVM chain.

Per tenant with settings and a deployed contract, each run: the confirmed anchors still in
the reorganisation window are checked against the chain's blocks (one whose block is gone is
found by its block hash: looked up again, and the newest re-anchored); the newest checkpoint
not anchored yet is claimed (a row keyed by its tree size: never two anchors of one
checkpoint, and one never sent is dropped for a newer checkpoint); a due claim is sent. The
signed transaction's hash and nonce are stored before it goes, so a run that dies after
sending finds it again, and a resend reuses the nonce (the chain takes at most one of the
two). A failure (unreachable endpoint, wrong chain id, no funds, a revert) is stored on the
row with the next try after ``backoff``; it never raises into the caller and never touches
the log itself, which goes on appending and signing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from tokenmall.adapters.db.nfg.anchors import AnchorRecord, AnchorSettings
from tokenmall.domain.log.anchors import (
    FIRST_RETRY,
    AnchorStatus,
    ChainError,
    backoff,
    event_problem,
    tenant_tag,
)
from tokenmall.services.log.anchor_ports import Chain, ChainAccess, ChainReceipt, KeySealer
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.uow import Database

ASSOCIATED = b"log anchoring account key"
DROPPED = "dropped"  # a confirmed anchor reorganised away behind a newer one


@dataclass(frozen=True, slots=True)
class Anchoring:
    """How a deployment reaches its chains: the connector, the key sealing, how long to wait
    for a receipt and how many blocks back a reorganisation is looked for."""

    access: ChainAccess
    sealer: KeySealer
    wait: float = 10.0  # float-ok: time
    reorg_window: int = 128

    def key(self, settings: AnchorSettings) -> bytes:
        return self.sealer.open(settings.tenant_id, settings.sealed_key, ASSOCIATED)

    def connect(self, settings: AnchorSettings, *, send: bool = True) -> Chain:
        return self.access.connect(settings.rpc_url, self.key(settings) if send else None)


@dataclass(frozen=True, slots=True)
class AnchorOutcome:
    tenant_id: str
    size: int | None
    status: str  # anchored, waiting, failed, idle, unconfigured
    message: str

    def line(self) -> str:
        at = "" if self.size is None else f" checkpoint {self.size}"
        return f"anchoring {self.tenant_id}{at}: {self.status}: {self.message}"


def _claim(db: Database, tenant_id: str, now: datetime) -> AnchorRecord | None:
    """The row to work on: the newest checkpoint claimed if no anchor covers it, or the newest
    anchor still unconfirmed; None when everything signed is anchored."""
    with db.unit() as unit:
        settings = unit.anchors.settings(tenant_id)
        checkpoint = unit.log.latest_checkpoint(tenant_id)
        latest = unit.anchors.latest(tenant_id)
        open_ = latest is not None and latest.status in (AnchorStatus.PENDING, AnchorStatus.SENT)
        if settings is None or settings.contract is None or checkpoint is None:
            return latest if open_ else None
        if latest is not None and checkpoint.size <= latest.size:
            return latest if open_ else None
        if latest is not None and open_ and latest.tx_hash is not None:
            return latest  # a transaction is out: finish it before the next checkpoint
        carried = latest if open_ else None
        if carried is not None:
            unit.anchors.drop(tenant_id, carried.size)
        record = AnchorRecord(
            tenant_id=tenant_id,
            size=checkpoint.size,
            root=checkpoint.root,
            status=AnchorStatus.PENDING,
            chain_id=settings.chain_id,
            contract=settings.contract,
            tx_hash=None,
            nonce=None,
            block_number=None,
            block_hash=None,
            attempts=carried.attempts if carried else 0,
            next_try_at=carried.next_try_at if carried else now,
            last_error=carried.last_error if carried else None,
            created_at=now,
            updated_at=now,
        )
        if not unit.anchors.claim(record):
            return unit.anchors.latest(tenant_id)
        return record


def _save(db: Database, record: AnchorRecord) -> AnchorRecord:
    with db.unit() as unit:
        unit.anchors.save(record)
    return record


def _failed(db: Database, record: AnchorRecord, error: str, now: datetime) -> AnchorOutcome:
    attempts = record.attempts + 1
    wait = backoff(attempts)
    _save(
        db,
        replace(
            record,
            attempts=attempts,
            next_try_at=now + wait,
            last_error=error,
            updated_at=now,
        ),
    )
    return AnchorOutcome(
        record.tenant_id,
        record.size,
        "failed",
        f"{error} (attempt {attempts}; next try in {int(wait.total_seconds())} s)",
    )


def _confirm(
    db: Database, record: AnchorRecord, receipt: ChainReceipt, origin: str, now: datetime
) -> AnchorOutcome:
    if not receipt.ok:
        # The nonce is spent: the next try signs a new transaction.
        cleared = replace(record, status=AnchorStatus.PENDING, tx_hash=None, nonce=None)
        _save(db, cleared)
        raise ChainError(
            f"transaction {record.tx_hash} reverted in block {receipt.block_number} "
            "(the contract refused it)"
        )
    problem = event_problem(
        receipt.events, record.contract, tenant_tag(origin), record.size, record.root
    )
    if problem is not None:
        raise ChainError(f"transaction {record.tx_hash}: {problem}")
    _save(
        db,
        replace(
            record,
            status=AnchorStatus.CONFIRMED,
            block_number=receipt.block_number,
            block_hash=receipt.block_hash,
            last_error=None,
            updated_at=now,
        ),
    )
    return AnchorOutcome(
        record.tenant_id,
        record.size,
        "anchored",
        f"transaction {record.tx_hash} in block {receipt.block_number}",
    )


def _send(
    db: Database,
    anchoring: Anchoring,
    chain: Chain,
    settings: AnchorSettings,
    record: AnchorRecord,
    origin: str,
    now: datetime,
) -> AnchorOutcome:
    found = chain.chain_id()
    if found != record.chain_id:
        raise ChainError(f"the endpoint's chain id is {found}, the anchor is for {record.chain_id}")
    nonce: int | None = None
    if record.tx_hash is not None:
        receipt = chain.receipt(record.tx_hash, 0)
        if receipt is not None:
            return _confirm(db, record, receipt, origin, now)
        current = chain.nonce()
        if record.nonce is not None and current == record.nonce:
            nonce = record.nonce  # the same nonce: the chain takes one of the two at most
        # Below it, a reorganisation took back the account's later transactions too: the
        # stored nonce would leave a gap the chain never fills, so the account's next is used.
    if nonce is None:
        nonce = chain.nonce()
    prepared = chain.prepare_anchor(
        record.contract, tenant_tag(origin), record.size, record.root, nonce, record.chain_id
    )
    record = _save(
        db,
        replace(
            record,
            status=AnchorStatus.SENT,
            tx_hash=prepared.tx_hash,
            nonce=nonce,
            block_number=None,
            block_hash=None,
            updated_at=now,
        ),
    )
    chain.send(prepared.raw)
    receipt = chain.receipt(prepared.tx_hash, anchoring.wait)
    if receipt is None:
        _save(db, replace(record, next_try_at=now + FIRST_RETRY))
        return AnchorOutcome(
            record.tenant_id, record.size, "waiting", f"{prepared.tx_hash} sent, no receipt yet"
        )
    return _confirm(db, record, receipt, origin, now)


def _reorganised(
    db: Database, anchoring: Anchoring, chain: Chain, tenant_id: str, origin: str, now: datetime
) -> list[str]:
    """The confirmed anchors in the window whose block the chain no longer has: each looked up
    again (moved to another block: recorded), else the newest set to be sent again and the
    older ones marked dropped. What was found, one line each."""
    with db.reading() as unit:
        confirmed = [
            r for r in unit.anchors.anchors(tenant_id) if r.status == AnchorStatus.CONFIRMED
        ]
    if not confirmed:
        return []
    head = chain.head()
    said: list[str] = []
    for record in confirmed:
        number = record.block_number or 0
        if number < head - anchoring.reorg_window:
            continue
        if chain.block_hash(number) == record.block_hash:
            continue
        assert record.tx_hash is not None
        gone = f"block {number} ({record.block_hash}) no longer holds transaction {record.tx_hash}"
        receipt = chain.receipt(record.tx_hash, 0)
        tag = tenant_tag(origin)
        if (
            receipt is not None
            and receipt.ok
            and event_problem(receipt.events, record.contract, tag, record.size, record.root)
            is None
        ):
            moved = replace(
                record, block_number=receipt.block_number, block_hash=receipt.block_hash
            )
            _save(db, replace(moved, last_error=f"{gone}: now in block {receipt.block_number}"))
            said.append(f"checkpoint {record.size}: {gone}; now in block {receipt.block_number}")
        elif record is confirmed[-1]:
            _save(
                db,
                replace(
                    record,
                    status=AnchorStatus.SENT,
                    block_number=None,
                    block_hash=None,
                    next_try_at=now,
                    last_error=f"{gone} (reorganised): anchoring again",
                    updated_at=now,
                ),
            )
            said.append(f"checkpoint {record.size}: {gone} (reorganised): anchoring again")
        else:
            _save(db, replace(record, status=DROPPED, last_error=f"{gone} (reorganised)"))
            said.append(f"checkpoint {record.size}: {gone} (reorganised), superseded")
    return said


def anchor_tenant(
    db: Database, config: LogConfig, anchoring: Anchoring, tenant_id: str, now: datetime
) -> AnchorOutcome:
    """One run for one tenant; a failure is recorded and answered, never raised."""
    origin = config.origin(tenant_id)
    with db.reading() as unit:
        settings = unit.anchors.settings(tenant_id)
    if settings is None:
        return AnchorOutcome(tenant_id, None, "unconfigured", "no chain settings")
    if settings.contract is None:
        return AnchorOutcome(tenant_id, None, "unconfigured", "no contract deployed yet")
    error: str | None = None
    reorgs: list[str] = []
    chain: Chain | None = None
    try:
        chain = anchoring.connect(settings)
        reorgs = _reorganised(db, anchoring, chain, tenant_id, origin, now)
    except (ChainError, ValueError) as exc:
        error = str(exc)
    record = _claim(db, tenant_id, now)
    if record is None:
        message = "; ".join(reorgs) or error or "every signed checkpoint is anchored"
        return AnchorOutcome(tenant_id, None, "failed" if error else "idle", message)
    if error is not None:
        return _failed(db, record, error, now)
    if record.next_try_at > now:
        return AnchorOutcome(
            tenant_id, record.size, "waiting", f"next try at {record.next_try_at.isoformat()}"
        )
    assert chain is not None
    try:
        done = _send(db, anchoring, chain, settings, record, origin, now)
    except ChainError as exc:
        with db.reading() as unit:
            current = unit.anchors.get(tenant_id, record.size) or record
        done = _failed(db, current, str(exc), now)
    if reorgs:
        return replace(done, message="; ".join([*reorgs, done.message]))
    return done


def anchor_due(
    db: Database,
    config: LogConfig,
    anchoring: Anchoring,
    now: datetime,
    tenant_id: str | None = None,
) -> list[AnchorOutcome]:
    """One run for every tenant with chain settings (or one)."""
    with db.reading() as unit:
        tenants = [tenant_id] if tenant_id is not None else unit.anchors.configured_tenants()
    return [anchor_tenant(db, config, anchoring, t, now) for t in tenants]
