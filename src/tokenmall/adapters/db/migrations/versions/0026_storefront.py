"""the storefront: product images, categories, banners, and product search

Revision ID: 0026_storefront
Revises: 0025_postings_by_holder
Create Date: 2026-12-05

The tables of ``tokenmall.adapters.db.storefront.tables``. Search, Chinese friendly:
on SQLite an FTS5 table ``store_search`` with the trigram tokenizer (any three characters of
a title or description match, Chinese included), filled from ``mall_products`` and kept by
triggers on it; on PostgreSQL a pg_trgm GIN index on the products' text that serves
``ILIKE '%…%'`` (made only where the extension can be created; without it the same query
scans). A SQLite without FTS5 gets no ``store_search`` and search falls back to ``LIKE``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_storefront"
down_revision = "0025_postings_by_holder"
branch_labels = None
depends_on = None

TRGM_INDEX = "ix_store_products_trgm"
SQLITE_TRIGGERS = {
    "store_search_ai": (
        "AFTER INSERT ON mall_products BEGIN "
        "INSERT INTO store_search (tenant_id, product_id, body) "
        "VALUES (new.tenant_id, new.product_id, new.title || ' ' || new.description); END"
    ),
    "store_search_ad": (
        "AFTER DELETE ON mall_products BEGIN "
        "DELETE FROM store_search "
        "WHERE tenant_id = old.tenant_id AND product_id = old.product_id; END"
    ),
    "store_search_au": (
        "AFTER UPDATE OF title, description ON mall_products BEGIN "
        "UPDATE store_search SET body = new.title || ' ' || new.description "
        "WHERE tenant_id = new.tenant_id AND product_id = new.product_id; END"
    ),
}


def _tenant() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("tenant_id", sa.String(length=64), nullable=False)


def _id(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=40), nullable=nullable)


def _at(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["mall_tenants.tenant_id"], name=f"fk_{table}_tenant_id_mall_tenants"
    )


def _product_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "product_id"],
        ["mall_products.tenant_id", "mall_products.product_id"],
        name=f"fk_{table}_product",
    )


def _search_sqlite() -> None:
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(
                "CREATE VIRTUAL TABLE store_search USING fts5("
                "tenant_id UNINDEXED, product_id UNINDEXED, body, tokenize = 'trigram')"
            )
    except sa.exc.OperationalError:
        return  # no FTS5 (or no trigram tokenizer) in this SQLite: search uses LIKE
    bind.exec_driver_sql(
        "INSERT INTO store_search (tenant_id, product_id, body) "
        "SELECT tenant_id, product_id, title || ' ' || description FROM mall_products"
    )
    for name, body in SQLITE_TRIGGERS.items():
        bind.exec_driver_sql(f"CREATE TRIGGER {name} {body}")


def _search_postgresql() -> None:
    bind = op.get_bind()
    for statement in (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    ):
        try:
            with bind.begin_nested():
                bind.exec_driver_sql(statement)
            break
        except sa.exc.DBAPIError:
            continue
    schema = bind.exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    ).scalar()
    if schema is None:
        return  # no pg_trgm here: ILIKE scans the tenant's products instead
    with bind.begin_nested():
        bind.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON mall_products "
            f"USING gin ((title || ' ' || description) {schema}.gin_trgm_ops)"
        )


def upgrade() -> None:
    op.create_table(
        "store_images",
        _tenant(),
        _id("image_id"),
        _id("product_id", nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "image_id", name="pk_store_images"),
        _tenant_fk("store_images"),
        _product_fk("store_images"),
    )
    op.create_index(
        "ix_store_images_product", "store_images", ["tenant_id", "product_id", "position"]
    )
    op.create_table(
        "store_categories",
        _tenant(),
        _id("category_id"),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "category_id", name="pk_store_categories"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_store_categories_name"),
        _tenant_fk("store_categories"),
    )
    op.create_table(
        "store_product_categories",
        _tenant(),
        _id("product_id"),
        _id("category_id"),
        sa.PrimaryKeyConstraint("tenant_id", "product_id", name="pk_store_product_categories"),
        _product_fk("store_product_categories"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["store_categories.tenant_id", "store_categories.category_id"],
            name="fk_store_product_categories_category",
        ),
    )
    op.create_index(
        "ix_store_product_categories_category",
        "store_product_categories",
        ["tenant_id", "category_id", "product_id"],
    )
    op.create_table(
        "store_banners",
        _tenant(),
        _id("banner_id"),
        _id("image_id"),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "banner_id", name="pk_store_banners"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "image_id"],
            ["store_images.tenant_id", "store_images.image_id"],
            name="fk_store_banners_image",
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        _search_sqlite()
    elif op.get_bind().dialect.name == "postgresql":
        _search_postgresql()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS store_search")
    elif bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"DROP INDEX IF EXISTS {TRGM_INDEX}")
    op.drop_table("store_banners")
    op.drop_index("ix_store_product_categories_category", table_name="store_product_categories")
    op.drop_table("store_product_categories")
    op.drop_table("store_categories")
    op.drop_index("ix_store_images_product", table_name="store_images")
    op.drop_table("store_images")
