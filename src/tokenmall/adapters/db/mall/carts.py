"""A consumer's cart: one line per SKU, with its quantity. Migration ``0007``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKeyConstraint,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from tokenmall.adapters.db.mall.rows import at, aware
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.mall.orders import CartLine

cart_lines = Table(
    "mall_cart_lines",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("sku_id", String(ID), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    at("added_at"),
    at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "user_id", "sku_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
    ForeignKeyConstraint(["tenant_id", "sku_id"], ["mall_skus.tenant_id", "mall_skus.sku_id"]),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)


TABLES = (cart_lines.name,)


# --- cart ---


def cart(conn: Connection, tenant_id: str, user_id: str) -> list[CartLine]:
    query = (
        select(cart_lines)
        .where(cart_lines.c.tenant_id == tenant_id, cart_lines.c.user_id == user_id)
        .order_by(cart_lines.c.added_at, cart_lines.c.sku_id)
    )
    return [
        CartLine(row.sku_id, int(row.quantity), aware(row.added_at)) for row in conn.execute(query)
    ]


def cart_quantity(conn: Connection, tenant_id: str, user_id: str, sku_id: str) -> int | None:
    found = conn.execute(
        select(cart_lines.c.quantity).where(
            cart_lines.c.tenant_id == tenant_id,
            cart_lines.c.user_id == user_id,
            cart_lines.c.sku_id == sku_id,
        )
    ).scalar()
    return None if found is None else int(found)


def set_cart_line(
    conn: Connection, tenant_id: str, user_id: str, sku_id: str, quantity: int, now: datetime
) -> None:
    key = (
        cart_lines.c.tenant_id == tenant_id,
        cart_lines.c.user_id == user_id,
        cart_lines.c.sku_id == sku_id,
    )
    done = conn.execute(update(cart_lines).where(*key).values(quantity=quantity, updated_at=now))
    if done.rowcount == 0:
        conn.execute(
            insert(cart_lines).values(
                tenant_id=tenant_id,
                user_id=user_id,
                sku_id=sku_id,
                quantity=quantity,
                added_at=now,
                updated_at=now,
            )
        )


def remove_cart_lines(conn: Connection, tenant_id: str, user_id: str, sku_ids: list[str]) -> int:
    if not sku_ids:
        return 0
    done = conn.execute(
        delete(cart_lines).where(
            cart_lines.c.tenant_id == tenant_id,
            cart_lines.c.user_id == user_id,
            cart_lines.c.sku_id.in_(sku_ids),
        )
    )
    return int(done.rowcount)
