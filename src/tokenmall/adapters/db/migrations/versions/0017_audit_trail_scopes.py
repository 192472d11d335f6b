"""audit trail, API key scopes, signup marks, integration caps

Revision ID: 0017_audit_trail_scopes
Revises: 0016_journals_immutable
Create Date: 2026-12-04

The tables of ``tokenmall.adapters.db.mall.access``. Keys that exist when this runs predate
scopes: they get ``integration`` only (what a shop's server-to-server key is for), never
``admin``; an admin who automated other work with a key mints a new key with the scopes it
needs (docs/security.md, "API key scopes").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_audit_trail_scopes"
down_revision = "0016_journals_immutable"
branch_labels = None
depends_on = None

LEGACY_SCOPES = "integration"


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mall_audit_trail",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        _at("at"),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("actor_via", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name=op.f("fk_mall_audit_trail_tenant_id_mall_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "entry_id", name=op.f("pk_mall_audit_trail")),
    )
    op.create_index(
        "ix_mall_audit_trail_tenant_subject", "mall_audit_trail", ["tenant_id", "subject_id"]
    )
    op.create_index(
        "ix_mall_audit_trail_tenant_action", "mall_audit_trail", ["tenant_id", "action"]
    )
    op.create_table(
        "mall_api_key_scopes",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("scopes", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "key_id"],
            ["mall_api_keys.tenant_id", "mall_api_keys.key_id"],
            name=op.f("fk_mall_api_key_scopes_tenant_id_mall_api_keys"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", name=op.f("pk_mall_api_key_scopes")),
    )
    op.execute(
        sa.text(
            "INSERT INTO mall_api_key_scopes (tenant_id, key_id, scopes) "
            "SELECT tenant_id, key_id, :scopes FROM mall_api_keys"
        ).bindparams(scopes=LEGACY_SCOPES)
    )
    op.create_table(
        "mall_signup_marks",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_signup_marks_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name=op.f("pk_mall_signup_marks")),
    )
    op.create_index(
        "ix_mall_signup_marks_tenant_fingerprint",
        "mall_signup_marks",
        ["tenant_id", "fingerprint"],
    )
    op.create_table(
        "mall_integration_caps",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("per_order_fen", sa.BigInteger(), nullable=True),
        sa.Column("per_day_fen", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        _at("updated_at"),
        sa.CheckConstraint(
            "per_order_fen IS NULL OR per_order_fen > 0",
            name=op.f("ck_mall_integration_caps_per_order_positive"),
        ),
        sa.CheckConstraint(
            "per_day_fen IS NULL OR per_day_fen > 0",
            name=op.f("ck_mall_integration_caps_per_day_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name=op.f("fk_mall_integration_caps_tenant_id_mall_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_mall_integration_caps")),
    )


def downgrade() -> None:
    op.drop_table("mall_integration_caps")
    op.drop_index("ix_mall_signup_marks_tenant_fingerprint", table_name="mall_signup_marks")
    op.drop_table("mall_signup_marks")
    op.drop_table("mall_api_key_scopes")
    op.drop_index("ix_mall_audit_trail_tenant_action", table_name="mall_audit_trail")
    op.drop_index("ix_mall_audit_trail_tenant_subject", table_name="mall_audit_trail")
    op.drop_table("mall_audit_trail")
