"""the market's money: trades with their order ids, kind and flag; deposits; the ledger's market
aggregates

Revision ID: 0024_market_trades
Revises: 0023_market
Create Date: 2026-12-05

``market_trades`` (empty until now: nothing settled trades) is made again in its new shape
(``adapters/db/market/tables``: the trade id, both order ids, the kind, the issuer, the flag's
reason); ``market_deposits`` is new; economy_state gains the market's non-negative aggregates
(deposits, escrow of open bids, fees, royalties: domain/economy/market_cash.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tokenmall.adapters.db.market import tables as t

revision = "0024_market_trades"
down_revision = "0023_market"
branch_labels = None
depends_on = None

COLUMNS = ("market_deposits", "market_escrow", "market_fees", "royalties")


def upgrade() -> None:
    bind = op.get_bind()
    op.drop_table("market_trades")
    t.market_trades.create(bind)
    t.market_deposits.create(bind)
    with op.batch_alter_table("economy_state") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False))
            batch.create_check_constraint(
                op.f(f"ck_economy_state_{name}_not_negative"), f"{name} >= 0"
            )


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("economy_state") as batch:
        for name in COLUMNS:
            batch.drop_constraint(op.f(f"ck_economy_state_{name}_not_negative"), type_="check")
            batch.drop_column(name)
    t.market_deposits.drop(bind)
    t.market_trades.drop(bind)
    op.create_table(
        "market_trades",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("collection_id", sa.String(40), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("seller_id", sa.String(40), nullable=False),
        sa.Column("buyer_id", sa.String(40), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("royalty", sa.BigInteger(), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("trading_day", sa.Integer(), nullable=False),
        sa.Column("journal_id", sa.String(40), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "order_id", name="pk_market_trades"),
        sa.CheckConstraint("price > 0", name="ck_market_trades_price"),
        sa.CheckConstraint(
            "fee >= 0 AND royalty >= 0 AND fee + royalty <= price",
            name="ck_market_trades_parts",
        ),
        sa.CheckConstraint("seller_id <> buyer_id", name="ck_market_trades_parties"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "collection_id"],
            ["nfg_collections.tenant_id", "nfg_collections.collection_id"],
            name="fk_market_trades_collection",
        ),
    )
    op.create_index(
        "ix_market_trades_collection",
        "market_trades",
        ["tenant_id", "collection_id", "created_at"],
    )
