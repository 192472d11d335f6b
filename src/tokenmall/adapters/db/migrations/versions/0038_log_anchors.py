"""the log's checkpoints anchored on an EVM chain: log_anchor_settings, log_anchors

Revision ID: 0038_log_anchors
Revises: 0034_payouts_reconciliation
Create Date: 2026-12-06

The tables of ``tokenmall.adapters.db.nfg.anchor_tables``: each tenant's chain settings (its
account's key sealed under the deployment's secret) and one row per anchored checkpoint with
the transaction, the block holding it and the retry state. Nothing is backfilled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038_log_anchors"
down_revision = "0034_payouts_reconciliation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_anchor_settings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("rpc_url", sa.String(length=500), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=True),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_log_anchor_settings"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["mall_tenants.tenant_id"],
            name="fk_log_anchor_settings_tenant_id_mall_tenants",
        ),
    )
    op.create_table(
        "log_anchors",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "size", name="pk_log_anchors"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "size"],
            ["log_checkpoints.tenant_id", "log_checkpoints.size"],
            name="fk_log_anchors_checkpoint",
        ),
    )


def downgrade() -> None:
    op.drop_table("log_anchors")
    op.drop_table("log_anchor_settings")
