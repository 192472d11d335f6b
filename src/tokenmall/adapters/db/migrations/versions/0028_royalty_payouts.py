"""the market's royalty payouts: market_royalty_payouts

Revision ID: 0028_royalty_payouts
Revises: 0027_redemption_orders
Create Date: 2026-12-06

One row a payout of an issuer's accrued royalties into its cash (its ``royalty_payout``
journal's id, the issuer, the business day it closes, the amount in fen); unique per tenant,
issuer and day, so the daily duty run twice pays once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_royalty_payouts"
down_revision = "0027_redemption_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_royalty_payouts",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("payout_id", sa.BigInteger(), nullable=False),
        sa.Column("issuer_id", sa.String(40), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("journal_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "payout_id", name="pk_market_royalty_payouts"),
        sa.UniqueConstraint(
            "tenant_id", "issuer_id", "business_day", name="uq_market_royalty_payouts_day"
        ),
        sa.CheckConstraint("amount > 0", name="ck_market_royalty_payouts_amount"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name="fk_market_royalty_payouts_tenant_id_mall_tenants",
        ),
    )


def downgrade() -> None:
    op.drop_table("market_royalty_payouts")
