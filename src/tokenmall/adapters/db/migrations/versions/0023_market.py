"""the market (文交所): profile, collection settings, holidays, orders, trades, holders, holds

Revision ID: 0023_market
Revises: 0022_drop_counters
Create Date: 2026-12-05

New tables only (``adapters/db/market/tables``), created from their definitions with their
indexes (the partial unique index keeps one open listing per token); downgrade drops them.
"""

from __future__ import annotations

from alembic import op

from tokenmall.adapters.db.market import tables as t

revision = "0023_market"
down_revision = "0022_drop_counters"
branch_labels = None
depends_on = None

TABLES = (
    t.market_settings,
    t.market_collections,
    t.market_holidays,
    t.market_orders,
    t.market_trades,
    t.market_holders,
    t.market_holds,
)


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
