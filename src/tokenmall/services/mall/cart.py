"""A consumer's cart: SKUs and quantities, priced when read (prices live on the SKUs).

The cart holds no stock: stock is reserved at checkout (``checkout.checkout``), so a cart line may
say ``available: false`` when the SKU sold out or its product was hidden since it was added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import carts as carts_repo
from tokenmall.adapters.db.mall import catalogue as catalogue_repo
from tokenmall.domain.mall.catalogue import Product, ProductStatus, Sku
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput, NotFound

MAX_LINE_QUANTITY = 9_999
MAX_CART_LINES = 100
BUYERS: tuple[Role, ...] = (Role.CONSUMER,)


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: Sku
    product: Product
    quantity: int
    added_at: datetime

    @property
    def line_total_fen(self) -> int:
        return self.sku.price_fen * self.quantity

    @property
    def available(self) -> bool:
        return self.product.status == ProductStatus.ACTIVE and self.sku.stock >= self.quantity


@dataclass(frozen=True, slots=True)
class Cart:
    user_id: str
    lines: tuple[PricedLine, ...]

    @property
    def total_fen(self) -> int:
        return sum(line.line_total_fen for line in self.lines)


def line_quantity(value: int, field: str) -> int:
    validate.quantity(value, field)
    if value > MAX_LINE_QUANTITY:
        raise InvalidInput(f"{field} must be at most {MAX_LINE_QUANTITY}", field)
    return value


def sellable(conn: Connection, tenant_id: str, sku_id: str, field: str) -> tuple[Sku, Product]:
    """The SKU and its product if consumers may buy it; else a 422 naming ``field``."""
    sku = catalogue_repo.get_sku(conn, tenant_id, sku_id)
    product = None if sku is None else catalogue_repo.get_product(conn, tenant_id, sku.product_id)
    if sku is None or product is None or product.status != ProductStatus.ACTIVE:
        raise InvalidInput(f"no SKU {sku_id!r} on sale", field)
    return sku, product


def _priced(conn: Connection, tenant_id: str, user_id: str) -> Cart:
    lines: list[PricedLine] = []
    for line in carts_repo.cart(conn, tenant_id, user_id):
        sku = catalogue_repo.get_sku(conn, tenant_id, line.sku_id)
        assert sku is not None  # a foreign key keeps cart lines on existing SKUs
        product = catalogue_repo.get_product(conn, tenant_id, sku.product_id)
        assert product is not None
        lines.append(PricedLine(sku, product, line.quantity, line.added_at))
    return Cart(user_id, tuple(lines))


def get_cart(conn: Connection, caller: Principal | None, tenant_id: str) -> Cart:
    who = require(caller, tenant_id, BUYERS)
    return _priced(conn, tenant_id, who.subject_id)


def add_line(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    sku_id: str,
    quantity: int,
    now: datetime,
) -> Cart:
    """Put ``quantity`` more of a SKU in the cart (a new line, or added to its line)."""
    who = require(caller, tenant_id, BUYERS)
    line_quantity(quantity, "quantity")
    sellable(conn, tenant_id, sku_id, "sku_id")
    had = carts_repo.cart_quantity(conn, tenant_id, who.subject_id, sku_id)
    if had is None and len(carts_repo.cart(conn, tenant_id, who.subject_id)) >= MAX_CART_LINES:
        raise InvalidInput(f"a cart holds at most {MAX_CART_LINES} lines", "sku_id")
    total = (had or 0) + quantity
    if total > MAX_LINE_QUANTITY:
        raise InvalidInput(f"a cart line holds at most {MAX_LINE_QUANTITY} units", "quantity")
    carts_repo.set_cart_line(conn, tenant_id, who.subject_id, sku_id, total, now)
    return _priced(conn, tenant_id, who.subject_id)


def set_line(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    sku_id: str,
    quantity: int,
    now: datetime,
) -> Cart:
    """Change the quantity of a line already in the cart."""
    who = require(caller, tenant_id, BUYERS)
    line_quantity(quantity, "quantity")
    if carts_repo.cart_quantity(conn, tenant_id, who.subject_id, sku_id) is None:
        raise NotFound(f"no line for SKU {sku_id!r} in your cart")
    carts_repo.set_cart_line(conn, tenant_id, who.subject_id, sku_id, quantity, now)
    return _priced(conn, tenant_id, who.subject_id)


def remove_line(conn: Connection, caller: Principal | None, tenant_id: str, sku_id: str) -> Cart:
    who = require(caller, tenant_id, BUYERS)
    if carts_repo.remove_cart_lines(conn, tenant_id, who.subject_id, [sku_id]) == 0:
        raise NotFound(f"no line for SKU {sku_id!r} in your cart")
    return _priced(conn, tenant_id, who.subject_id)
