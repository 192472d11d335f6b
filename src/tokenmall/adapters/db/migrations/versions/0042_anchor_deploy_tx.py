"""the anchoring contract's deploying transaction

Revision ID: 0042_anchor_deploy_tx
Revises: 0040_refund_states
Create Date: 2026-12-06

A contract deployed from the console, the API or the CLI keeps the hash and the block of the
transaction that created it, so an auditor can find it on the chain.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0042_anchor_deploy_tx"
down_revision = "0040_refund_states"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_anchor_settings") as batch:
        batch.add_column(sa.Column("deploy_tx_hash", sa.String(66), nullable=True))
        batch.add_column(sa.Column("deploy_block", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_anchor_settings") as batch:
        batch.drop_column("deploy_block")
        batch.drop_column("deploy_tx_hash")
