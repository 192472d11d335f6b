"""referral rewards, commissions, debts, withdrawals and their approvals and settings

Revision ID: 0008_referrals_withdrawals
Revises: 0007_orders_payments
Create Date: 2026-11-30

The tables of ``tokenmall.adapters.db.mall.commissions`` and ``…mall.withdrawals`` (issue 4,
items 5–7), plus an index on ``mall_users (tenant_id, inviter_id)`` for "my invitees".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_referrals_withdrawals"
down_revision = "0007_orders_payments"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mall_commissions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("beneficiary", sa.String(length=100), nullable=False),
        sa.Column("buyer", sa.String(length=100), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("from_cash_fen", sa.BigInteger(), nullable=True),
        sa.Column("debt_fen", sa.BigInteger(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.CheckConstraint(
            "level BETWEEN 1 AND 3", name=op.f("ck_mall_commissions_level_at_most_3")
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_mall_commissions_amount_positive")),
        sa.CheckConstraint(
            "status IN ('frozen', 'released', 'clawed_back')",
            name=op.f("ck_mall_commissions_status"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "order_ref", "level", name=op.f("pk_mall_commissions")
        ),
    )
    op.create_index(
        "ix_mall_commissions_tenant_beneficiary",
        "mall_commissions",
        ["tenant_id", "beneficiary"],
        unique=False,
    )
    op.create_table(
        "mall_referral_rewards",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("beneficiary", sa.String(length=100), nullable=False),
        sa.Column("buyer", sa.String(length=100), nullable=False),
        sa.Column("points_units", sa.BigInteger(), nullable=False),
        sa.Column("journal_id", sa.BigInteger(), nullable=False),
        _at("created_at"),
        sa.CheckConstraint(
            "level BETWEEN 1 AND 3", name=op.f("ck_mall_referral_rewards_level_at_most_3")
        ),
        sa.CheckConstraint(
            "points_units > 0", name=op.f("ck_mall_referral_rewards_points_positive")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "order_ref", "level", name=op.f("pk_mall_referral_rewards")
        ),
    )
    op.create_index(
        "ix_mall_referral_rewards_tenant_beneficiary",
        "mall_referral_rewards",
        ["tenant_id", "beneficiary"],
        unique=False,
    )
    op.create_table(
        "mall_debts",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("owed_fen", sa.BigInteger(), nullable=False),
        sa.Column("repaid_fen", sa.BigInteger(), nullable=False),
        _at("updated_at"),
        sa.CheckConstraint(
            "repaid_fen >= 0 AND repaid_fen <= owed_fen",
            name=op.f("ck_mall_debts_repaid_within_owed"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name=op.f("pk_mall_debts")),
    )
    op.create_index(
        "ix_mall_users_tenant_inviter", "mall_users", ["tenant_id", "inviter_id"], unique=False
    )
    op.create_table(
        "mall_withdrawals",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("withdrawal_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("debt_repaid_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        _at("created_at"),
        _at("decided_at", nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_mall_withdrawals_amount_positive")),
        sa.CheckConstraint(
            "debt_repaid_fen >= 0", name=op.f("ck_mall_withdrawals_debt_repaid_not_negative")
        ),
        sa.CheckConstraint(
            "approvals_required IN (1, 2)", name=op.f("ck_mall_withdrawals_approvals_required")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'rejected')", name=op.f("ck_mall_withdrawals_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_withdrawals_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "withdrawal_id", name=op.f("pk_mall_withdrawals")),
    )
    op.create_index("ix_mall_withdrawals_tenant_user", "mall_withdrawals", ["tenant_id", "user_id"])
    op.create_index(
        "ix_mall_withdrawals_tenant_status", "mall_withdrawals", ["tenant_id", "status"]
    )
    op.create_table(
        "mall_withdrawal_approvals",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("withdrawal_id", sa.String(length=40), nullable=False),
        sa.Column("admin_id", sa.String(length=40), nullable=False),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "withdrawal_id"],
            ["mall_withdrawals.tenant_id", "mall_withdrawals.withdrawal_id"],
            name=op.f("fk_mall_withdrawal_approvals_tenant_id_mall_withdrawals"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "admin_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_withdrawal_approvals_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "withdrawal_id", "admin_id", name=op.f("pk_mall_withdrawal_approvals")
        ),
    )
    op.create_table(
        "mall_withdrawal_settings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("requires_kyc", sa.Boolean(), nullable=False),
        sa.Column("min_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("two_approver_threshold_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        _at("updated_at"),
        sa.CheckConstraint(
            "min_amount_fen > 0", name=op.f("ck_mall_withdrawal_settings_min_amount_positive")
        ),
        sa.CheckConstraint(
            "two_approver_threshold_fen > 0",
            name=op.f("ck_mall_withdrawal_settings_threshold_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name=op.f("fk_mall_withdrawal_settings_tenant_id_mall_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_mall_withdrawal_settings")),
    )


def downgrade() -> None:
    op.drop_table("mall_withdrawal_settings")
    op.drop_table("mall_withdrawal_approvals")
    op.drop_index("ix_mall_withdrawals_tenant_status", table_name="mall_withdrawals")
    op.drop_index("ix_mall_withdrawals_tenant_user", table_name="mall_withdrawals")
    op.drop_table("mall_withdrawals")
    op.drop_index("ix_mall_users_tenant_inviter", table_name="mall_users")
    op.drop_table("mall_debts")
    op.drop_index("ix_mall_referral_rewards_tenant_beneficiary", table_name="mall_referral_rewards")
    op.drop_table("mall_referral_rewards")
    op.drop_index("ix_mall_commissions_tenant_beneficiary", table_name="mall_commissions")
    op.drop_table("mall_commissions")
