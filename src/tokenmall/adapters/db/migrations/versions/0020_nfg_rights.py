"""NFG rights at checkout and redemptions: the discount named on orders, nfg_redemptions

Revision ID: 0020_nfg_rights
Revises: 0019_nfg_registry
Create Date: 2026-12-04

``mall_orders`` gains four nullable columns naming the held token whose ``discount`` right
lowered the order (collection, serial, rate in basis points, fen off); ``total_fen`` stays what
the buyer pays. ``nfg_redemptions`` holds the redemptions (提货) of tokens: one unit of the
linked or voucher SKU shipped to the owner, the token burned on delivery
(``tokenmall.adapters.db.nfg.redemptions``). Downgrade drops the columns in place
(``recreate="never"``, as 0012 explains) and the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_nfg_rights"
down_revision = "0019_nfg_registry"
branch_labels = None
depends_on = None

DISCOUNT = (
    ("discount_collection_id", sa.String(length=40)),
    ("discount_serial", sa.BigInteger()),
    ("discount_bps", sa.Integer()),
    ("discount_fen", sa.BigInteger()),
)


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=40), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("mall_orders", recreate="never") as batch:
        for name, kind in DISCOUNT:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "nfg_redemptions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        _id("redemption_id"),
        _id("collection_id"),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        _id("user_id"),
        _id("sku_id"),
        _id("merchant_id"),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        _id("closed_by", nullable=True),
        _at("created_at"),
        _at("shipped_at", nullable=True),
        _at("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "redemption_id", name="pk_nfg_redemptions"),
        sa.CheckConstraint(
            "status IN ('requested', 'shipped', 'delivered', 'cancelled')",
            name="ck_nfg_redemptions_status",
        ),
        sa.CheckConstraint("kind IN ('linked', 'voucher')", name="ck_nfg_redemptions_kind"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "collection_id"],
            ["nfg_collections.tenant_id", "nfg_collections.collection_id"],
            name="fk_nfg_redemptions_collection",
        ),
    )
    op.create_index(
        "ix_nfg_redemptions_token", "nfg_redemptions", ["tenant_id", "collection_id", "serial"]
    )
    op.create_index("ix_nfg_redemptions_user", "nfg_redemptions", ["tenant_id", "user_id"])
    op.create_index("ix_nfg_redemptions_merchant", "nfg_redemptions", ["tenant_id", "merchant_id"])


def downgrade() -> None:
    op.drop_index("ix_nfg_redemptions_merchant", table_name="nfg_redemptions")
    op.drop_index("ix_nfg_redemptions_user", table_name="nfg_redemptions")
    op.drop_index("ix_nfg_redemptions_token", table_name="nfg_redemptions")
    op.drop_table("nfg_redemptions")
    with op.batch_alter_table("mall_orders", recreate="never") as batch:
        for name, _ in reversed(DISCOUNT):
            batch.drop_column(name)
