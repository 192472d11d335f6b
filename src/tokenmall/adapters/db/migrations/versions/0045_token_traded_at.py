"""a token's last trade: when it was minted or last bought (a gift leaves it)

Revision ID: 0045_token_traded_at
Revises: 0044_open_scan_indexes
Create Date: 2026-12-06

The open profile holds a token ``hold_trading_days`` from the trading day it was bought (or
minted); a gift does not start the hold again (market.md). ``acquired_at`` changes with every
owner, so the day of the last trade is kept apart. Existing tokens start from ``acquired_at``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0045_token_traded_at"
down_revision = "0044_open_scan_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nfg_tokens") as batch:
        batch.add_column(sa.Column("traded_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE nfg_tokens SET traded_at = acquired_at")


def downgrade() -> None:
    with op.batch_alter_table("nfg_tokens") as batch:
        batch.drop_column("traded_at")
