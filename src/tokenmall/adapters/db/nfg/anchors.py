"""Queries of the checkpoints' anchoring (``anchor_tables``): the ``AnchorStore`` port in SQL.

A checkpoint is claimed for anchoring by inserting its row (the key is the tenant and the
tree size: a second claim of the same checkpoint inserts nothing), and every later move of
the row is one update of its mutable fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.nfg.anchor_tables import log_anchor_settings, log_anchors


@dataclass(frozen=True, slots=True)
class AnchorSettings:
    tenant_id: str
    rpc_url: str
    chain_id: int
    contract: str | None
    account: str
    sealed_key: bytes
    updated_at: datetime
    deploy_tx_hash: str | None = None  # the transaction that deployed ``contract``, if ours
    deploy_block: int | None = None


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    tenant_id: str
    size: int
    root: bytes
    status: str
    chain_id: int
    contract: str
    tx_hash: str | None
    nonce: int | None
    block_number: int | None
    block_hash: str | None
    attempts: int
    next_try_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def _record(row: object) -> AnchorRecord:
    r = row._mapping  # type: ignore[attr-defined]
    return AnchorRecord(
        tenant_id=r["tenant_id"],
        size=int(r["size"]),
        root=bytes(r["root"]),
        status=r["status"],
        chain_id=int(r["chain_id"]),
        contract=r["contract"],
        tx_hash=r["tx_hash"],
        nonce=None if r["nonce"] is None else int(r["nonce"]),
        block_number=None if r["block_number"] is None else int(r["block_number"]),
        block_hash=r["block_hash"],
        attempts=int(r["attempts"]),
        next_try_at=aware(r["next_try_at"]),
        last_error=r["last_error"],
        created_at=aware(r["created_at"]),
        updated_at=aware(r["updated_at"]),
    )


class SqlAnchors:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- settings

    def settings(self, tenant_id: str) -> AnchorSettings | None:
        row = self.conn.execute(
            select(log_anchor_settings).where(log_anchor_settings.c.tenant_id == tenant_id)
        ).first()
        if row is None:
            return None
        return AnchorSettings(
            tenant_id=row.tenant_id,
            rpc_url=row.rpc_url,
            chain_id=int(row.chain_id),
            contract=row.contract,
            account=row.account,
            sealed_key=bytes(row.sealed_key),
            updated_at=aware(row.updated_at),
            deploy_tx_hash=row.deploy_tx_hash,
            deploy_block=None if row.deploy_block is None else int(row.deploy_block),
        )

    def save_settings(self, found: AnchorSettings) -> None:
        values = {
            "rpc_url": found.rpc_url,
            "chain_id": found.chain_id,
            "contract": found.contract,
            "account": found.account,
            "sealed_key": found.sealed_key,
            "updated_at": found.updated_at,
            "deploy_tx_hash": found.deploy_tx_hash,
            "deploy_block": found.deploy_block,
        }
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        self.conn.execute(
            dialect.insert(log_anchor_settings)
            .values(tenant_id=found.tenant_id, **values)
            .on_conflict_do_update(index_elements=["tenant_id"], set_=values)
        )

    def drop_settings(self, tenant_id: str) -> bool:
        result = self.conn.execute(
            delete(log_anchor_settings).where(log_anchor_settings.c.tenant_id == tenant_id)
        )
        return bool(result.rowcount)

    def configured_tenants(self) -> list[str]:
        rows = self.conn.execute(
            select(log_anchor_settings.c.tenant_id).order_by(log_anchor_settings.c.tenant_id)
        )
        return [row.tenant_id for row in rows]

    # -- anchors

    def anchors(self, tenant_id: str) -> list[AnchorRecord]:
        rows = self.conn.execute(
            select(log_anchors).where(log_anchors.c.tenant_id == tenant_id).order_by("size")
        )
        return [_record(row) for row in rows]

    def anchored_tenants(self) -> list[str]:
        rows = self.conn.execute(
            select(log_anchors.c.tenant_id).distinct().order_by(log_anchors.c.tenant_id)
        )
        return [row.tenant_id for row in rows]

    def latest(self, tenant_id: str) -> AnchorRecord | None:
        row = self.conn.execute(
            select(log_anchors)
            .where(log_anchors.c.tenant_id == tenant_id)
            .order_by(log_anchors.c.size.desc())
            .limit(1)
        ).first()
        return None if row is None else _record(row)

    def newest_confirmed(self, tenant_id: str) -> AnchorRecord | None:
        row = self.conn.execute(
            select(log_anchors)
            .where(log_anchors.c.tenant_id == tenant_id, log_anchors.c.status == "confirmed")
            .order_by(log_anchors.c.size.desc())
            .limit(1)
        ).first()
        return None if row is None else _record(row)

    def claim(self, record: AnchorRecord) -> bool:
        """Insert the anchor's row unless one of that checkpoint exists; True if inserted."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        values = {name: getattr(record, name) for name in AnchorRecord.__slots__}
        result = self.conn.execute(
            dialect.insert(log_anchors)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "size"])
        )
        return bool(result.rowcount)

    def get(self, tenant_id: str, size: int) -> AnchorRecord | None:
        row = self.conn.execute(
            select(log_anchors).where(
                log_anchors.c.tenant_id == tenant_id, log_anchors.c.size == size
            )
        ).first()
        return None if row is None else _record(row)

    def save(self, record: AnchorRecord) -> None:
        mutable = (
            "status",
            "tx_hash",
            "nonce",
            "block_number",
            "block_hash",
            "attempts",
            "next_try_at",
            "last_error",
            "updated_at",
        )
        self.conn.execute(
            update(log_anchors)
            .where(log_anchors.c.tenant_id == record.tenant_id, log_anchors.c.size == record.size)
            .values({name: getattr(record, name) for name in mutable})
        )

    def drop(self, tenant_id: str, size: int) -> None:
        """Forget an anchor never sent (superseded by a newer checkpoint before it went)."""
        self.conn.execute(
            delete(log_anchors).where(
                log_anchors.c.tenant_id == tenant_id,
                log_anchors.c.size == size,
                log_anchors.c.tx_hash.is_(None),
            )
        )

    def forget_open(self, tenant_id: str, contract: str) -> None:
        """Forget the anchors to ``contract`` never confirmed (it is being replaced)."""
        self.conn.execute(
            delete(log_anchors).where(
                log_anchors.c.tenant_id == tenant_id,
                log_anchors.c.contract == contract,
                log_anchors.c.status.in_(("pending", "sent")),
            )
        )
