"""Redemptions (提货/核销): a token's linked or voucher SKU shipped to its owner, then burned.

A redemption is the NFG's own shipping order: one unit of a SKU, paid by the token (no money,
no points), with a snapshot of the owner's address. Its statuses: ``requested`` (the token is
``redeeming``, a unit of stock reserved) → ``shipped`` → ``delivered`` (the token burned), or
``cancelled`` from requested/shipped (the token held again, the unit released). Migration 0020.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    insert,
    select,
    update,
)

from tokenmall.adapters.db.mall.rows import aware, maybe_aware
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.nfg.redemptions import Redemption, RedemptionKind, RedemptionStatus


def _at(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


nfg_redemptions = Table(
    "nfg_redemptions",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("redemption_id", String(ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("serial", BigInteger, nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("sku_id", String(ID), nullable=False),
    Column("merchant_id", String(ID), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("recipient", String(50), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("address", String(400), nullable=False),
    Column("carrier", String(100), nullable=True),
    Column("tracking_number", String(100), nullable=True),
    Column("closed_by", String(ID), nullable=True),
    _at("created_at"),
    _at("shipped_at", nullable=True),
    _at("closed_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "redemption_id", name="pk_nfg_redemptions"),
    CheckConstraint(
        "status IN ('requested', 'shipped', 'delivered', 'cancelled')",
        name="ck_nfg_redemptions_status",
    ),
    CheckConstraint("kind IN ('linked', 'voucher')", name="ck_nfg_redemptions_kind"),
    ForeignKeyConstraint(
        ["tenant_id", "collection_id"],
        ["nfg_collections.tenant_id", "nfg_collections.collection_id"],
        name="fk_nfg_redemptions_collection",
    ),
)
Index(
    "ix_nfg_redemptions_token",
    nfg_redemptions.c.tenant_id,
    nfg_redemptions.c.collection_id,
    nfg_redemptions.c.serial,
)
Index("ix_nfg_redemptions_user", nfg_redemptions.c.tenant_id, nfg_redemptions.c.user_id)
Index("ix_nfg_redemptions_merchant", nfg_redemptions.c.tenant_id, nfg_redemptions.c.merchant_id)


def _redemption(row: Any) -> Redemption:
    r = row._mapping
    return Redemption(
        tenant_id=r["tenant_id"],
        redemption_id=r["redemption_id"],
        collection_id=r["collection_id"],
        serial=int(r["serial"]),
        user_id=r["user_id"],
        sku_id=r["sku_id"],
        merchant_id=r["merchant_id"],
        kind=RedemptionKind(r["kind"]),
        status=RedemptionStatus(r["status"]),
        recipient=r["recipient"],
        phone=r["phone"],
        address=r["address"],
        created_at=aware(r["created_at"]),
        carrier=r["carrier"],
        tracking_number=r["tracking_number"],
        closed_by=r["closed_by"],
        shipped_at=maybe_aware(r["shipped_at"]),
        closed_at=maybe_aware(r["closed_at"]),
    )


class SqlRedemptions:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, redemption: Redemption) -> None:
        r = redemption
        self.conn.execute(
            insert(nfg_redemptions).values(
                tenant_id=r.tenant_id,
                redemption_id=r.redemption_id,
                collection_id=r.collection_id,
                serial=r.serial,
                user_id=r.user_id,
                sku_id=r.sku_id,
                merchant_id=r.merchant_id,
                kind=str(r.kind),
                status=str(r.status),
                recipient=r.recipient,
                phone=r.phone,
                address=r.address,
                created_at=r.created_at,
            )
        )

    def get(
        self, tenant_id: str, redemption_id: str, *, for_update: bool = False
    ) -> Redemption | None:
        query = select(nfg_redemptions).where(
            nfg_redemptions.c.tenant_id == tenant_id,
            nfg_redemptions.c.redemption_id == redemption_id,
        )
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _redemption(row)

    def query(
        self,
        tenant_id: str,
        *,
        user_id: str | None = None,
        merchant_id: str | None = None,
        statuses: Sequence[RedemptionStatus] | None = None,
        limit: int = 100,
    ) -> list[Redemption]:
        """The newest first."""
        c = nfg_redemptions.c
        query = select(nfg_redemptions).where(c.tenant_id == tenant_id)
        if user_id is not None:
            query = query.where(c.user_id == user_id)
        if merchant_id is not None:
            query = query.where(c.merchant_id == merchant_id)
        if statuses is not None:
            query = query.where(c.status.in_([str(s) for s in statuses]))
        rows = self.conn.execute(query.order_by(c.redemption_id.desc()).limit(limit))
        return [_redemption(row) for row in rows]

    def move(
        self,
        tenant_id: str,
        redemption_id: str,
        from_statuses: Sequence[RedemptionStatus],
        to_status: RedemptionStatus,
        values: dict[str, Any],
    ) -> bool:
        """Move it (and set ``values``) if it is in one of ``from_statuses``."""
        c = nfg_redemptions.c
        done = self.conn.execute(
            update(nfg_redemptions)
            .where(
                c.tenant_id == tenant_id,
                c.redemption_id == redemption_id,
                c.status.in_([str(s) for s in from_statuses]),
            )
            .values(status=str(to_status), **values)
        )
        return bool(done.rowcount == 1)
