"""Queries of the storefront (``tables``): images and their bytes, categories, each product's
category, banners, and the shop window's search.

Search (``search``) is Chinese friendly: on SQLite a query of three characters or more is a
phrase on the FTS5 trigram table ``store_search`` (any three consecutive characters of a
title or description match), a shorter one ``LIKE``; on PostgreSQL ``ILIKE '%…%'``, which the
pg_trgm index serves where the migration could make it. Results are the tenant's active
products in id order after ``after`` (keyset paging), so a page is stable while products are
added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy import update as sql_update

from tokenmall.adapters.db.mall.rows import record
from tokenmall.adapters.db.mall.tables import products
from tokenmall.adapters.db.storefront.tables import (
    store_banners,
    store_categories,
    store_images,
    store_product_categories,
)
from tokenmall.domain.mall.catalogue import Product, ProductStatus
from tokenmall.domain.mall.store import Banner, Category, StoredImage

TRIGRAM = 3  # the FTS5 trigram tokenizer matches phrases of at least this many characters
_IMAGE_COLUMNS = [c for c in store_images.c if c.name not in ("data", "thumbnail")]


def _image(row: Any) -> StoredImage:
    return record(StoredImage, row, utc=True)


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- images

    def add_image(self, image: StoredImage, data: bytes, thumbnail: bytes) -> None:
        self.conn.execute(
            insert(store_images).values(
                tenant_id=image.tenant_id,
                image_id=image.image_id,
                product_id=image.product_id,
                position=image.position,
                content_type=image.content_type,
                width=image.width,
                height=image.height,
                sha256=image.sha256,
                data=data,
                thumbnail=thumbnail,
                created_at=image.created_at,
            )
        )

    def get_image(self, tenant_id: str, image_id: str) -> StoredImage | None:
        row = self.conn.execute(
            select(*_IMAGE_COLUMNS).where(
                store_images.c.tenant_id == tenant_id, store_images.c.image_id == image_id
            )
        ).first()
        return None if row is None else _image(row)

    def image_bytes(
        self, tenant_id: str, image_id: str, thumbnail: bool
    ) -> tuple[StoredImage, bytes] | None:
        """The image and its bytes (or its thumbnail's)."""
        body = store_images.c.thumbnail if thumbnail else store_images.c.data
        row = self.conn.execute(
            select(*_IMAGE_COLUMNS, body.label("body")).where(
                store_images.c.tenant_id == tenant_id, store_images.c.image_id == image_id
            )
        ).first()
        return None if row is None else (_image(row), bytes(row.body))

    def product_images(
        self, tenant_id: str, product_ids: Sequence[str]
    ) -> dict[str, list[StoredImage]]:
        """Each product's images in their order (a product without any is absent)."""
        if not product_ids:
            return {}
        rows = self.conn.execute(
            select(*_IMAGE_COLUMNS)
            .where(
                store_images.c.tenant_id == tenant_id,
                store_images.c.product_id.in_(list(product_ids)),
            )
            .order_by(store_images.c.product_id, store_images.c.position, store_images.c.image_id)
        )
        out: dict[str, list[StoredImage]] = {}
        for row in rows:
            out.setdefault(row.product_id, []).append(_image(row))
        return out

    def next_position(self, tenant_id: str, product_id: str) -> tuple[int, int]:
        """How many images the product has, and the position after the last."""
        row = self.conn.execute(
            select(func.count(), func.coalesce(func.max(store_images.c.position), -1)).where(
                store_images.c.tenant_id == tenant_id, store_images.c.product_id == product_id
            )
        ).one()
        return int(row[0]), int(row[1]) + 1

    def delete_image(self, tenant_id: str, image_id: str) -> int:
        deleted: int = self.conn.execute(
            delete(store_images).where(
                store_images.c.tenant_id == tenant_id, store_images.c.image_id == image_id
            )
        ).rowcount
        return deleted

    # -- categories

    def categories(self, tenant_id: str) -> list[Category]:
        rows = self.conn.execute(
            select(store_categories)
            .where(store_categories.c.tenant_id == tenant_id)
            .order_by(store_categories.c.position, store_categories.c.category_id)
        )
        return [record(Category, row, utc=True) for row in rows]

    def get_category(self, tenant_id: str, category_id: str) -> Category | None:
        row = self.conn.execute(
            select(store_categories).where(
                store_categories.c.tenant_id == tenant_id,
                store_categories.c.category_id == category_id,
            )
        ).first()
        return None if row is None else record(Category, row, utc=True)

    def category_named(self, tenant_id: str, name: str) -> Category | None:
        row = self.conn.execute(
            select(store_categories).where(
                store_categories.c.tenant_id == tenant_id, store_categories.c.name == name
            )
        ).first()
        return None if row is None else record(Category, row, utc=True)

    def add_category(self, category: Category) -> None:
        self.conn.execute(
            insert(store_categories).values(
                tenant_id=category.tenant_id,
                category_id=category.category_id,
                name=category.name,
                position=category.position,
                created_at=category.created_at,
            )
        )

    def rename_category(self, tenant_id: str, category_id: str, name: str) -> None:
        self.conn.execute(
            sql_update(store_categories)
            .where(
                store_categories.c.tenant_id == tenant_id,
                store_categories.c.category_id == category_id,
            )
            .values(name=name)
        )

    def set_product_category(
        self, tenant_id: str, product_id: str, category_id: str | None
    ) -> None:
        self.conn.execute(
            delete(store_product_categories).where(
                store_product_categories.c.tenant_id == tenant_id,
                store_product_categories.c.product_id == product_id,
            )
        )
        if category_id is not None:
            self.conn.execute(
                insert(store_product_categories).values(
                    tenant_id=tenant_id, product_id=product_id, category_id=category_id
                )
            )

    def categories_of(self, tenant_id: str, product_ids: Sequence[str]) -> dict[str, str]:
        """Each product's category id (a product without one is absent)."""
        if not product_ids:
            return {}
        rows = self.conn.execute(
            select(
                store_product_categories.c.product_id, store_product_categories.c.category_id
            ).where(
                store_product_categories.c.tenant_id == tenant_id,
                store_product_categories.c.product_id.in_(list(product_ids)),
            )
        )
        return {row.product_id: row.category_id for row in rows}

    # -- banners

    def banners(self, tenant_id: str) -> list[Banner]:
        rows = self.conn.execute(
            select(store_banners)
            .where(store_banners.c.tenant_id == tenant_id)
            .order_by(store_banners.c.position, store_banners.c.banner_id)
        )
        return [record(Banner, row, utc=True) for row in rows]

    def add_banner(self, banner: Banner) -> None:
        self.conn.execute(
            insert(store_banners).values(
                tenant_id=banner.tenant_id,
                banner_id=banner.banner_id,
                image_id=banner.image_id,
                title=banner.title,
                link=banner.link,
                position=banner.position,
                created_at=banner.created_at,
            )
        )

    def delete_banner(self, tenant_id: str, banner_id: str) -> Banner | None:
        """The banner deleted with its image, or None if there was none."""
        row = self.conn.execute(
            select(store_banners).where(
                store_banners.c.tenant_id == tenant_id, store_banners.c.banner_id == banner_id
            )
        ).first()
        if row is None:
            return None
        banner = record(Banner, row, utc=True)
        self.conn.execute(
            delete(store_banners).where(
                store_banners.c.tenant_id == tenant_id, store_banners.c.banner_id == banner_id
            )
        )
        self.delete_image(tenant_id, banner.image_id)
        return banner

    # -- search

    def _has_fts(self) -> bool:
        if self.conn.dialect.name != "sqlite":
            return False
        found = self.conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_search'")
        ).first()
        return found is not None

    def search(
        self,
        tenant_id: str,
        query: str,
        category_id: str | None,
        after: str | None,
        limit: int,
    ) -> list[Product]:
        """The tenant's active products matching ``query`` (every one if empty) in
        ``category_id`` (any if None), in id order after ``after``."""
        found = select(products).where(
            products.c.tenant_id == tenant_id, products.c.status == ProductStatus.ACTIVE
        )
        if category_id is not None:
            found = found.where(
                products.c.product_id.in_(
                    select(store_product_categories.c.product_id).where(
                        store_product_categories.c.tenant_id == tenant_id,
                        store_product_categories.c.category_id == category_id,
                    )
                )
            )
        if query:
            if len(query) >= TRIGRAM and self._has_fts():
                phrase = '"' + query.replace('"', '""') + '"'
                matched = (
                    text(
                        "SELECT product_id FROM store_search "
                        "WHERE store_search MATCH :phrase AND tenant_id = :tenant"
                    )
                    .bindparams(phrase=phrase, tenant=tenant_id)
                    .columns(column("product_id", String))
                )
                found = found.where(products.c.product_id.in_(matched))
            else:
                # The space inline (not a parameter): the pg_trgm index is on this very expression.
                body = products.c.title + literal_column("' '") + products.c.description
                found = found.where(body.ilike(_like_pattern(query), escape="\\"))
        if after is not None:
            found = found.where(products.c.product_id > after)
        rows = self.conn.execute(found.order_by(products.c.product_id).limit(limit))
        return [record(Product, row, utc=True, status=ProductStatus(row.status)) for row in rows]
