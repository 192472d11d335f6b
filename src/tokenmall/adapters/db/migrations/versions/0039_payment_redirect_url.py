"""a payment's redirect URL up to 4000 characters

Revision ID: 0039_payment_redirect_url
Revises: 0031_payment_channels
Create Date: 2026-12-06

Alipay's cashier URL carries the whole signed request (its business fields and an RSA2
signature) in its query string: some 1,500 characters, more than the 1,000 the column held.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039_payment_redirect_url"
down_revision = "0031_payment_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "mall_payments",
            "redirect_url",
            type_=sa.String(4000),
            existing_type=sa.String(1000),
            existing_nullable=False,
        )
    else:  # SQLite changes a column's type by rebuilding the table
        with op.batch_alter_table("mall_payments") as batch:
            batch.alter_column(
                "redirect_url",
                type_=sa.String(4000),
                existing_type=sa.String(1000),
                existing_nullable=False,
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "mall_payments",
            "redirect_url",
            type_=sa.String(1000),
            existing_type=sa.String(4000),
            existing_nullable=False,
        )
    else:
        with op.batch_alter_table("mall_payments") as batch:
            batch.alter_column(
                "redirect_url",
                type_=sa.String(1000),
                existing_type=sa.String(4000),
                existing_nullable=False,
            )
