"""the NFG registry: settings, media, collections, allow-lists, tokens, reservations, right uses

Revision ID: 0019_nfg_registry
Revises: 0018_transparency_log
Create Date: 2026-12-04

The tables of ``tokenmall.adapters.db.nfg.tables`` (docs/design/nfg.md). The collections'
CHECK keeps ``minted + reserved <= edition_size``: the database refuses an oversold drop.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_nfg_registry"
down_revision = "0018_transparency_log"
branch_labels = None
depends_on = None

TOKEN_STATES = ("held", "listed", "locked", "redeeming", "redeemed", "burned")
RESERVATION_STATUSES = ("reserved", "assigned", "expired", "refunded")
COLLECTION_STATUSES = ("draft", "published", "closed")
PRICE_ASSETS = ("money", "stable", "equity")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _tenant() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("tenant_id", sa.String(length=64), nullable=False)


def _id(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=40), nullable=nullable)


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["mall_tenants.tenant_id"], name=f"fk_{table}_tenant_id_mall_tenants"
    )


def _collection_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "collection_id"],
        ["nfg_collections.tenant_id", "nfg_collections.collection_id"],
        name=f"fk_{table}_collection",
    )


def upgrade() -> None:
    op.create_table(
        "nfg_settings",
        _tenant(),
        sa.Column("gift_hold_days", sa.Integer(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_nfg_settings"),
        sa.CheckConstraint("gift_hold_days >= 0", name="ck_nfg_settings_gift_hold_days"),
        _tenant_fk("nfg_settings"),
    )
    op.create_table(
        "nfg_media",
        _tenant(),
        _id("media_id"),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "media_id", name="pk_nfg_media"),
        _tenant_fk("nfg_media"),
    )
    op.create_table(
        "nfg_collections",
        _tenant(),
        _id("collection_id"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _id("issuer_merchant_id", nullable=True),
        _id("media_id", nullable=True),
        sa.Column("edition_size", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("price_asset", sa.String(length=8), nullable=False),
        sa.Column("per_user_limit", sa.Integer(), nullable=False),
        sa.Column("rights", sa.Text(), nullable=False),
        _id("linked_sku_id", nullable=True),
        sa.Column("allow_list_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _at("sale_starts_at", nullable=True),
        _at("sale_ends_at", nullable=True),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("minted", sa.BigInteger(), nullable=False),
        sa.Column("burned", sa.BigInteger(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "collection_id", name="pk_nfg_collections"),
        sa.CheckConstraint("edition_size >= 1", name="ck_nfg_collections_edition_size"),
        sa.CheckConstraint("price >= 0", name="ck_nfg_collections_price"),
        sa.CheckConstraint("per_user_limit >= 1", name="ck_nfg_collections_per_user_limit"),
        sa.CheckConstraint(
            "reserved >= 0 AND minted >= 0 AND burned >= 0 AND burned <= minted "
            "AND minted + reserved <= edition_size",
            name="ck_nfg_collections_supply",
        ),
        sa.CheckConstraint(_in("price_asset", PRICE_ASSETS), name="ck_nfg_collections_price_asset"),
        sa.CheckConstraint(_in("status", COLLECTION_STATUSES), name="ck_nfg_collections_status"),
        _tenant_fk("nfg_collections"),
    )
    op.create_table(
        "nfg_allow_list",
        _tenant(),
        _id("collection_id"),
        _id("user_id"),
        sa.PrimaryKeyConstraint("tenant_id", "collection_id", "user_id", name="pk_nfg_allow_list"),
        _collection_fk("nfg_allow_list"),
    )
    op.create_table(
        "nfg_tokens",
        _tenant(),
        _id("collection_id"),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        _id("owner_id"),
        sa.Column("state", sa.String(length=16), nullable=False),
        _at("acquired_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "collection_id", "serial", name="pk_nfg_tokens"),
        sa.CheckConstraint("serial >= 1", name="ck_nfg_tokens_serial"),
        sa.CheckConstraint(_in("state", TOKEN_STATES), name="ck_nfg_tokens_state"),
        _collection_fk("nfg_tokens"),
    )
    op.create_index("ix_nfg_tokens_tenant_owner", "nfg_tokens", ["tenant_id", "owner_id"])
    op.create_table(
        "nfg_reservations",
        _tenant(),
        _id("reservation_id"),
        _id("collection_id"),
        _id("user_id"),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _id("payment_id", nullable=True),
        sa.Column("serials", sa.Text(), nullable=True),
        _at("created_at"),
        _at("expires_at"),
        _at("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "reservation_id", name="pk_nfg_reservations"),
        sa.CheckConstraint("quantity >= 1", name="ck_nfg_reservations_quantity"),
        sa.CheckConstraint(_in("status", RESERVATION_STATUSES), name="ck_nfg_reservations_status"),
        _collection_fk("nfg_reservations"),
    )
    op.create_index(
        "ix_nfg_reservations_user",
        "nfg_reservations",
        ["tenant_id", "collection_id", "user_id"],
    )
    op.create_index("ix_nfg_reservations_expiry", "nfg_reservations", ["status", "expires_at"])
    op.create_table(
        "nfg_right_uses",
        _tenant(),
        _id("use_id"),
        _id("collection_id"),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("right_kind", sa.String(length=16), nullable=False),
        _id("used_by"),
        _id("order_id", nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        _at("used_at"),
        sa.PrimaryKeyConstraint("tenant_id", "use_id", name="pk_nfg_right_uses"),
        _collection_fk("nfg_right_uses"),
    )
    op.create_index(
        "ix_nfg_right_uses_token", "nfg_right_uses", ["tenant_id", "collection_id", "serial"]
    )


def downgrade() -> None:
    op.drop_index("ix_nfg_right_uses_token", table_name="nfg_right_uses")
    op.drop_table("nfg_right_uses")
    op.drop_index("ix_nfg_reservations_expiry", table_name="nfg_reservations")
    op.drop_index("ix_nfg_reservations_user", table_name="nfg_reservations")
    op.drop_table("nfg_reservations")
    op.drop_index("ix_nfg_tokens_tenant_owner", table_name="nfg_tokens")
    op.drop_table("nfg_tokens")
    op.drop_table("nfg_allow_list")
    op.drop_table("nfg_collections")
    op.drop_table("nfg_media")
    op.drop_table("nfg_settings")
