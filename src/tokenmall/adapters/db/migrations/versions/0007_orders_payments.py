"""orders, carts and payments: carts, orders and their lines and history, payments, gateway
callbacks and processed event ids, refunds, per-tenant order settings

Revision ID: 0007_orders_payments
Revises: 0006_cashflow
Create Date: 2026-11-30

The tables of ``tokenmall.adapters.db.mall.orders``, exactly (a test compares them).
``tenant_id`` leads every key and index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_orders_payments"
down_revision = "0006_cashflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mall_gateway_events",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "gateway", "event_id", name=op.f("pk_mall_gateway_events")
        ),
    )
    op.create_table(
        "mall_payment_callbacks",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("callback_id", sa.String(length=40), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'refused')", name=op.f("ck_mall_payment_callbacks_outcome")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "callback_id", name=op.f("pk_mall_payment_callbacks")),
    )
    op.create_index(
        "ix_mall_payment_callbacks_tenant_payment",
        "mall_payment_callbacks",
        ["tenant_id", "payment_id"],
        unique=False,
    )
    op.create_table(
        "mall_order_settings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("return_window_days", sa.Integer(), nullable=False),
        sa.Column("payment_timeout_minutes", sa.Integer(), nullable=False),
        sa.Column("auto_confirm_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "auto_confirm_days BETWEEN 1 AND 365", name=op.f("ck_mall_order_settings_auto_confirm")
        ),
        sa.CheckConstraint(
            "payment_timeout_minutes BETWEEN 1 AND 10080",
            name=op.f("ck_mall_order_settings_payment_timeout"),
        ),
        sa.CheckConstraint(
            "return_window_days BETWEEN 0 AND 365",
            name=op.f("ck_mall_order_settings_return_window"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name=op.f("fk_mall_order_settings_tenant_id_mall_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_mall_order_settings")),
    )
    op.create_table(
        "mall_orders",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("checkout_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("money_fen", sa.BigInteger(), nullable=False),
        sa.Column("stable_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pay_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("rewards_journal_id", sa.BigInteger(), nullable=True),
        sa.Column("rewards_points", sa.String(length=40), nullable=True),
        sa.Column("rewards_price", sa.String(length=40), nullable=True),
        sa.Column("rewards_contribution_fen", sa.BigInteger(), nullable=True),
        sa.Column("rewards_booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('created', 'paid', 'shipped', 'received', 'completed', "
            "'cancelled', 'refunded')",
            name=op.f("ck_mall_orders_status"),
        ),
        sa.CheckConstraint(
            "money_fen >= 0 AND stable_fen >= 0 AND money_fen + stable_fen = total_fen",
            name=op.f("ck_mall_orders_plan_adds_up"),
        ),
        sa.CheckConstraint("total_fen > 0", name=op.f("ck_mall_orders_total_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "merchant_id"],
            ["mall_merchants.tenant_id", "mall_merchants.merchant_id"],
            name=op.f("fk_mall_orders_tenant_id_mall_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_orders_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "order_id", name=op.f("pk_mall_orders")),
    )
    op.create_index(
        "ix_mall_orders_tenant_merchant", "mall_orders", ["tenant_id", "merchant_id"], unique=False
    )
    op.create_index(
        "ix_mall_orders_tenant_status", "mall_orders", ["tenant_id", "status"], unique=False
    )
    op.create_index(
        "ix_mall_orders_tenant_user", "mall_orders", ["tenant_id", "user_id"], unique=False
    )
    op.create_table(
        "mall_order_events",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["mall_orders.tenant_id", "mall_orders.order_id"],
            name=op.f("fk_mall_order_events_tenant_id_mall_orders"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name=op.f("pk_mall_order_events")),
    )
    op.create_index(
        "ix_mall_order_events_tenant_order",
        "mall_order_events",
        ["tenant_id", "order_id"],
        unique=False,
    )
    op.create_table(
        "mall_payments",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("provider_ref", sa.String(length=120), nullable=False),
        sa.Column("redirect_url", sa.String(length=1000), nullable=False),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'failed', 'succeeded', 'refunded', 'closed')",
            name=op.f("ck_mall_payments_status"),
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_mall_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["mall_orders.tenant_id", "mall_orders.order_id"],
            name=op.f("fk_mall_payments_tenant_id_mall_orders"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "payment_id", name=op.f("pk_mall_payments")),
        sa.UniqueConstraint(
            "tenant_id", "gateway", "provider_ref", name="uq_mall_payments_tenant_provider_ref"
        ),
    )
    op.create_index(
        "ix_mall_payments_tenant_order", "mall_payments", ["tenant_id", "order_id"], unique=False
    )
    op.create_table(
        "mall_refunds",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("refund_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("money_fen", sa.BigInteger(), nullable=False),
        sa.Column("stable_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("adjustment", sa.Boolean(), nullable=False),
        sa.Column("provider_ref", sa.String(length=120), nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'succeeded', 'rejected')", name=op.f("ck_mall_refunds_status")
        ),
        sa.CheckConstraint(
            "money_fen >= 0 AND stable_fen >= 0", name=op.f("ck_mall_refunds_amounts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["mall_orders.tenant_id", "mall_orders.order_id"],
            name=op.f("fk_mall_refunds_tenant_id_mall_orders"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "refund_id", name=op.f("pk_mall_refunds")),
    )
    op.create_index(
        "ix_mall_refunds_tenant_order", "mall_refunds", ["tenant_id", "order_id"], unique=False
    )
    op.create_table(
        "mall_cart_lines",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("sku_id", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_mall_cart_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["mall_skus.tenant_id", "mall_skus.sku_id"],
            name=op.f("fk_mall_cart_lines_tenant_id_mall_skus"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_cart_lines_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", "sku_id", name=op.f("pk_mall_cart_lines")),
    )
    op.create_table(
        "mall_order_lines",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("sku_name", sa.String(length=200), nullable=False),
        sa.Column("unit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("line_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("pool_contribution_fen", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "line_total_fen = unit_price_fen * quantity",
            name=op.f("ck_mall_order_lines_line_total"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_mall_order_lines_quantity_positive")),
        sa.CheckConstraint("unit_price_fen > 0", name=op.f("ck_mall_order_lines_price_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            ["mall_orders.tenant_id", "mall_orders.order_id"],
            name=op.f("fk_mall_order_lines_tenant_id_mall_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sku_id"],
            ["mall_skus.tenant_id", "mall_skus.sku_id"],
            name=op.f("fk_mall_order_lines_tenant_id_mall_skus"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "order_id", "line_no", name=op.f("pk_mall_order_lines")
        ),
    )


def downgrade() -> None:
    op.drop_table("mall_order_lines")
    op.drop_table("mall_cart_lines")
    op.drop_index("ix_mall_refunds_tenant_order", table_name="mall_refunds")
    op.drop_table("mall_refunds")
    op.drop_index("ix_mall_payments_tenant_order", table_name="mall_payments")
    op.drop_table("mall_payments")
    op.drop_index("ix_mall_order_events_tenant_order", table_name="mall_order_events")
    op.drop_table("mall_order_events")
    op.drop_index("ix_mall_orders_tenant_user", table_name="mall_orders")
    op.drop_index("ix_mall_orders_tenant_status", table_name="mall_orders")
    op.drop_index("ix_mall_orders_tenant_merchant", table_name="mall_orders")
    op.drop_table("mall_orders")
    op.drop_table("mall_order_settings")
    op.drop_index("ix_mall_payment_callbacks_tenant_payment", table_name="mall_payment_callbacks")
    op.drop_table("mall_payment_callbacks")
    op.drop_table("mall_gateway_events")
