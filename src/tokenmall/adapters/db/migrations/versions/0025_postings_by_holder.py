"""postings indexed by holder, for a person's statement (流水)

Revision ID: 0025_postings_by_holder
Revises: 0024_market_trades
Create Date: 2026-12-05

``ix_postings_holder`` (tenant_id, holder, journal_id), partial: only postings to a person's
account (holder not ''), so a statement page is an index range read, newest journal first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_postings_by_holder"
down_revision = "0024_market_trades"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_postings_holder",
        "postings",
        ["tenant_id", "holder", "journal_id"],
        postgresql_where=sa.text("holder <> ''"),
        sqlite_where=sa.text("holder <> ''"),
    )


def downgrade() -> None:
    op.drop_index("ix_postings_holder", table_name="postings")
