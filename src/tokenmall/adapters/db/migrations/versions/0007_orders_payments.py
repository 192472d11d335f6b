"""orders, carts and payments (issue 4: to be filled)

Revision ID: 0007_orders_payments
Revises: 0006_cashflow
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0007_orders_payments"
down_revision = "0006_cashflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
