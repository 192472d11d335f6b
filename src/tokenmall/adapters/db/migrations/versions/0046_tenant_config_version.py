"""a tenant's configuration version: what a per-process cache of its configuration checks

Revision ID: 0046_tenant_config_version
Revises: 0045_token_traded_at
Create Date: 2026-12-07

The checkout reads a tenant's payment channels, its collections' rights and its order
settings on every request; they change rarely. ``mall_tenants.config_version`` is bumped in
the same transaction as any change to them (``adapters/db/mall/config_version.py``), so a
process caches them against the version it reads (one statement) and is never stale.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0046_tenant_config_version"
down_revision = "0045_token_traded_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mall_tenants") as batch:
        batch.add_column(
            sa.Column("config_version", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    # In place (SQLite 3.35+: ALTER TABLE … DROP COLUMN): a rebuild would drop mall_tenants,
    # which every tenant's rows refer to (see 0012_addresses).
    with op.batch_alter_table("mall_tenants", recreate="never") as batch:
        batch.drop_column("config_version")
