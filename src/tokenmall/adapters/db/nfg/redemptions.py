"""Redemptions (提货/核销): which mall order redeems which token.

A redemption is a mall order (``mall_orders.redemption_id``) of one unit of the SKU, paid by
the token. ``nfg_redemptions`` links the two: the token (collection, serial), its owner, the
SKU, its merchant, how it redeems (``linked`` or ``voucher``) and the order. What the order
already says (its status, the address it ships to, carrier and tracking number, when it
shipped and closed, and from its history who closed it) is read from the order, never kept
twice. Migration 0020 made the table; 0027 moved its shipping columns to the orders.
"""

from __future__ import annotations

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
    Select,
    String,
    Table,
    and_,
    insert,
    select,
)

from tokenmall.adapters.db.mall.orders import order_events, orders
from tokenmall.adapters.db.mall.rows import aware, maybe_aware
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.nfg.redemptions import (
    Redemption,
    RedemptionKind,
    status_of_order,
)

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
    Column("order_id", String(ID), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "redemption_id", name="pk_nfg_redemptions"),
    CheckConstraint("kind IN ('linked', 'voucher')", name="ck_nfg_redemptions_kind"),
    ForeignKeyConstraint(
        ["tenant_id", "collection_id"],
        ["nfg_collections.tenant_id", "nfg_collections.collection_id"],
        name="fk_nfg_redemptions_collection",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "order_id"],
        ["mall_orders.tenant_id", "mall_orders.order_id"],
        name="fk_nfg_redemptions_order",
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
Index(
    "uq_nfg_redemptions_order",
    nfg_redemptions.c.tenant_id,
    nfg_redemptions.c.order_id,
    unique=True,
)

_CLOSING = ("received", "cancelled")


def _joined() -> Select[Any]:
    """A redemption with its order's columns and who closed it (received or cancelled)."""
    r, o, e = nfg_redemptions, orders, order_events
    closed_by = (
        select(e.c.actor)
        .where(
            e.c.tenant_id == r.c.tenant_id,
            e.c.order_id == r.c.order_id,
            e.c.to_status.in_(_CLOSING),
        )
        .order_by(e.c.event_id)
        .limit(1)
        .scalar_subquery()
    )
    return select(
        r,
        o.c.status.label("order_status"),
        o.c.shipping_recipient,
        o.c.shipping_phone,
        o.c.shipping_address,
        o.c.carrier,
        o.c.tracking_number,
        o.c.shipped_at,
        o.c.received_at,
        o.c.cancelled_at,
        closed_by.label("closed_by"),
    ).join(o, and_(o.c.tenant_id == r.c.tenant_id, o.c.order_id == r.c.order_id))


def _redemption(row: Any) -> Redemption:
    r = row._mapping
    closed = r["received_at"] if r["received_at"] is not None else r["cancelled_at"]
    return Redemption(
        tenant_id=r["tenant_id"],
        redemption_id=r["redemption_id"],
        collection_id=r["collection_id"],
        serial=int(r["serial"]),
        user_id=r["user_id"],
        sku_id=r["sku_id"],
        merchant_id=r["merchant_id"],
        kind=RedemptionKind(r["kind"]),
        status=status_of_order(r["order_status"]),
        recipient=r["shipping_recipient"] or "",
        phone=r["shipping_phone"] or "",
        address=r["shipping_address"] or "",
        created_at=aware(r["created_at"]),
        order_id=r["order_id"],
        carrier=r["carrier"],
        tracking_number=r["tracking_number"],
        closed_by=r["closed_by"],
        shipped_at=maybe_aware(r["shipped_at"]),
        closed_at=maybe_aware(closed),
    )


class SqlRedemptions:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, redemption: Redemption) -> None:
        """Link a redemption to its order (the order is added first)."""
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
                order_id=r.order_id,
                created_at=r.created_at,
            )
        )

    def get(self, tenant_id: str, redemption_id: str) -> Redemption | None:
        c = nfg_redemptions.c
        query = _joined().where(c.tenant_id == tenant_id, c.redemption_id == redemption_id)
        row = self.conn.execute(query).first()
        return None if row is None else _redemption(row)

    def query(
        self,
        tenant_id: str,
        *,
        user_id: str | None = None,
        merchant_id: str | None = None,
        limit: int = 100,
    ) -> list[Redemption]:
        """The newest first."""
        c = nfg_redemptions.c
        query = _joined().where(c.tenant_id == tenant_id)
        if user_id is not None:
            query = query.where(c.user_id == user_id)
        if merchant_id is not None:
            query = query.where(c.merchant_id == merchant_id)
        rows = self.conn.execute(query.order_by(c.redemption_id.desc()).limit(limit))
        return [_redemption(row) for row in rows]
