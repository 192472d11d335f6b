"""the agreements addressed to a user: ix_market_orders_to_user

Revision ID: 0029_offer_to_user_index
Revises: 0028_royalty_payouts
Create Date: 2026-12-06

"Offers to me" reads ``market_orders`` by ``(tenant_id, to_user_id)``: without an index that
read scans the tenant's every order. Only offers name a ``to_user_id``, so the index is partial
(``to_user_id IS NOT NULL``, which both databases see the read's ``to_user_id = ?`` implies).
0023 creates ``market_orders`` from its live definition, which now carries the index, so a
database built from nothing already has it here: the upgrade creates it only where missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_offer_to_user_index"
down_revision = "0028_royalty_payouts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_market_orders_to_user",
        "market_orders",
        ["tenant_id", "to_user_id", "status", "order_id"],
        if_not_exists=True,
        sqlite_where=sa.text("to_user_id IS NOT NULL"),
        postgresql_where=sa.text("to_user_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_market_orders_to_user", table_name="market_orders", if_exists=True)
