"""the scheduler's scans of payments still open and refunds still processing, indexed

Revision ID: 0044_open_scan_indexes
Revises: 0043_wechat_openids
Create Date: 2026-12-06

Each round of the scheduler asks the channels about every tenant's payments still open (pending
or failed, oldest first) and refunds still processing (longest waiting first). Without an index
each round reads every payment and every refund ever made; these partial indexes hold only the
few rows still open, ordered as the scans read them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0044_open_scan_indexes"
down_revision = "0043_wechat_openids"
branch_labels = None
depends_on = None

_OPEN = "status IN ('pending', 'failed')"
_PROCESSING = "status = 'processing'"


def upgrade() -> None:
    op.create_index(
        "ix_mall_payments_open",
        "mall_payments",
        ["created_at", "payment_id"],
        if_not_exists=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.create_index(
        "ix_mall_refunds_processing",
        "mall_refunds",
        ["submitted_at", "tenant_id", "refund_id"],
        if_not_exists=True,
        sqlite_where=sa.text(_PROCESSING),
        postgresql_where=sa.text(_PROCESSING),
    )


def downgrade() -> None:
    op.drop_index("ix_mall_refunds_processing", table_name="mall_refunds", if_exists=True)
    op.drop_index("ix_mall_payments_open", table_name="mall_payments", if_exists=True)
