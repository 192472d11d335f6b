"""A tenant's payment channels: which are on, and each one's key set, sealed.

``public`` is what may be shown back (ids, serials, masked keys) as JSON; ``sealed`` the whole
key set as JSON sealed under the deployment's secret (``adapters/signing.py``), bound to the
tenant and the channel; ``previous_sealed`` the key set it replaced, which still verifies the
channel's callbacks until ``previous_until`` (a rotation without downtime).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKeyConstraint,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from tokenmall.adapters.db.mall import config_version
from tokenmall.adapters.db.mall.rows import aware, maybe_aware
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.mall.channels import ChannelRow

payment_channels = Table(
    "payment_channels",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("mode", String(16), nullable=True),
    Column("public", Text, nullable=False),
    Column("sealed", LargeBinary, nullable=True),
    Column("previous_sealed", LargeBinary, nullable=True),
    Column("previous_until", DateTime(timezone=True), nullable=True),
    Column("updated_by", String(ID), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "channel", name="pk_payment_channels"),
    CheckConstraint("channel IN ('sandbox', 'wechat', 'alipay')", name="ck_payment_channels_name"),
    ForeignKeyConstraint(
        ["tenant_id"], ["mall_tenants.tenant_id"], name="fk_payment_channels_tenant"
    ),
)


def _row(row: Any) -> ChannelRow:
    return ChannelRow(
        tenant_id=row.tenant_id,
        channel=row.channel,
        enabled=bool(row.enabled),
        mode=row.mode,
        public=row.public,
        sealed=None if row.sealed is None else bytes(row.sealed),
        previous_sealed=None if row.previous_sealed is None else bytes(row.previous_sealed),
        previous_until=maybe_aware(row.previous_until),
        updated_by=row.updated_by,
        updated_at=aware(row.updated_at),
    )


class SqlPaymentChannels:
    """The ``ChannelRows`` port (``services/mall/payment_channels.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of_tenant(self, tenant_id: str) -> list[ChannelRow]:
        rows = self.conn.execute(
            select(payment_channels)
            .where(payment_channels.c.tenant_id == tenant_id)
            .order_by(payment_channels.c.channel)
        )
        return [_row(r) for r in rows]

    def switched_on(self) -> list[ChannelRow]:
        rows = self.conn.execute(
            select(payment_channels)
            .where(payment_channels.c.enabled.is_(True))
            .order_by(payment_channels.c.tenant_id, payment_channels.c.channel)
        )
        return [_row(r) for r in rows]

    def get(self, tenant_id: str, channel: str, *, for_update: bool = False) -> ChannelRow | None:
        query = select(payment_channels).where(
            payment_channels.c.tenant_id == tenant_id, payment_channels.c.channel == channel
        )
        if for_update:
            query = query.with_for_update()
        found = self.conn.execute(query).first()
        return None if found is None else _row(found)

    def put(self, row: ChannelRow, *, new: bool) -> None:
        values: dict[str, Any] = {
            "enabled": row.enabled,
            "mode": row.mode,
            "public": row.public,
            "sealed": row.sealed,
            "previous_sealed": row.previous_sealed,
            "previous_until": row.previous_until,
            "updated_by": row.updated_by,
            "updated_at": row.updated_at,
        }
        config_version.bump(self.conn, row.tenant_id)  # the checkout's cached channels
        if new:
            self.conn.execute(
                insert(payment_channels).values(
                    tenant_id=row.tenant_id, channel=row.channel, **values
                )
            )
            return
        self.conn.execute(
            update(payment_channels)
            .where(
                payment_channels.c.tenant_id == row.tenant_id,
                payment_channels.c.channel == row.channel,
            )
            .values(**values)
        )
