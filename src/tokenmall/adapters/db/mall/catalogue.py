"""Merchants, products, SKUs and stock movements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.mall.tables import merchants, products, skus, stock_movements
from tokenmall.domain.mall.catalogue import (
    Merchant,
    Product,
    ProductStatus,
    Sku,
    StockMovement,
    StockReason,
)


def _merchant(row: Any) -> Merchant:
    return Merchant(
        tenant_id=row.tenant_id,
        merchant_id=row.merchant_id,
        name=row.name,
        owner_user_id=row.owner_user_id,
        created_at=aware(row.created_at),
    )


def _product(row: Any) -> Product:
    return Product(
        tenant_id=row.tenant_id,
        product_id=row.product_id,
        merchant_id=row.merchant_id,
        title=row.title,
        description=row.description,
        status=ProductStatus(row.status),
        created_at=aware(row.created_at),
    )


def _sku(row: Any) -> Sku:
    return Sku(
        tenant_id=row.tenant_id,
        sku_id=row.sku_id,
        product_id=row.product_id,
        name=row.name,
        price_fen=int(row.price_fen),
        stock=int(row.stock),
        pool_contribution_fen=(
            None if row.pool_contribution_fen is None else int(row.pool_contribution_fen)
        ),
        created_at=aware(row.created_at),
    )


def _movement(row: Any) -> StockMovement:
    return StockMovement(
        tenant_id=row.tenant_id,
        movement_id=row.movement_id,
        sku_id=row.sku_id,
        change=int(row.change),
        stock_after=int(row.stock_after),
        reason=StockReason(row.reason),
        reference=row.reference,
        created_at=aware(row.created_at),
    )


# --- merchants ---


def add_merchant(conn: Connection, merchant: Merchant) -> None:
    conn.execute(
        insert(merchants).values(
            tenant_id=merchant.tenant_id,
            merchant_id=merchant.merchant_id,
            name=merchant.name,
            owner_user_id=merchant.owner_user_id,
            created_at=merchant.created_at,
        )
    )


def get_merchant(conn: Connection, tenant_id: str, merchant_id: str) -> Merchant | None:
    query = select(merchants).where(
        merchants.c.tenant_id == tenant_id, merchants.c.merchant_id == merchant_id
    )
    row = conn.execute(query).first()
    return None if row is None else _merchant(row)


def merchant_of_owner(conn: Connection, tenant_id: str, user_id: str) -> Merchant | None:
    query = select(merchants).where(
        merchants.c.tenant_id == tenant_id, merchants.c.owner_user_id == user_id
    )
    row = conn.execute(query).first()
    return None if row is None else _merchant(row)


def list_merchants(
    conn: Connection, tenant_id: str, after: str | None, limit: int
) -> list[Merchant]:
    query = select(merchants).where(merchants.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(merchants.c.merchant_id > after)
    query = query.order_by(merchants.c.merchant_id).limit(limit)
    return [_merchant(row) for row in conn.execute(query)]


# --- products ---


def add_product(conn: Connection, product: Product) -> None:
    conn.execute(
        insert(products).values(
            tenant_id=product.tenant_id,
            product_id=product.product_id,
            merchant_id=product.merchant_id,
            title=product.title,
            description=product.description,
            status=product.status,
            created_at=product.created_at,
        )
    )


def get_product(conn: Connection, tenant_id: str, product_id: str) -> Product | None:
    query = select(products).where(
        products.c.tenant_id == tenant_id, products.c.product_id == product_id
    )
    row = conn.execute(query).first()
    return None if row is None else _product(row)


def list_products(
    conn: Connection,
    tenant_id: str,
    merchant_id: str | None,
    only_active: bool,
    after: str | None,
    limit: int,
) -> list[Product]:
    query = select(products).where(products.c.tenant_id == tenant_id)
    if merchant_id is not None:
        query = query.where(products.c.merchant_id == merchant_id)
    if only_active:
        query = query.where(products.c.status == ProductStatus.ACTIVE)
    if after is not None:
        query = query.where(products.c.product_id > after)
    query = query.order_by(products.c.product_id).limit(limit)
    return [_product(row) for row in conn.execute(query)]


def set_product_fields(conn: Connection, tenant_id: str, product_id: str, **values: str) -> None:
    assert set(values) <= {"title", "description", "status"}, values
    conn.execute(
        update(products)
        .where(products.c.tenant_id == tenant_id, products.c.product_id == product_id)
        .values(**values)
    )


# --- SKUs ---


def add_sku(conn: Connection, sku: Sku) -> None:
    conn.execute(
        insert(skus).values(
            tenant_id=sku.tenant_id,
            sku_id=sku.sku_id,
            product_id=sku.product_id,
            name=sku.name,
            price_fen=sku.price_fen,
            stock=sku.stock,
            pool_contribution_fen=sku.pool_contribution_fen,
            created_at=sku.created_at,
        )
    )


def get_sku(conn: Connection, tenant_id: str, sku_id: str) -> Sku | None:
    query = select(skus).where(skus.c.tenant_id == tenant_id, skus.c.sku_id == sku_id)
    row = conn.execute(query).first()
    return None if row is None else _sku(row)


def sku_with_product(conn: Connection, tenant_id: str, sku_id: str) -> tuple[Sku, Product] | None:
    """The SKU and its product in one statement (a checkout's line)."""
    query = (
        select(
            skus,
            products.c.merchant_id,
            products.c.title,
            products.c.description,
            products.c.status,
            products.c.created_at.label("product_created_at"),
        )
        .join(
            products,
            (products.c.tenant_id == skus.c.tenant_id)
            & (products.c.product_id == skus.c.product_id),
        )
        .where(skus.c.tenant_id == tenant_id, skus.c.sku_id == sku_id)
    )
    row = conn.execute(query).first()
    return None if row is None else sku_with_product_of_row(row)


def sku_with_product_of_row(row: Any) -> tuple[Sku, Product]:
    """A row of ``sku_with_product``'s columns as the SKU and its product."""
    product = Product(
        tenant_id=row.tenant_id,
        product_id=row.product_id,
        merchant_id=row.merchant_id,
        title=row.title,
        description=row.description,
        status=ProductStatus(row.status),
        created_at=aware(row.product_created_at),
    )
    return _sku(row), product


def list_skus(conn: Connection, tenant_id: str, product_id: str) -> list[Sku]:
    query = (
        select(skus)
        .where(skus.c.tenant_id == tenant_id, skus.c.product_id == product_id)
        .order_by(skus.c.sku_id)
    )
    return [_sku(row) for row in conn.execute(query)]


def skus_with_contribution(conn: Connection, tenant_id: str) -> list[Sku]:
    """The tenant's SKUs that carry a fixed pool contribution, in id order."""
    query = (
        select(skus)
        .where(skus.c.tenant_id == tenant_id, skus.c.pool_contribution_fen.is_not(None))
        .order_by(skus.c.sku_id)
    )
    return [_sku(row) for row in conn.execute(query)]


def set_sku_fields(conn: Connection, tenant_id: str, sku_id: str, **values: object) -> None:
    # Stock is never set here: it changes only through change_stock, atomically.
    assert set(values) <= {"name", "price_fen", "pool_contribution_fen"}, values
    conn.execute(
        update(skus).where(skus.c.tenant_id == tenant_id, skus.c.sku_id == sku_id).values(**values)
    )


def change_stock(conn: Connection, tenant_id: str, sku_id: str, change: int) -> int | None:
    """Add ``change`` (negative to take) to the stock if it stays >= 0; the new stock or None.

    One atomic statement: the database checks and changes the counter together, so two
    concurrent takers can never both get the last unit (PostgreSQL re-evaluates the WHERE on
    the row's newest version after a concurrent update; SQLite has one writer at a time).
    """
    result = conn.execute(
        update(skus)
        .where(
            skus.c.tenant_id == tenant_id,
            skus.c.sku_id == sku_id,
            skus.c.stock + change >= 0,
        )
        .values(stock=skus.c.stock + change)
        .returning(skus.c.stock)
    )
    stock = result.scalar_one_or_none()
    return None if stock is None else int(stock)


# Multi-SKU takes lock their rows first, in SKU order (two checkouts never wait on each other
# in a cycle). NO KEY UPDATE, the lock the stock's UPDATE takes itself: an order line or a
# movement inserted by another checkout holds KEY SHARE on its SKU's row (their foreign
# keys), which FOR UPDATE would wait for.
_LOCK_SKUS = (
    "SELECT sku_id FROM mall_skus WHERE tenant_id = %s AND sku_id = ANY(%s::text[]) "
    "ORDER BY sku_id FOR NO KEY UPDATE"
)
# Every line's stock taken where it is left, and its reservation movement recorded. A line
# whose stock is short has no row in ``u``: its movement's ``stock_after`` is NULL, which
# the column refuses, so the statement fails and the transaction with it.
_TAKE_STOCK = (
    "WITH t AS (SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[]) "
    "AS t(sku_id, quantity, movement_id, reference)), "
    "u AS (UPDATE mall_skus s SET stock = s.stock - t.quantity FROM t "
    "WHERE s.tenant_id = %s AND s.sku_id = t.sku_id AND s.stock >= t.quantity "
    "RETURNING s.sku_id, s.stock) "
    "INSERT INTO mall_stock_movements "
    "(tenant_id, movement_id, sku_id, change, stock_after, reason, reference, created_at) "
    "SELECT %s, t.movement_id, t.sku_id, -t.quantity, u.stock, 'reservation', t.reference, %s "
    "FROM t LEFT JOIN u ON u.sku_id = t.sku_id"
)


def take_stock_statements(
    tenant_id: str, takes: Sequence[tuple[str, int, str, str]], now: datetime
) -> list[fast.Statement]:
    """PostgreSQL: take each (sku id, quantity, movement id, reference) and record its
    reservation movement, all or nothing: a line short of stock fails the statement (the
    transaction with it). One line a SKU. One SKU's row is locked by the stock's UPDATE
    itself; several are locked first, in SKU order, by a statement sent before it."""
    skus = sorted({t[0] for t in takes})
    out: list[fast.Statement] = []
    if len(skus) > 1:
        out.append((_LOCK_SKUS, (tenant_id, fast.array_literal(skus))))
    columns = [fast.array_literal([t[i] for t in takes]) for i in range(4)]
    out.append((_TAKE_STOCK, (*columns, tenant_id, tenant_id, now)))
    return out


def add_movement(conn: Connection, movement: StockMovement) -> None:
    conn.execute(
        insert(stock_movements),
        dict(
            tenant_id=movement.tenant_id,
            movement_id=movement.movement_id,
            sku_id=movement.sku_id,
            change=movement.change,
            stock_after=movement.stock_after,
            reason=movement.reason,
            reference=movement.reference,
            created_at=movement.created_at,
        ),
    )


def list_movements(
    conn: Connection, tenant_id: str, sku_id: str, limit: int
) -> list[StockMovement]:
    query = (
        select(stock_movements)
        .where(stock_movements.c.tenant_id == tenant_id, stock_movements.c.sku_id == sku_id)
        .order_by(stock_movements.c.movement_id)
        .limit(limit)
    )
    return [_movement(row) for row in conn.execute(query)]
