"""command inbox: commands other processes leave for a tenant's writer (issue 3, part B)

Revision ID: 0003_command_inbox
Revises: 0001_ledger
Create Date: 2026-11-22

``tokenmall.adapters.db.inbox.command_inbox`` defines the same table. It is used on
PostgreSQL only (several API processes, one writer per tenant); SQLite has it for parity.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_command_inbox"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "command_inbox",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error_type", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'refused', 'failed')",
            name=op.f("ck_command_inbox_status"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_command_inbox")),
    )
    op.create_index(
        "ix_command_inbox_pending", "command_inbox", ["tenant_id", "status", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_command_inbox_pending", table_name="command_inbox")
    op.drop_table("command_inbox")
