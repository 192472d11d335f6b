"""Checkout: the cart's lines split by merchant into orders, stock reserved, each order's
payment plan set (money through the gateway, stable points, or both), in one unit of work.

The buyer's NFG rights (the ``holder_rights`` port) apply: a SKU named in a collection's
``may_buy`` right is refused (403, naming the line) unless the buyer holds a token of such a
collection (state ``held``); the best ``discount`` right the buyer holds lowers each order's
goods (at most one discount an order, rounded down) and is named on the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tokenmall.domain.mall import escrow
from tokenmall.domain.mall.catalogue import Product, Sku
from tokenmall.domain.mall.orders import Order, OrderDiscount, OrderLine, OrderStatus
from tokenmall.domain.mall.payments import Payment
from tokenmall.domain.mall.transitions import ORDER
from tokenmall.domain.nfg.holders import AppliedDiscount, BuyerRights, best_discount
from tokenmall.services.mall import addresses, catalogue, ids, payments, validate
from tokenmall.services.mall import cart as carts
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Forbidden, InvalidInput, OutOfStock
from tokenmall.services.mall.gateway import (
    NO_GATEWAY_MESSAGE,
    Gateway,
    GatewayUnavailable,
    NoGateway,
)
from tokenmall.services.mall.orders import BUYERS, history, move
from tokenmall.services.unit_of_work import UnitOfWork

MAX_CHECKOUT_LINES = 50
PAYMENT_METHODS = ("money", "stable", "mixed")


@dataclass(frozen=True, slots=True)
class Checkout:
    checkout_id: str
    orders: list[Order]
    payments: dict[str, Payment]  # by order id: the payment to make for its money part


@dataclass(frozen=True, slots=True)
class _Wanted:
    sku_id: str
    quantity: int
    field: str


def _wanted(
    uow: UnitOfWork, tenant_id: str, who: Principal, lines: list[tuple[str, int]] | None
) -> list[_Wanted]:
    if lines is None:
        found = uow.carts.lines(tenant_id, who.subject_id)
        if not found:
            raise InvalidInput("the cart is empty: add lines first, or give lines", "lines")
        return [_Wanted(line.sku_id, line.quantity, "lines") for line in found]
    if not lines:
        raise InvalidInput("give at least one line", "lines")
    if len(lines) > MAX_CHECKOUT_LINES:
        raise InvalidInput(f"a checkout has at most {MAX_CHECKOUT_LINES} lines", "lines")
    wanted: list[_Wanted] = []
    seen: set[str] = set()
    for i, (sku_id, quantity) in enumerate(lines):
        carts.line_quantity(quantity, f"lines.{i}.quantity")
        if sku_id in seen:
            raise InvalidInput(f"SKU {sku_id!r} is given twice", f"lines.{i}.sku_id")
        seen.add(sku_id)
        wanted.append(_Wanted(sku_id, quantity, f"lines.{i}.sku_id"))
    return wanted


def _plan(method: str, stable_amount: str | None, total: int) -> int:
    """How much of ``total`` the consumer pays in stable points."""
    if method not in PAYMENT_METHODS:
        raise InvalidInput(f"payment_method must be one of {', '.join(PAYMENT_METHODS)}", "method")
    if method != "mixed":
        if stable_amount is not None:
            raise InvalidInput("stable_amount goes with payment_method 'mixed'", "stable_amount")
        return total if method == "stable" else 0
    if stable_amount is None:
        raise InvalidInput("payment_method 'mixed' needs a stable_amount", "stable_amount")
    stable = validate.money(stable_amount, "stable_amount")
    if stable >= total:
        raise InvalidInput(
            "stable_amount must be less than the total (pay it all with payment_method 'stable')",
            "stable_amount",
        )
    return stable


def _check_gates(rights: BuyerRights, wanted: list[_Wanted]) -> None:
    """Refuse a ``may_buy`` SKU to a buyer who holds no token of a collection naming it."""
    for item in wanted:
        gates = rights.refused(item.sku_id)
        if gates:
            names = "、".join(gate.collection_name for gate in gates)
            raise Forbidden(
                f"{item.field}: only holders of {names} may buy SKU {item.sku_id!r}", item.field
            )


def _named(applied: AppliedDiscount | None) -> OrderDiscount | None:
    if applied is None:
        return None
    return OrderDiscount(
        applied.collection_id, applied.serial, applied.discount_bps, applied.off_fen
    )


def checkout(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    lines: list[tuple[str, int]] | None,
    payment_method: str,
    stable_amount: str | None,
    gateway: Gateway,
    now: datetime,
    address_id: str | None = None,
) -> Checkout:
    """One order per merchant from the cart (``lines`` None) or the given lines. Each order
    keeps a snapshot of the shipping address: ``address_id`` (the buyer's own, else 404), else
    the buyer's default address, else none (an address is not required here; the checkout
    page asks for one)."""
    who = require(caller, tenant_id, BUYERS)
    shipping = addresses.for_checkout(uow.addresses, who, tenant_id, address_id)
    wanted = _wanted(uow, tenant_id, who, lines)
    by_merchant: dict[str, list[tuple[_Wanted, Sku, Product]]] = {}
    for item in wanted:
        sku, product = carts.sellable(uow.catalogue, tenant_id, item.sku_id, item.field)
        by_merchant.setdefault(product.merchant_id, []).append((item, sku, product))
    rights = uow.holder_rights.of_buyer(tenant_id, who.subject_id, [w.sku_id for w in wanted])
    _check_gates(rights, wanted)
    catalogue.check_payable(
        uow.params, tenant_id, [(sku, i.field) for g in by_merchant.values() for i, sku, _ in g]
    )
    grand = sum(
        item.quantity * sku.price_fen for group in by_merchant.values() for item, sku, _ in group
    )
    if grand > validate.MAX_PRICE_FEN:
        raise InvalidInput("the checkout's total is above 10000000000.00", "lines")
    merchants = sorted(by_merchant)
    goods = [sum(i.quantity * sku.price_fen for i, sku, _ in by_merchant[m]) for m in merchants]
    discounts = [best_discount(rights.discounts, g) for g in goods]
    totals = [g - (0 if d is None else d.off_fen) for g, d in zip(goods, discounts, strict=True)]
    grand = sum(totals)
    stable_left = _plan(payment_method, stable_amount, grand)
    if stable_left < grand and gateway.name == NoGateway.name:
        # Refused before anything is reserved or taken: there is nowhere to pay the money part.
        raise GatewayUnavailable(NO_GATEWAY_MESSAGE, "payment_method")
    settings = uow.orders.settings(tenant_id)
    checkout_id = ids.new_id("chk")
    made: list[Order] = []
    plans = escrow.fill_stable(stable_left, totals)
    for merchant_id, paying, applied in zip(merchants, plans, discounts, strict=True):
        order_id = ids.new_id("ord")
        order_lines = tuple(
            OrderLine(
                line_no=n,
                sku_id=sku.sku_id,
                product_id=product.product_id,
                title=product.title,
                sku_name=sku.name,
                unit_price_fen=sku.price_fen,
                quantity=item.quantity,
                line_total_fen=sku.price_fen * item.quantity,
                pool_contribution_fen=sku.pool_contribution_fen,
            )
            for n, (item, sku, product) in enumerate(by_merchant[merchant_id], start=1)
        )
        order = Order(
            tenant_id=tenant_id,
            order_id=order_id,
            checkout_id=checkout_id,
            user_id=who.subject_id,
            merchant_id=merchant_id,
            status=OrderStatus.CREATED,
            total_fen=paying.total_fen,
            money_fen=paying.money_fen,
            stable_fen=paying.stable_fen,
            created_at=now,
            pay_by=now + timedelta(minutes=settings.payment_timeout_minutes),
            lines=order_lines,
            shipping=shipping,
            discount=_named(applied),
        )
        uow.orders.add(order)
        history(uow, order, None, ORDER.initial, who.subject_id, now)
        made.append(order)
    # Stock, in one order of SKU ids for every checkout: two checkouts never wait on each other
    # in a cycle (PostgreSQL row locks).
    takes = sorted(
        (line.sku_id, line.quantity, order.order_id) for order in made for line in order.lines
    )
    for sku_id, quantity, order_id in takes:
        try:
            catalogue.reserve(uow.catalogue, tenant_id, sku_id, quantity, order_id, now)
        except OutOfStock as exc:
            raise OutOfStock(f"SKU {sku_id!r}: {exc}", "lines") from None
    paid: dict[str, Payment] = {}
    final: list[Order] = []
    for order in made:
        if order.stable_fen:
            uow.order_money.pay_stable(
                tenant_id,
                user=order.user_id,
                merchant=order.merchant_id,
                order_ref=order.order_id,
                amount_fen=order.stable_fen,
            )
        if order.money_fen == 0:
            order = move(uow, order, "pay", who, now, "paid in stable points", paid_at=now)
        else:
            paid[order.order_id] = payments.open_payment(uow, gateway, order, now)
        final.append(order)  # as written (its row is not read again)
    if lines is None:
        uow.carts.remove_lines(tenant_id, who.subject_id, [w.sku_id for w in wanted])
    return Checkout(checkout_id, final, paid)
