"""the drop's counters: nfg_drop_counters and nfg_drop_buyers

Revision ID: 0022_drop_counters
Revises: 0020_nfg_rights
Create Date: 2026-12-05

A reservation of a drop no longer locks its collection's row: it takes the buyer's row of
``nfg_drop_buyers`` (an upsert, one row per collection and buyer), counts the per-user limit
under it, and takes its places from one of the collection's ``nfg_drop_counters`` rows (the free
places split over up to 64 rows when its first reservation comes: ``adapters/db/nfg/counters``).
The buyers' rows of reservations made before are filled in from ``nfg_reservations``; counters
open lazily, so existing collections need none. Downgrade folds open counters back into
``nfg_collections.reserved`` and drops the tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_drop_counters"
down_revision = "0021_kyc_submissions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nfg_drop_counters",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("collection_id", sa.String(length=40), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("free", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "collection_id", "shard", name="pk_nfg_drop_counters"),
        sa.CheckConstraint("free >= 0", name="ck_nfg_drop_counters_free"),
        sa.CheckConstraint("shard >= 0", name="ck_nfg_drop_counters_shard"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "collection_id"],
            ["nfg_collections.tenant_id", "nfg_collections.collection_id"],
            name="fk_nfg_drop_counters_collection",
        ),
    )
    op.create_table(
        "nfg_drop_buyers",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("collection_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("reservations", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "collection_id", "user_id", name="pk_nfg_drop_buyers"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "collection_id"],
            ["nfg_collections.tenant_id", "nfg_collections.collection_id"],
            name="fk_nfg_drop_buyers_collection",
        ),
    )
    op.execute(
        "INSERT INTO nfg_drop_buyers (tenant_id, collection_id, user_id, reservations) "
        "SELECT tenant_id, collection_id, user_id, count(*) FROM nfg_reservations "
        "GROUP BY tenant_id, collection_id, user_id"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE nfg_collections SET reserved = edition_size - minted - ("
        "SELECT sum(d.free) FROM nfg_drop_counters d WHERE d.tenant_id = nfg_collections.tenant_id"
        " AND d.collection_id = nfg_collections.collection_id) WHERE EXISTS ("
        "SELECT 1 FROM nfg_drop_counters d WHERE d.tenant_id = nfg_collections.tenant_id"
        " AND d.collection_id = nfg_collections.collection_id)"
    )
    op.drop_table("nfg_drop_buyers")
    op.drop_table("nfg_drop_counters")
