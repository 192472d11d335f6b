"""Tables of the NFG registry: collections, their allow-lists and media, tokens, reservations
of the drop, uses of rights, and each tenant's NFG settings.

A collection row carries its counters (``reserved``, ``minted``, ``burned``), changed only by
atomic ``UPDATE … SET x = x + :d`` under the row's lock, with CHECKs that keep ``minted +
reserved <= edition_size``: the database itself refuses an oversold drop. Once its drop opens,
its free places live on ``nfg_drop_counters`` rows (each ``free >= 0``) and ``reserved`` is
counted from them (``counters``). Tokens are keyed by
``(tenant, collection, serial)``: a serial exists once and a burned one stays (state
``burned``/``redeemed``), never reused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.nfg.records import (
    CollectionStatus,
    PriceAsset,
    ReservationStatus,
    TokenState,
)


def _in(column: str, values: type[Any]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def _at(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def tenant_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id"], ["mall_tenants.tenant_id"], name=f"fk_{table}_tenant_id_mall_tenants"
    )


def collection_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "collection_id"],
        ["nfg_collections.tenant_id", "nfg_collections.collection_id"],
        name=f"fk_{table}_collection",
    )


nfg_settings = Table(
    "nfg_settings",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("gift_hold_days", Integer, nullable=False),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id", name="pk_nfg_settings"),
    CheckConstraint("gift_hold_days >= 0", name="ck_nfg_settings_gift_hold_days"),
    tenant_fk("nfg_settings"),
)

nfg_media = Table(
    "nfg_media",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("media_id", String(ID), nullable=False),
    Column("content_type", String(40), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("thumbnail", LargeBinary, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "media_id", name="pk_nfg_media"),
    tenant_fk("nfg_media"),
)

nfg_collections = Table(
    "nfg_collections",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("issuer_merchant_id", String(ID), nullable=True),
    Column("media_id", String(ID), nullable=True),
    Column("edition_size", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("price_asset", String(8), nullable=False),
    Column("per_user_limit", Integer, nullable=False),
    Column("rights", Text, nullable=False),  # Rights.to_json()
    Column("linked_sku_id", String(ID), nullable=True),
    Column("allow_list_only", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    _at("sale_starts_at", nullable=True),
    _at("sale_ends_at", nullable=True),
    Column("reserved", BigInteger, nullable=False),
    Column("minted", BigInteger, nullable=False),
    Column("burned", BigInteger, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "collection_id", name="pk_nfg_collections"),
    CheckConstraint("edition_size >= 1", name="ck_nfg_collections_edition_size"),
    CheckConstraint("price >= 0", name="ck_nfg_collections_price"),
    CheckConstraint("per_user_limit >= 1", name="ck_nfg_collections_per_user_limit"),
    CheckConstraint(
        "reserved >= 0 AND minted >= 0 AND burned >= 0 AND burned <= minted "
        "AND minted + reserved <= edition_size",
        name="ck_nfg_collections_supply",
    ),
    CheckConstraint(_in("price_asset", PriceAsset), name="ck_nfg_collections_price_asset"),
    CheckConstraint(_in("status", CollectionStatus), name="ck_nfg_collections_status"),
    tenant_fk("nfg_collections"),
)

nfg_allow_list = Table(
    "nfg_allow_list",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    PrimaryKeyConstraint("tenant_id", "collection_id", "user_id", name="pk_nfg_allow_list"),
    collection_fk("nfg_allow_list"),
)

nfg_tokens = Table(
    "nfg_tokens",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("serial", BigInteger, nullable=False),
    Column("owner_id", String(ID), nullable=False),
    Column("state", String(16), nullable=False),
    _at("acquired_at"),
    _at("updated_at"),
    # minted or last bought on the market (a gift leaves it): the open profile's per-token hold
    _at("traded_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "collection_id", "serial", name="pk_nfg_tokens"),
    CheckConstraint("serial >= 1", name="ck_nfg_tokens_serial"),
    CheckConstraint(_in("state", TokenState), name="ck_nfg_tokens_state"),
    collection_fk("nfg_tokens"),
)
Index("ix_nfg_tokens_tenant_owner", nfg_tokens.c.tenant_id, nfg_tokens.c.owner_id)

nfg_reservations = Table(
    "nfg_reservations",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("reservation_id", String(ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment_id", String(ID), nullable=True),
    Column("serials", Text, nullable=True),  # JSON list, once assigned
    _at("created_at"),
    _at("expires_at"),
    _at("closed_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "reservation_id", name="pk_nfg_reservations"),
    CheckConstraint("quantity >= 1", name="ck_nfg_reservations_quantity"),
    CheckConstraint(_in("status", ReservationStatus), name="ck_nfg_reservations_status"),
    collection_fk("nfg_reservations"),
)
Index(
    "ix_nfg_reservations_user",
    nfg_reservations.c.tenant_id,
    nfg_reservations.c.collection_id,
    nfg_reservations.c.user_id,
)
Index("ix_nfg_reservations_expiry", nfg_reservations.c.status, nfg_reservations.c.expires_at)

# A drop's free places split over a few rows (``counters``), so buyers pressing at once take
# places from different rows instead of queueing for the collection's.
nfg_drop_counters = Table(
    "nfg_drop_counters",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("shard", Integer, nullable=False),
    Column("free", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "collection_id", "shard", name="pk_nfg_drop_counters"),
    CheckConstraint("free >= 0", name="ck_nfg_drop_counters_free"),
    CheckConstraint("shard >= 0", name="ck_nfg_drop_counters_shard"),
    collection_fk("nfg_drop_counters"),
)

# One row per (collection, buyer) of a drop: a reservation takes the buyer's row lock first (an
# upsert), so one buyer's presses run one at a time while other buyers never wait on it; the
# per-user limit is then counted under it. ``reservations``: reservations the buyer made.
nfg_drop_buyers = Table(
    "nfg_drop_buyers",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("reservations", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "collection_id", "user_id", name="pk_nfg_drop_buyers"),
    collection_fk("nfg_drop_buyers"),
)

nfg_right_uses = Table(
    "nfg_right_uses",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("use_id", String(ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("serial", BigInteger, nullable=False),
    Column("right_kind", String(16), nullable=False),
    Column("used_by", String(ID), nullable=False),  # the merchant or admin who checked it
    Column("order_id", String(ID), nullable=True),  # the order a discount or voucher went to
    Column("note", String(200), nullable=True),
    _at("used_at"),
    PrimaryKeyConstraint("tenant_id", "use_id", name="pk_nfg_right_uses"),
    collection_fk("nfg_right_uses"),
)
Index(
    "ix_nfg_right_uses_token",
    nfg_right_uses.c.tenant_id,
    nfg_right_uses.c.collection_id,
    nfg_right_uses.c.serial,
)
