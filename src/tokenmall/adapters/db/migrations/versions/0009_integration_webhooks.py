"""integration orders and outgoing webhooks

Revision ID: 0009_integration_webhooks
Revises: 0008_referrals_withdrawals
Create Date: 2026-11-30

An integrated shop's users and orders (``adapters/db/mall/integration.py``) and the outbox of
events with their webhook endpoints, deliveries and attempts (``adapters/db/mall/events.py``);
a test compares them with the tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_integration_webhooks"
down_revision = "0008_referrals_withdrawals"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mall_external_users",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("referrer_user_id", sa.String(length=40), nullable=True),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name="fk_mall_external_users_user",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "external_id", name=op.f("pk_mall_external_users")),
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_mall_external_users_tenant_user"),
    )
    op.create_table(
        "mall_integration_orders",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("external_order_id", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("external_user_id", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("contribution_fen", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("rewards", sa.Text(), nullable=True),
        _at("paid_at"),
        _at("booked_at", nullable=True),
        _at("completed_at", nullable=True),
        _at("refunded_at", nullable=True),
        sa.CheckConstraint(
            "state IN ('paid', 'completed', 'refunded')",
            name=op.f("ck_mall_integration_orders_state"),
        ),
        sa.CheckConstraint(
            "amount_fen > 0", name=op.f("ck_mall_integration_orders_amount_positive")
        ),
        sa.CheckConstraint("booked IN (0, 1)", name=op.f("ck_mall_integration_orders_booked_flag")),
        sa.CheckConstraint(
            "contribution_fen IS NULL OR "
            "(contribution_fen >= 0 AND contribution_fen <= amount_fen)",
            name=op.f("ck_mall_integration_orders_contribution_in_amount"),
        ),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen",
            name=op.f("ck_mall_integration_orders_refund_in_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name="fk_mall_integration_orders_user",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "external_order_id", name=op.f("pk_mall_integration_orders")
        ),
        sa.UniqueConstraint("tenant_id", "order_ref", name="uq_mall_integration_orders_tenant_ref"),
    )
    op.create_table(
        "mall_integration_events",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("external_order_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        _at("created_at"),
        sa.CheckConstraint(
            "event IN ('paid', 'completed', 'refunded')",
            name=op.f("ck_mall_integration_events_event"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "external_order_id", "event", name=op.f("pk_mall_integration_events")
        ),
    )
    op.create_table(
        "mall_webhook_endpoints",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        _at("created_at"),
        _at("deleted_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name=op.f("fk_mall_webhook_endpoints_tenant_id_mall_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "endpoint_id", name=op.f("pk_mall_webhook_endpoints")),
    )
    op.create_table(
        "mall_events",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name=op.f("pk_mall_events")),
    )
    op.create_table(
        "mall_webhook_deliveries",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        _at("next_attempt_at", nullable=True),
        _at("last_attempt_at", nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        _at("delivered_at", nullable=True),
        _at("created_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_mall_webhook_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["mall_webhook_endpoints.tenant_id", "mall_webhook_endpoints.endpoint_id"],
            name="fk_mall_webhook_deliveries_endpoint",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "event_id"],
            ["mall_events.tenant_id", "mall_events.event_id"],
            name="fk_mall_webhook_deliveries_event",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "delivery_id", name=op.f("pk_mall_webhook_deliveries")
        ),
    )
    op.create_index(
        "ix_mall_webhook_deliveries_due",
        "mall_webhook_deliveries",
        ["tenant_id", "status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_mall_webhook_deliveries_event",
        "mall_webhook_deliveries",
        ["tenant_id", "event_id"],
        unique=False,
    )
    op.create_table(
        "mall_webhook_attempts",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _at("attempted_at"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["mall_webhook_deliveries.tenant_id", "mall_webhook_deliveries.delivery_id"],
            name="fk_mall_webhook_attempts_delivery",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "delivery_id", "attempt", name=op.f("pk_mall_webhook_attempts")
        ),
    )


def downgrade() -> None:
    op.drop_table("mall_webhook_attempts")
    op.drop_index("ix_mall_webhook_deliveries_event", table_name="mall_webhook_deliveries")
    op.drop_index("ix_mall_webhook_deliveries_due", table_name="mall_webhook_deliveries")
    op.drop_table("mall_webhook_deliveries")
    op.drop_table("mall_events")
    op.drop_table("mall_webhook_endpoints")
    op.drop_table("mall_integration_events")
    op.drop_table("mall_integration_orders")
    op.drop_table("mall_external_users")
