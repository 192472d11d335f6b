"""a store's withdrawals: mall_withdrawals.merchant_id

Revision ID: 0030_merchant_withdrawals
Revises: 0029_offer_to_user_index
Create Date: 2026-12-06

A merchant's owner may withdraw the store's cash (its royalties paid out by the market) through
the same request and approvals as a member's own cash: the row keeps the requester in
``user_id`` (the two-person rule reads it) and the store in the new nullable ``merchant_id``
(NULL: the requester's own cash), indexed for the store's pending total and its list.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_merchant_withdrawals"
down_revision = "0029_offer_to_user_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mall_withdrawals") as batch:
        batch.add_column(sa.Column("merchant_id", sa.String(40), nullable=True))
        batch.create_foreign_key(
            "fk_mall_withdrawals_tenant_id_mall_merchants",
            "mall_merchants",
            ["tenant_id", "merchant_id"],
            ["tenant_id", "merchant_id"],
        )
    op.create_index(
        "ix_mall_withdrawals_tenant_merchant",
        "mall_withdrawals",
        ["tenant_id", "merchant_id"],
        postgresql_where=sa.text("merchant_id IS NOT NULL"),
        sqlite_where=sa.text("merchant_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_mall_withdrawals_tenant_merchant", table_name="mall_withdrawals")
    with op.batch_alter_table("mall_withdrawals") as batch:
        batch.drop_constraint("fk_mall_withdrawals_tenant_id_mall_merchants", type_="foreignkey")
        batch.drop_column("merchant_id")
