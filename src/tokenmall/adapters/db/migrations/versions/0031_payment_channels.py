"""a tenant's payment channels: payment_channels

Revision ID: 0031_payment_channels
Revises: 0038_log_anchors
Create Date: 2026-12-06

Which channels a tenant has switched on (sandbox, wechat, alipay) and each one's key set,
sealed under the deployment's secret, with the key set it replaced kept for a grace period so
callbacks signed with it still verify during a rotation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031_payment_channels"
down_revision = "0038_log_anchors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_channels",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("public", sa.Text(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("previous_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "channel", name="pk_payment_channels"),
        sa.CheckConstraint(
            "channel IN ('sandbox', 'wechat', 'alipay')", name="ck_payment_channels_name"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["mall_tenants.tenant_id"], name="fk_payment_channels_tenant"
        ),
    )


def downgrade() -> None:
    op.drop_table("payment_channels")
