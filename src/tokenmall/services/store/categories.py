"""Categories (分类) and the shop window's search: admins create and rename categories and
file products under them (a merchant may file their own products); anyone browses a
category or searches the active products, a page at a time.

Search is Chinese friendly (``adapters/db/storefront/repo.py``): any part of a title or
description matches, from one character up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokenmall.domain.mall.catalogue import Product, Sku
from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.store import MAX_CATEGORIES, Category, StoredImage
from tokenmall.services.mall import catalogue, ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork

MAX_QUERY = 50
MAX_NAME = 20


def listing(unit: MallUnitOfWork, tenant_id: str) -> list[Category]:
    """Public: the categories in their order."""
    return unit.store.categories(tenant_id)


def _name(unit: MallUnitOfWork, tenant_id: str, name: str, own_id: str | None) -> str:
    cleaned = validate.text(name, "name", max_length=MAX_NAME)
    same = unit.store.category_named(tenant_id, cleaned)
    if same is not None and same.category_id != own_id:
        raise Conflict(f"a category named {cleaned!r} exists", "name")
    return cleaned


def create(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, name: str, now: datetime
) -> Category:
    require(caller, tenant_id, (Role.ADMIN,))
    existing = unit.store.categories(tenant_id)
    if len(existing) >= MAX_CATEGORIES:
        raise InvalidInput(f"a mall holds at most {MAX_CATEGORIES} categories", "name")
    category = Category(
        tenant_id=tenant_id,
        category_id=ids.new_id("cat"),
        name=_name(unit, tenant_id, name, None),
        position=max((c.position for c in existing), default=-1) + 1,
        created_at=now,
    )
    unit.store.add_category(category)
    return category


def _category(unit: MallUnitOfWork, tenant_id: str, category_id: str, field: str) -> Category:
    found = unit.store.get_category(tenant_id, category_id) if len(category_id) <= 40 else None
    if found is None:
        raise NotFound(f"no category {category_id!r}", field)
    return found


def rename(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, category_id: str, name: str
) -> Category:
    require(caller, tenant_id, (Role.ADMIN,))
    found = _category(unit, tenant_id, category_id, "category_id")
    cleaned = _name(unit, tenant_id, name, category_id)
    unit.store.rename_category(tenant_id, category_id, cleaned)
    return Category(found.tenant_id, category_id, cleaned, found.position, found.created_at)


def assign(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    product_id: str,
    category_id: str | None,
) -> str | None:
    """File the product under ``category_id`` (None: under none). The product's merchant or
    an admin; an unknown category is a 422 naming ``category_id``."""
    catalogue.managed_product(unit, caller, tenant_id, product_id)
    if category_id is not None:
        found = unit.store.get_category(tenant_id, category_id) if len(category_id) <= 40 else None
        if found is None:
            raise InvalidInput(f"no category {category_id!r}", "category_id")
    unit.store.set_product_category(tenant_id, product_id, category_id)
    return category_id


def of_products(unit: MallUnitOfWork, tenant_id: str, product_ids: list[str]) -> dict[str, str]:
    return unit.store.categories_of(tenant_id, product_ids)


@dataclass(frozen=True, slots=True)
class Listed:
    """One product of the shop window with its options, images and category."""

    product: Product
    skus: list[Sku]
    images: list[StoredImage]
    category_id: str | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Listed]
    next_after: str | None


def clean_query(query: str) -> str:
    """The search words as searched: trimmed, at most ``MAX_QUERY`` characters, no control
    characters (a 422 naming ``q``)."""
    cleaned = " ".join(query.split())
    if len(cleaned) > MAX_QUERY:
        raise InvalidInput(f"q must be at most {MAX_QUERY} characters", "q")
    if validate.has_control(cleaned):
        raise InvalidInput("q must not contain control characters", "q")
    return cleaned


def search(
    unit: MallUnitOfWork,
    tenant_id: str,
    *,
    query: str,
    category_id: str | None,
    after: str | None,
    limit: int,
) -> Page:
    """Public: a page of the active products matching ``query`` in ``category_id``."""
    cleaned = clean_query(query)
    if category_id is not None:
        _category(unit, tenant_id, category_id, "category_id")
    found = unit.store.search(tenant_id, cleaned, category_id, after, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    ids_ = [p.product_id for p in found]
    pictures = unit.store.product_images(tenant_id, ids_)
    filed = unit.store.categories_of(tenant_id, ids_)
    items = [
        Listed(
            product=p,
            skus=unit.catalogue.list_skus(tenant_id, p.product_id),
            images=pictures.get(p.product_id, []),
            category_id=filed.get(p.product_id),
        )
        for p in found
    ]
    return Page(items, ids_[-1] if more else None)
