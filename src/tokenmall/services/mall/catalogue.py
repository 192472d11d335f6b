"""Catalogue and stock: merchants, products, SKUs, and stock that is never oversold.

Who may do what: an admin manages every merchant's catalogue; a merchant user manages the one
merchant they own; consumers read active products only. The use cases run in a ``UnitOfWork``
(its ``catalogue`` port). Stock changes only through the port's ``change_stock`` (an atomic
guarded UPDATE, see adapters/db/mall/catalogue.py), each change recorded as a movement with its
reason; ``reserve`` and ``release`` are the calls checkout and cancellation use (in their
transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.purchase import check_fixed_contribution
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.catalogue import (
    Merchant,
    Product,
    ProductStatus,
    Sku,
    StockMovement,
    StockReason,
)
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound, OutOfStock
from tokenmall.services.unit_of_work import Catalogue, TenantParams, UnitOfWork

ALL: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)
SELLERS: tuple[Role, ...] = (Role.MERCHANT, Role.ADMIN)


# --- merchants ---


def create_merchant(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    name: str,
    owner_user_id: str,
    now: datetime,
) -> Merchant:
    require(caller, tenant_id, (Role.ADMIN,))
    owner = uow.people.get_user(tenant_id, owner_user_id)
    if owner is None:
        raise InvalidInput(f"no user {owner_user_id!r}", "owner_user_id")
    if owner.role != Role.MERCHANT:
        raise InvalidInput("the owner must have the merchant role", "owner_user_id")
    if uow.catalogue.merchant_of_owner(tenant_id, owner_user_id) is not None:
        raise Conflict("this user already owns a merchant", "owner_user_id")
    merchant = Merchant(
        tenant_id=tenant_id,
        merchant_id=ids.new_id("mch"),
        name=validate.text(name, "name", max_length=200),
        owner_user_id=owner_user_id,
        created_at=now,
    )
    uow.catalogue.add_merchant(merchant)
    return merchant


def get_merchant(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, merchant_id: str
) -> Merchant:
    require(caller, tenant_id, ALL)
    merchant = uow.catalogue.get_merchant(tenant_id, merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id!r}")
    return merchant


def list_merchants(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, after: str | None, limit: int
) -> list[Merchant]:
    require(caller, tenant_id, ALL)
    return uow.catalogue.list_merchants(tenant_id, after, limit)


def _manageable_merchant(
    repo: Catalogue, who: Principal, tenant_id: str, merchant_id: str, field: str
) -> Merchant:
    merchant = repo.get_merchant(tenant_id, merchant_id)
    if merchant is None:
        raise InvalidInput(f"no merchant {merchant_id!r}", field)
    if who.role != Role.ADMIN and merchant.owner_user_id != who.subject_id:
        raise InvalidInput("you may only manage your own merchant's catalogue", field)
    return merchant


# --- products ---


@dataclass(frozen=True, slots=True)
class ProductChanges:
    title: str | None = None
    description: str | None = None
    status: str | None = None


def create_product(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    merchant_id: str | None,
    title: str,
    description: str,
    now: datetime,
) -> Product:
    who = require(caller, tenant_id, SELLERS)
    if merchant_id is None:
        own = uow.catalogue.merchant_of_owner(tenant_id, who.subject_id)
        if own is None:
            raise InvalidInput("merchant_id is required (you own no merchant)", "merchant_id")
        merchant_id = own.merchant_id
    merchant = _manageable_merchant(uow.catalogue, who, tenant_id, merchant_id, "merchant_id")
    product = Product(
        tenant_id=tenant_id,
        product_id=ids.new_id("prd"),
        merchant_id=merchant.merchant_id,
        title=validate.text(title, "title", max_length=200),
        description=validate.text(description, "description", max_length=5000, allow_empty=True),
        status=ProductStatus.ACTIVE,
        created_at=now,
    )
    uow.catalogue.add_product(product)
    return product


def _visible_product(repo: Catalogue, who: Principal, tenant_id: str, product_id: str) -> Product:
    product = repo.get_product(tenant_id, product_id)
    if product is None or (product.status != ProductStatus.ACTIVE and who.role == Role.CONSUMER):
        raise NotFound(f"no product {product_id!r}")
    return product


def _managed_product(repo: Catalogue, who: Principal, tenant_id: str, product_id: str) -> Product:
    product = repo.get_product(tenant_id, product_id)
    if product is None:
        raise NotFound(f"no product {product_id!r}")
    merchant = repo.get_merchant(tenant_id, product.merchant_id)
    assert merchant is not None
    if who.role != Role.ADMIN and merchant.owner_user_id != who.subject_id:
        # Another merchant's product: visible in the catalogue, but not theirs to change.
        raise Forbidden("this product belongs to another merchant")
    return product


def managed_product(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, product_id: str
) -> Product:
    """The product, if the caller may change it (an admin: any; a merchant: their own)."""
    who = require(caller, tenant_id, SELLERS)
    return _managed_product(uow.catalogue, who, tenant_id, product_id)


def get_product(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, product_id: str
) -> tuple[Product, list[Sku]]:
    who = require(caller, tenant_id, ALL)
    product = _visible_product(uow.catalogue, who, tenant_id, product_id)
    return product, uow.catalogue.list_skus(tenant_id, product_id)


def list_products(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    merchant_id: str | None,
    after: str | None,
    limit: int,
) -> list[Product]:
    who = require(caller, tenant_id, ALL)
    only_active = who.role == Role.CONSUMER
    return uow.catalogue.list_products(tenant_id, merchant_id, only_active, after, limit)


def storefront(
    uow: UnitOfWork, tenant_id: str, after: str | None, limit: int
) -> list[tuple[Product, list[Sku]]]:
    """The shop window: the tenant's active products with their options, for anyone (a shared
    product link opens without an account; buying asks for one)."""
    listed = uow.catalogue.list_products(tenant_id, None, True, after, limit)
    return [(p, uow.catalogue.list_skus(tenant_id, p.product_id)) for p in listed]


def public_product(
    uow: UnitOfWork, tenant_id: str, product_id: str
) -> tuple[Product, list[Sku], Merchant]:
    """An active product, its options and its merchant, for anyone."""
    product = uow.catalogue.get_product(tenant_id, product_id)
    if product is None or product.status != ProductStatus.ACTIVE:
        raise NotFound(f"no product {product_id!r}")
    merchant = uow.catalogue.get_merchant(tenant_id, product.merchant_id)
    assert merchant is not None
    return product, uow.catalogue.list_skus(tenant_id, product_id), merchant


def update_product(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    product_id: str,
    changes: ProductChanges,
) -> Product:
    who = require(caller, tenant_id, SELLERS)
    _managed_product(uow.catalogue, who, tenant_id, product_id)
    values: dict[str, str] = {}
    if changes.title is not None:
        values["title"] = validate.text(changes.title, "title", max_length=200)
    if changes.description is not None:
        values["description"] = validate.text(
            changes.description, "description", max_length=5000, allow_empty=True
        )
    if changes.status is not None:
        values["status"] = changes.status
    if not values:
        raise InvalidInput("give at least one field to change", "title")
    uow.catalogue.set_product_fields(tenant_id, product_id, values)
    product = uow.catalogue.get_product(tenant_id, product_id)
    assert product is not None
    return product


# --- SKUs ---


def _contribution(value: str | None, price_fen: int) -> int | None:
    if value is None:
        return None
    fen = validate.money(value, "pool_contribution", allow_zero=True)
    if fen > price_fen:
        raise InvalidInput("pool_contribution must not exceed the price", "pool_contribution")
    return fen


def _payable(params: Params, price_fen: int, contribution_fen: int | None, field: str) -> None:
    """A fixed contribution that leaves room for the dividend share and the commissions of every
    order of the SKU (``purchase.check_fixed_contribution``), else a 422 naming ``field``."""
    if contribution_fen is None:
        return
    try:
        check_fixed_contribution(params, price_fen, contribution_fen)
    except DomainError as exc:
        raise InvalidInput(f"{field}: {exc}", field) from None


def check_payable(params: TenantParams, tenant_id: str, lines: list[tuple[Sku, str]]) -> None:
    """At checkout: every SKU's fixed contribution still fits the tenant's parameters (a 422
    naming the line's field, before anything is reserved or paid)."""
    if not any(sku.pool_contribution_fen is not None for sku, _ in lines):
        return
    found = params.of(tenant_id)
    for sku, field in lines:
        _payable(found, sku.price_fen, sku.pool_contribution_fen, field)


def create_sku(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    product_id: str,
    *,
    name: str,
    price: str,
    stock: int,
    pool_contribution: str | None,
    now: datetime,
) -> Sku:
    who = require(caller, tenant_id, SELLERS)
    _managed_product(uow.catalogue, who, tenant_id, product_id)
    price_fen = validate.money(price, "price")
    contribution_fen = _contribution(pool_contribution, price_fen)
    _payable(uow.params.of(tenant_id), price_fen, contribution_fen, "pool_contribution")
    sku = Sku(
        tenant_id=tenant_id,
        sku_id=ids.new_id("sku"),
        product_id=product_id,
        name=validate.text(name, "name", max_length=200),
        price_fen=price_fen,
        stock=validate.quantity(stock, "stock", allow_zero=True),
        pool_contribution_fen=contribution_fen,
        created_at=now,
    )
    uow.catalogue.add_sku(sku)
    if sku.stock:
        _record(
            uow.catalogue, sku.tenant_id, sku.sku_id, sku.stock, sku.stock, "restock", None, now
        )
    return sku


def get_sku(uow: UnitOfWork, caller: Principal | None, tenant_id: str, sku_id: str) -> Sku:
    who = require(caller, tenant_id, ALL)
    sku = uow.catalogue.get_sku(tenant_id, sku_id)
    if sku is None:
        raise NotFound(f"no SKU {sku_id!r}")
    _visible_product(uow.catalogue, who, tenant_id, sku.product_id)
    return sku


@dataclass(frozen=True, slots=True)
class SkuChanges:
    name: str | None = None
    price: str | None = None
    pool_contribution: str | None = None
    clear_pool_contribution: bool = False


def update_sku(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, sku_id: str, changes: SkuChanges
) -> Sku:
    who = require(caller, tenant_id, SELLERS)
    sku = uow.catalogue.get_sku(tenant_id, sku_id)
    if sku is None:
        raise NotFound(f"no SKU {sku_id!r}")
    _managed_product(uow.catalogue, who, tenant_id, sku.product_id)
    values: dict[str, object] = {}
    if changes.name is not None:
        values["name"] = validate.text(changes.name, "name", max_length=200)
    price_fen = sku.price_fen
    if changes.price is not None:
        price_fen = validate.money(changes.price, "price")
        values["price_fen"] = price_fen
    if changes.clear_pool_contribution:
        values["pool_contribution_fen"] = None
    elif changes.pool_contribution is not None:
        contribution_fen = _contribution(changes.pool_contribution, price_fen)
        values["pool_contribution_fen"] = contribution_fen
        _payable(uow.params.of(tenant_id), price_fen, contribution_fen, "pool_contribution")
    elif sku.pool_contribution_fen is not None and sku.pool_contribution_fen > price_fen:
        raise InvalidInput("the new price is below the SKU's pool contribution", "price")
    elif sku.pool_contribution_fen is not None and changes.price is not None:
        _payable(uow.params.of(tenant_id), price_fen, sku.pool_contribution_fen, "price")
    if not values:
        raise InvalidInput("give at least one field to change", "name")
    uow.catalogue.set_sku_fields(tenant_id, sku_id, values)
    updated = uow.catalogue.get_sku(tenant_id, sku_id)
    assert updated is not None
    return updated


# --- stock ---


def _record(
    repo: Catalogue,
    tenant_id: str,
    sku_id: str,
    change: int,
    stock_after: int,
    reason: str,
    reference: str | None,
    now: datetime,
) -> StockMovement:
    movement = StockMovement(
        tenant_id=tenant_id,
        movement_id=ids.new_id("stk"),
        sku_id=sku_id,
        change=change,
        stock_after=stock_after,
        reason=StockReason(reason),
        reference=reference,
        created_at=now,
    )
    repo.add_movement(movement)
    return movement


def _apply(
    repo: Catalogue,
    tenant_id: str,
    sku_id: str,
    change: int,
    reason: str,
    reference: str | None,
    now: datetime,
) -> StockMovement:
    stock_after = repo.change_stock(tenant_id, sku_id, change)
    if stock_after is None:
        sku = repo.get_sku(tenant_id, sku_id)
        if sku is None:
            raise NotFound(f"no SKU {sku_id!r}")
        raise OutOfStock(f"only {sku.stock} in stock, cannot take {-change}", "change")
    return _record(repo, tenant_id, sku_id, change, stock_after, reason, reference, now)


def change_stock(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    sku_id: str,
    *,
    change: int,
    reason: str,
    reference: str | None,
    now: datetime,
) -> StockMovement:
    """A seller adds stock (restock) or corrects it (adjustment, either sign)."""
    who = require(caller, tenant_id, SELLERS)
    sku = uow.catalogue.get_sku(tenant_id, sku_id)
    if sku is None:
        raise NotFound(f"no SKU {sku_id!r}")
    _managed_product(uow.catalogue, who, tenant_id, sku.product_id)
    validate.quantity(change, "change", signed=True)
    if reason == "restock" and change < 0:
        raise InvalidInput("a restock adds stock; use reason adjustment to take", "change")
    if reference is not None:
        reference = validate.text(reference, "reference", max_length=100)
    return _apply(uow.catalogue, tenant_id, sku_id, change, reason, reference, now)


def reserve(
    repo: Catalogue, tenant_id: str, sku_id: str, quantity: int, reference: str, now: datetime
) -> StockMovement:
    """Take ``quantity`` units for an order (checkout); OutOfStock if fewer are left."""
    validate.quantity(quantity, "quantity")
    return _apply(repo, tenant_id, sku_id, -quantity, "reservation", reference, now)


def release(
    repo: Catalogue, tenant_id: str, sku_id: str, quantity: int, reference: str, now: datetime
) -> StockMovement:
    """Give back units of a cancelled or refunded order."""
    validate.quantity(quantity, "quantity")
    return _apply(repo, tenant_id, sku_id, quantity, "release", reference, now)


def list_movements(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, sku_id: str, limit: int
) -> list[StockMovement]:
    who = require(caller, tenant_id, SELLERS)
    sku = uow.catalogue.get_sku(tenant_id, sku_id)
    if sku is None:
        raise NotFound(f"no SKU {sku_id!r}")
    _managed_product(uow.catalogue, who, tenant_id, sku.product_id)
    return uow.catalogue.list_movements(tenant_id, sku_id, limit)
