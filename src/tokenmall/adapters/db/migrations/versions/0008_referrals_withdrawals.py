"""referral commissions and withdrawals (issue 4: to be filled)

Revision ID: 0008_referrals_withdrawals
Revises: 0007_orders_payments
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0008_referrals_withdrawals"
down_revision = "0007_orders_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
