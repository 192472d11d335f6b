"""the transparency log: heads, leaves, nodes, checkpoints, keys, logged ledger days

Revision ID: 0018_transparency_log
Revises: 0017_audit_trail_scopes
Create Date: 2026-12-04

The tables of ``tokenmall.adapters.db.nfg.log_tables`` (docs/design/nfg.md, "The transparency
log"). Nothing is backfilled: a tenant's log starts empty, and its settled ledger days are
logged by the next tick.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_transparency_log"
down_revision = "0017_audit_trail_scopes"
branch_labels = None
depends_on = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["mall_tenants.tenant_id"], name=f"fk_{table}_tenant_id_mall_tenants"
    )


def _tenant() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("tenant_id", sa.String(length=64), nullable=False)


def _at(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "log_heads",
        _tenant(),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("signed_size", sa.BigInteger(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_log_heads"),
        _tenant_fk("log_heads"),
    )
    op.create_table(
        "log_leaves",
        _tenant(),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=True),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "idx", name="pk_log_leaves"),
        _tenant_fk("log_leaves"),
    )
    op.create_index("ix_log_leaves_tenant_subject", "log_leaves", ["tenant_id", "subject", "idx"])
    op.create_table(
        "log_nodes",
        _tenant(),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "level", "idx", name="pk_log_nodes"),
        _tenant_fk("log_nodes"),
    )
    op.create_table(
        "log_checkpoints",
        _tenant(),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "size", name="pk_log_checkpoints"),
        _tenant_fk("log_checkpoints"),
    )
    op.create_table(
        "log_keys",
        _tenant(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_log_keys"),
        _tenant_fk("log_keys"),
    )
    op.create_table(
        "log_days",
        _tenant(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_journal_id", sa.BigInteger(), nullable=True),
        sa.Column("last_journal_id", sa.BigInteger(), nullable=True),
        sa.Column("journals", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "day", name="pk_log_days"),
        _tenant_fk("log_days"),
    )


def downgrade() -> None:
    op.drop_table("log_days")
    op.drop_table("log_keys")
    op.drop_table("log_checkpoints")
    op.drop_table("log_nodes")
    op.drop_index("ix_log_leaves_tenant_subject", table_name="log_leaves")
    op.drop_table("log_leaves")
    op.drop_table("log_heads")
