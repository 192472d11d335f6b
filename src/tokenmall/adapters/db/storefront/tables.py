"""Tables of the storefront: uploaded images (a product's or a banner's), categories, each
product's category, and the home page's banners.

Search has no table here: on SQLite it is the FTS5 table ``store_search`` (trigram tokenizer)
kept by triggers on ``mall_products``, on PostgreSQL a pg_trgm index on the products' text;
both are made by the migration (``0026_storefront``) and read by ``search.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata

# Made by the migration only where the database can (PostgreSQL with pg_trgm), so not in
# ``metadata``: schema comparisons leave these out.
OPTIONAL_INDEXES = frozenset({"ix_store_products_trgm"})


def _at(name: str) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=False)


def _tenant_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id"], ["mall_tenants.tenant_id"], name=f"fk_{table}_tenant_id_mall_tenants"
    )


def _product_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "product_id"],
        ["mall_products.tenant_id", "mall_products.product_id"],
        name=f"fk_{table}_product",
    )


store_images = Table(
    "store_images",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("image_id", String(ID), nullable=False),
    Column("product_id", String(ID), nullable=True),
    Column("position", Integer, nullable=False),
    Column("content_type", String(40), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("thumbnail", LargeBinary, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "image_id", name="pk_store_images"),
    _tenant_fk("store_images"),
    _product_fk("store_images"),
    Index("ix_store_images_product", "tenant_id", "product_id", "position"),
)

store_categories = Table(
    "store_categories",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("category_id", String(ID), nullable=False),
    Column("name", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "category_id", name="pk_store_categories"),
    UniqueConstraint("tenant_id", "name", name="uq_store_categories_name"),
    _tenant_fk("store_categories"),
)

store_product_categories = Table(
    "store_product_categories",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("product_id", String(ID), nullable=False),
    Column("category_id", String(ID), nullable=False),
    PrimaryKeyConstraint("tenant_id", "product_id", name="pk_store_product_categories"),
    _product_fk("store_product_categories"),
    ForeignKeyConstraint(
        ["tenant_id", "category_id"],
        ["store_categories.tenant_id", "store_categories.category_id"],
        name="fk_store_product_categories_category",
    ),
    Index("ix_store_product_categories_category", "tenant_id", "category_id", "product_id"),
)

store_banners = Table(
    "store_banners",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("banner_id", String(ID), nullable=False),
    Column("image_id", String(ID), nullable=False),
    Column("title", String(100), nullable=False),
    Column("link", String(300), nullable=False),
    Column("position", Integer, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "banner_id", name="pk_store_banners"),
    ForeignKeyConstraint(
        ["tenant_id", "image_id"],
        ["store_images.tenant_id", "store_images.image_id"],
        name="fk_store_banners_image",
    ),
)
