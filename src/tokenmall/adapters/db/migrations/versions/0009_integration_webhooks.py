"""integration orders and outgoing webhooks (issue 4: to be filled)

Revision ID: 0009_integration_webhooks
Revises: 0008_referrals_withdrawals
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0009_integration_webhooks"
down_revision = "0008_referrals_withdrawals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
