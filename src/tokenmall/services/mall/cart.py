"""A consumer's cart: SKUs and quantities, priced when read (prices live on the SKUs).

The cart holds no stock: stock is reserved at checkout (``checkout.checkout``), so a cart line may
say ``available: false`` when the SKU sold out or its product was hidden since it was added.
The use cases run in a ``UnitOfWork`` (its ``carts`` and ``catalogue`` ports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokenmall.domain.mall.catalogue import Product, ProductStatus, Sku
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.unit_of_work import Catalogue, UnitOfWork

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


def sellable(catalogue: Catalogue, tenant_id: str, sku_id: str, field: str) -> tuple[Sku, Product]:
    """The SKU and its product if consumers may buy it; else a 422 naming ``field``."""
    found = catalogue.sku_with_product(tenant_id, sku_id)
    if found is None or found[1].status != ProductStatus.ACTIVE:
        raise InvalidInput(f"no SKU {sku_id!r} on sale", field)
    return found


def _priced(uow: UnitOfWork, tenant_id: str, user_id: str) -> Cart:
    lines: list[PricedLine] = []
    for line in uow.carts.lines(tenant_id, user_id):
        sku = uow.catalogue.get_sku(tenant_id, line.sku_id)
        assert sku is not None  # a foreign key keeps cart lines on existing SKUs
        product = uow.catalogue.get_product(tenant_id, sku.product_id)
        assert product is not None
        lines.append(PricedLine(sku, product, line.quantity, line.added_at))
    return Cart(user_id, tuple(lines))


def get_cart(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> Cart:
    who = require(caller, tenant_id, BUYERS)
    return _priced(uow, tenant_id, who.subject_id)


def add_line(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    sku_id: str,
    quantity: int,
    now: datetime,
) -> Cart:
    """Put ``quantity`` more of a SKU in the cart (a new line, or added to its line)."""
    who = require(caller, tenant_id, BUYERS)
    line_quantity(quantity, "quantity")
    sellable(uow.catalogue, tenant_id, sku_id, "sku_id")
    had = uow.carts.quantity(tenant_id, who.subject_id, sku_id)
    if had is None and len(uow.carts.lines(tenant_id, who.subject_id)) >= MAX_CART_LINES:
        raise InvalidInput(f"a cart holds at most {MAX_CART_LINES} lines", "sku_id")
    total = (had or 0) + quantity
    if total > MAX_LINE_QUANTITY:
        raise InvalidInput(f"a cart line holds at most {MAX_LINE_QUANTITY} units", "quantity")
    uow.carts.set_line(tenant_id, who.subject_id, sku_id, total, now)
    return _priced(uow, tenant_id, who.subject_id)


def set_line(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    sku_id: str,
    quantity: int,
    now: datetime,
) -> Cart:
    """Change the quantity of a line already in the cart."""
    who = require(caller, tenant_id, BUYERS)
    line_quantity(quantity, "quantity")
    if uow.carts.quantity(tenant_id, who.subject_id, sku_id) is None:
        raise NotFound(f"no line for SKU {sku_id!r} in your cart")
    uow.carts.set_line(tenant_id, who.subject_id, sku_id, quantity, now)
    return _priced(uow, tenant_id, who.subject_id)


def remove_line(uow: UnitOfWork, caller: Principal | None, tenant_id: str, sku_id: str) -> Cart:
    who = require(caller, tenant_id, BUYERS)
    if uow.carts.remove_lines(tenant_id, who.subject_id, [sku_id]) == 0:
        raise NotFound(f"no line for SKU {sku_id!r} in your cart")
    return _priced(uow, tenant_id, who.subject_id)
