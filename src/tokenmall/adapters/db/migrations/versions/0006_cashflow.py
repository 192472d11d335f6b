"""cashflow: economy_state aggregates for money held around the economy (issue 4)

Revision ID: 0006_cashflow
Revises: 0005_holders_fillfactor
Create Date: 2026-11-30

Order payments held in escrow until their rewards are booked, distribution commissions frozen
until their orders complete, withdrawals held for approval and paid out, what users owe after a
clawback, and the cash taken out of users' balances: see domain/economy/cashflow.py. Each is a
non-negative aggregate of the tenant's one economy_state row, mirrored by its ledger account.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_cashflow"
down_revision = "0005_holders_fillfactor"
branch_labels = None
depends_on = None

COLUMNS = (
    "escrow",
    "commissions_frozen",
    "commissions_paid",
    "withdrawing",
    "withdrawn",
    "receivables",
    "cash_out",
)


def upgrade() -> None:
    with op.batch_alter_table("economy_state") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False))
            batch.create_check_constraint(
                op.f(f"ck_economy_state_{name}_not_negative"), f"{name} >= 0"
            )


def downgrade() -> None:
    with op.batch_alter_table("economy_state") as batch:
        for name in COLUMNS:
            batch.drop_constraint(op.f(f"ck_economy_state_{name}_not_negative"), type_="check")
            batch.drop_column(name)
