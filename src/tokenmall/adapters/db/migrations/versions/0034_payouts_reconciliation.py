"""payouts of withdrawals and the daily reconciliation

Revision ID: 0034_payouts_reconciliation
Revises: 0030_merchant_withdrawals
Create Date: 2026-12-06

A person's payee account (``mall_payee_accounts``: the channel, the masked account, the
account and real name sealed), a withdrawal's payout (``mall_payouts``, one per withdrawal),
the daily reconciliations' reports and lines (``mall_reconciliations``,
``mall_reconciliation_lines``), and the sandbox gateway's own record of what it approved
(``sandbox_transactions``, what its bill lists). A withdrawal may now be ``paying`` (its payout
sent, the cash still held) and ``failed`` (its payout failed, the cash returned):
``mall_withdrawals``' status check widens. SQLite cannot alter a CHECK constraint and
rebuilding ``mall_withdrawals`` breaks its approvals' foreign keys inside the migration's
transaction, so the check is changed with SQLite's ``writable_schema`` procedure (as 0027
does); PostgreSQL drops and re-adds it.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0034_payouts_reconciliation"
down_revision = "0030_merchant_withdrawals"
branch_labels = None
depends_on = None

OLD = "status IN ('pending', 'paid', 'rejected')"
NEW = "status IN ('pending', 'paying', 'paid', 'rejected', 'failed')"


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _set_check(table: str, name: str, old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, new)
        return
    found = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    pattern = re.compile(rf"CONSTRAINT {name} CHECK \({re.escape(old)}\)")
    assert len(pattern.findall(found)) == 1, f"{table}: check {name} not as expected"
    text = pattern.sub(lambda _: f"CONSTRAINT {name} CHECK ({new})", found)
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (text, table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _set_check("mall_withdrawals", "ck_mall_withdrawals_status", OLD, NEW)
    op.create_table(
        "mall_payee_accounts",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("account_masked", sa.String(40), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name=op.f("pk_mall_payee_accounts")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_payee_accounts_tenant_id_mall_users"),
        ),
    )
    op.create_table(
        "mall_payouts",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("payout_id", sa.String(40), nullable=False),
        sa.Column("withdrawal_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("account_masked", sa.String(40), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel_ref", sa.String(120), nullable=True),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "payout_id", name=op.f("pk_mall_payouts")),
        sa.UniqueConstraint("tenant_id", "withdrawal_id", name="uq_mall_payouts_tenant_withdrawal"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "withdrawal_id"],
            ["mall_withdrawals.tenant_id", "mall_withdrawals.withdrawal_id"],
            name=op.f("fk_mall_payouts_tenant_id_mall_withdrawals"),
        ),
        sa.CheckConstraint(
            "status IN ('processing', 'succeeded', 'failed')", name=op.f("ck_mall_payouts_status")
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_mall_payouts_amount_positive")),
    )
    op.create_index("ix_mall_payouts_tenant_status", "mall_payouts", ["tenant_id", "status"])
    op.create_table(
        "mall_reconciliations",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("missing_in_ledger", sa.Integer(), nullable=False),
        sa.Column("missing_at_channel", sa.Integer(), nullable=False),
        sa.Column("amount_differs", sa.Integer(), nullable=False),
        sa.Column("bill_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("ledger_total_fen", sa.BigInteger(), nullable=False),
        _at("run_at"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "day", "channel", name=op.f("pk_mall_reconciliations")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name=op.f("fk_mall_reconciliations_tenant_id_mall_tenants"),
        ),
    )
    op.create_table(
        "mall_reconciliation_lines",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(120), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("bill_fen", sa.BigInteger(), nullable=True),
        sa.Column("ledger_fen", sa.BigInteger(), nullable=True),
        sa.Column("channel_ref", sa.String(120), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "day", "channel", "line_no", name=op.f("pk_mall_reconciliation_lines")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "day", "channel"],
            [
                "mall_reconciliations.tenant_id",
                "mall_reconciliations.day",
                "mall_reconciliations.channel",
            ],
            name=op.f("fk_mall_reconciliation_lines_tenant_id_mall_reconciliations"),
        ),
    )
    op.create_table(
        "sandbox_transactions",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("txn_id", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(120), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        _at("occurred_at"),
        sa.PrimaryKeyConstraint("tenant_id", "txn_id", name=op.f("pk_sandbox_transactions")),
    )
    op.create_index(
        "ix_sandbox_transactions_tenant_occurred_at",
        "sandbox_transactions",
        ["tenant_id", "occurred_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_sandbox_transactions_tenant_occurred_at", table_name="sandbox_transactions")
    op.drop_table("sandbox_transactions")
    op.drop_table("mall_reconciliation_lines")
    op.drop_table("mall_reconciliations")
    op.drop_index("ix_mall_payouts_tenant_status", table_name="mall_payouts")
    op.drop_table("mall_payouts")
    op.drop_table("mall_payee_accounts")
    _set_check("mall_withdrawals", "ck_mall_withdrawals_status", NEW, OLD)
