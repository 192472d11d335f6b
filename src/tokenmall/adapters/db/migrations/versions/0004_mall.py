"""mall: operators, tenants' names, users, sessions, API keys, catalogue, stock, idempotency

Revision ID: 0004_mall
Revises: 0003_command_inbox
Create Date: 2026-11-22

The mall's tables (issue 4), as ``tokenmall.adapters.db.mall.tables`` defines them; a test
compares the two. ``tenant_id`` leads every key except the platform's operators, and
``mall_tenants`` refers to the ledger's ``tenants`` row that holds the parameters.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_mall"
down_revision = "0003_command_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mall_idempotency",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "scope", "idempotency_key", name=op.f("pk_mall_idempotency")
        ),
    )
    op.create_table(
        "mall_operators",
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("operator_id", name=op.f("pk_mall_operators")),
        sa.UniqueConstraint("email", name="uq_mall_operators_email"),
    )
    op.create_table(
        "mall_operator_sessions",
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("operator_id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["mall_operators.operator_id"],
            name=op.f("fk_mall_operator_sessions_operator_id_mall_operators"),
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_mall_operator_sessions")),
    )
    op.create_table(
        "mall_tenants",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name="fk_mall_tenants_ledger"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_mall_tenants")),
    )
    op.create_table(
        "mall_users",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("kyc_status", sa.String(length=16), nullable=False),
        sa.Column("invite_code", sa.String(length=16), nullable=False),
        sa.Column("inviter_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kyc_status IN ('none', 'pending', 'verified', 'rejected')",
            name=op.f("ck_mall_users_kyc_status"),
        ),
        sa.CheckConstraint(
            "role IN ('consumer', 'merchant', 'admin')", name=op.f("ck_mall_users_role")
        ),
        sa.CheckConstraint(
            "inviter_id IS NULL OR inviter_id <> user_id",
            name=op.f("ck_mall_users_not_own_inviter"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "inviter_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name="fk_mall_users_inviter",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name=op.f("fk_mall_users_tenant_id_mall_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name=op.f("pk_mall_users")),
        sa.UniqueConstraint("tenant_id", "email", name="uq_mall_users_tenant_email"),
        sa.UniqueConstraint("tenant_id", "invite_code", name="uq_mall_users_tenant_invite_code"),
    )
    op.create_table(
        "mall_api_keys",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_api_keys_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", name=op.f("pk_mall_api_keys")),
    )
    op.create_table(
        "mall_merchants",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_user_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "owner_user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_merchants_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "merchant_id", name=op.f("pk_mall_merchants")),
        sa.UniqueConstraint("tenant_id", "owner_user_id", name="uq_mall_merchants_tenant_owner"),
    )
    op.create_table(
        "mall_sessions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_sessions_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "session_id", name=op.f("pk_mall_sessions")),
    )
    op.create_table(
        "mall_products",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'hidden')", name=op.f("ck_mall_products_status")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "merchant_id"],
            ["mall_merchants.tenant_id", "mall_merchants.merchant_id"],
            name=op.f("fk_mall_products_tenant_id_mall_merchants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "product_id", name=op.f("pk_mall_products")),
    )
    op.create_index(
        "ix_mall_products_tenant_merchant",
        "mall_products",
        ["tenant_id", "merchant_id"],
        unique=False,
    )
    op.create_table(
        "mall_skus",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("sku_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=False),
        sa.Column("pool_contribution_fen", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "pool_contribution_fen IS NULL OR "
            "(pool_contribution_fen >= 0 AND pool_contribution_fen <= price_fen)",
            name=op.f("ck_mall_skus_contribution_within_price"),
        ),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_mall_skus_price_positive")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_mall_skus_stock_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["mall_products.tenant_id", "mall_products.product_id"],
            name=op.f("fk_mall_skus_tenant_id_mall_products"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "sku_id", name=op.f("pk_mall_skus")),
    )
    op.create_index(
        "ix_mall_skus_tenant_product", "mall_skus", ["tenant_id", "product_id"], unique=False
    )
    op.create_table(
        "mall_stock_movements",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("movement_id", sa.String(length=40), nullable=False),
        sa.Column("sku_id", sa.String(length=40), nullable=False),
        sa.Column("change", sa.BigInteger(), nullable=False),
        sa.Column("stock_after", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('restock', 'adjustment', 'reservation', 'release')",
            name=op.f("ck_mall_stock_movements_reason"),
        ),
        sa.CheckConstraint("change <> 0", name=op.f("ck_mall_stock_movements_change_not_zero")),
        sa.CheckConstraint(
            "stock_after >= 0", name=op.f("ck_mall_stock_movements_stock_after_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["mall_skus.tenant_id", "mall_skus.sku_id"],
            name=op.f("fk_mall_stock_movements_tenant_id_mall_skus"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "movement_id", name=op.f("pk_mall_stock_movements")),
    )
    op.create_index(
        "ix_mall_stock_movements_tenant_sku",
        "mall_stock_movements",
        ["tenant_id", "sku_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_mall_stock_movements_tenant_sku", table_name="mall_stock_movements")
    op.drop_table("mall_stock_movements")
    op.drop_index("ix_mall_skus_tenant_product", table_name="mall_skus")
    op.drop_table("mall_skus")
    op.drop_index("ix_mall_products_tenant_merchant", table_name="mall_products")
    op.drop_table("mall_products")
    op.drop_table("mall_sessions")
    op.drop_table("mall_merchants")
    op.drop_table("mall_api_keys")
    op.drop_table("mall_users")
    op.drop_table("mall_tenants")
    op.drop_table("mall_operator_sessions")
    op.drop_table("mall_operators")
    op.drop_table("mall_idempotency")
