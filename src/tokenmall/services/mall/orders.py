"""Orders: checkout, states, the return window, refunds — and their money through the ledger.

States (docs/orders-and-payments.md)::

    created ──pay──▶ paid ──ship──▶ shipped ──confirm──▶ received ──window over──▶ completed
       │               │               │                    │
       └─cancel/timeout┴──────refund───┴────────────────────┘
       ▼               ▼
    cancelled       refunded

* **checkout** splits the lines by merchant (one order each, like Taobao), reserves stock
  (``catalogue.reserve``: never oversold) and sets each order's payment plan: money through the
  gateway, stable points (恒定积分), or both. Stable points are taken at checkout
  (``PayStable`` to the merchant), so a paid webhook can never fail on a balance spent since;
  an order paid wholly in stable points is paid at once.
* **paid**: the gateway's webhook confirms the money; ``order_ledger.record_payment`` puts it
  in escrow, and if the tenant's ``grant_on`` is ``paid`` the rewards are booked at once.
* **received**: the consumer confirms receipt, or ``auto_confirm_days`` after shipping.
* **completed**: ``return_window_days`` after receipt (``complete_due_orders``); the rewards
  are booked now unless they were at payment, and ``order_ledger.complete`` releases the
  order's frozen commissions.
* **cancelled**: an unpaid order, by the consumer or an admin, or ``payment_timeout_minutes``
  after checkout (``cancel_expired_orders``): stock released, stable points returned.
* **refunded**: a consumer asks, the merchant or an admin approves; before the rewards are
  booked the money comes back from escrow; after, only an admin may approve, and it is the
  ledger's audited adjustment (economy.md rule 9). Stock comes back if it had not shipped.

Every change of status is a guarded UPDATE plus a row of history (who, when, from → to).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from tokenmall.adapters.db.mall import catalogue as catalogue_repo
from tokenmall.adapters.db.mall import orders as repo
from tokenmall.adapters.db.mall.orders import Order, OrderLine, OrderSettings, Payment, Refund
from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy.purchase import contribution_for
from tokenmall.domain.economy.state import Rates
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import parse_money, parse_points
from tokenmall.services.mall import addresses, catalogue, ids, journal, order_ledger, validate
from tokenmall.services.mall import cart as carts
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    OutOfStock,
)
from tokenmall.services.mall.gateway import (
    NO_GATEWAY_MESSAGE,
    Gateway,
    GatewayUnavailable,
    NoGateway,
)
from tokenmall.services.mall.records import Product, Role, Sku
from tokenmall.services.mall.uow import Database

log = logging.getLogger("tokenmall.orders")

ALL: tuple[Role, ...] = ("consumer", "merchant", "admin")
BUYERS: tuple[Role, ...] = ("consumer",)
SELLERS: tuple[Role, ...] = ("merchant", "admin")
ADMINS: tuple[Role, ...] = ("admin",)
BUYERS_AND_ADMINS: tuple[Role, ...] = ("consumer", "admin")
MAX_CHECKOUT_LINES = 50
PAYMENT_METHODS = ("money", "stable", "mixed")
SYSTEM = "system"
BATCH = 200
# What the scheduler may pass: the web app's Database, the ledger's Store, an Engine (one
# transaction per batch), or a Connection (everything in the caller's transaction).
DbOrConn = Database | Store | Engine | Connection


# --- settings ---


def get_settings(conn: Connection, caller: Principal | None, tenant_id: str) -> OrderSettings:
    require(caller, tenant_id, ALL)
    return repo.get_settings(conn, tenant_id)


def _days(value: int | None, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{field} must be a whole number from {low} to {high}", field)
    return value


def update_settings(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    *,
    return_window_days: int | None,
    payment_timeout_minutes: int | None,
    auto_confirm_days: int | None,
    now: datetime,
) -> OrderSettings:
    who = require(caller, tenant_id, ADMINS)
    old = repo.get_settings(conn, tenant_id)
    window = _days(return_window_days, "return_window_days", 0, 365)
    timeout = _days(payment_timeout_minutes, "payment_timeout_minutes", 1, 10_080)
    confirm = _days(auto_confirm_days, "auto_confirm_days", 1, 365)
    if window is None and timeout is None and confirm is None:
        raise InvalidInput("give at least one setting to change", "return_window_days")
    new = OrderSettings(
        return_window_days=old.return_window_days if window is None else window,
        payment_timeout_minutes=old.payment_timeout_minutes if timeout is None else timeout,
        auto_confirm_days=old.auto_confirm_days if confirm is None else confirm,
    )
    repo.put_settings(conn, tenant_id, new, who.subject_id, now)
    return new


# --- reading ---


@dataclass(frozen=True, slots=True)
class OrderView:
    order: Order
    history: list[repo.OrderEvent]
    payments: list[Payment]
    refunds: list[Refund]


def _own_merchant_id(conn: Connection, who: Principal, tenant_id: str) -> str | None:
    merchant = catalogue_repo.merchant_of_owner(conn, tenant_id, who.subject_id)
    return None if merchant is None else merchant.merchant_id


def visible_order(conn: Connection, who: Principal, tenant_id: str, order_id: str) -> Order:
    """The order if ``who`` may see it: its buyer, its merchant, an admin; else 404."""
    order = repo.get_order(conn, tenant_id, order_id)
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    if who.role == "consumer" and order.user_id != who.subject_id:
        raise NotFound(f"no order {order_id!r}")
    if who.role == "merchant" and order.merchant_id != _own_merchant_id(conn, who, tenant_id):
        raise NotFound(f"no order {order_id!r}")
    return order


def view(conn: Connection, tenant_id: str, order: Order) -> OrderView:
    return OrderView(
        order,
        repo.order_history(conn, tenant_id, order.order_id),
        repo.payments_of(conn, tenant_id, order.order_id),
        repo.refunds_of(conn, tenant_id, order.order_id),
    )


def get_order(
    conn: Connection, caller: Principal | None, tenant_id: str, order_id: str
) -> OrderView:
    who = require(caller, tenant_id, ALL)
    return view(conn, tenant_id, visible_order(conn, who, tenant_id, order_id))


def list_orders(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    *,
    status: str | None,
    after: str | None,
    limit: int,
    checkout_id: str | None = None,
) -> list[Order]:
    who = require(caller, tenant_id, ALL)
    user_id = merchant_id = None
    if who.role == "consumer":
        user_id = who.subject_id
    elif who.role == "merchant":
        merchant_id = _own_merchant_id(conn, who, tenant_id)
        if merchant_id is None:
            return []
    return repo.list_orders(
        conn,
        tenant_id,
        user_id=user_id,
        merchant_id=merchant_id,
        status=status,
        after=after,
        limit=limit,
        checkout_id=checkout_id,
    )


# --- checkout ---


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
    conn: Connection, tenant_id: str, who: Principal, lines: list[tuple[str, int]] | None
) -> list[_Wanted]:
    if lines is None:
        found = repo.cart(conn, tenant_id, who.subject_id)
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


def checkout(
    conn: Connection,
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
    from tokenmall.services.mall import payments

    who = require(caller, tenant_id, BUYERS)
    shipping = addresses.for_checkout(conn, who, tenant_id, address_id)
    wanted = _wanted(conn, tenant_id, who, lines)
    by_merchant: dict[str, list[tuple[_Wanted, Sku, Product]]] = {}
    for item in wanted:
        sku, product = carts.sellable(conn, tenant_id, item.sku_id, item.field)
        by_merchant.setdefault(product.merchant_id, []).append((item, sku, product))
    grand = sum(
        item.quantity * sku.price_fen for group in by_merchant.values() for item, sku, _ in group
    )
    if grand > validate.MAX_PRICE_FEN:
        raise InvalidInput("the checkout's total is above 10000000000.00", "lines")
    stable_left = _plan(payment_method, stable_amount, grand)
    if stable_left < grand and isinstance(gateway, NoGateway):
        # Refused before anything is reserved or taken: there is nowhere to pay the money part.
        raise GatewayUnavailable(NO_GATEWAY_MESSAGE, "payment_method")
    settings = repo.get_settings(conn, tenant_id)
    checkout_id = ids.new_id("chk")
    made: list[Order] = []
    for merchant_id in sorted(by_merchant):
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
        total = sum(line.line_total_fen for line in order_lines)
        stable = min(stable_left, total)  # stable points fill the orders in merchant order
        stable_left -= stable
        order = Order(
            tenant_id=tenant_id,
            order_id=order_id,
            checkout_id=checkout_id,
            user_id=who.subject_id,
            merchant_id=merchant_id,
            status="created",
            total_fen=total,
            money_fen=total - stable,
            stable_fen=stable,
            created_at=now,
            pay_by=now + timedelta(minutes=settings.payment_timeout_minutes),
            lines=order_lines,
            shipping=shipping,
        )
        repo.add_order(conn, order)
        _history(conn, order, None, "created", who.subject_id, now)
        made.append(order)
    # Stock, in one order of SKU ids for every checkout: two checkouts never wait on each other
    # in a cycle (PostgreSQL row locks).
    takes = sorted(
        (line.sku_id, line.quantity, order.order_id) for order in made for line in order.lines
    )
    for sku_id, quantity, order_id in takes:
        try:
            catalogue.reserve(conn, tenant_id, sku_id, quantity, order_id, now)
        except OutOfStock as exc:
            raise OutOfStock(f"SKU {sku_id!r}: {exc}", "lines") from None
    paid: dict[str, Payment] = {}
    final: list[Order] = []
    for order in made:
        if order.stable_fen:
            journal.run(
                conn,
                c.PayStable(
                    tenant_id=tenant_id,
                    idempotency_key=f"order:{order.order_id}:stable",
                    user=order.user_id,
                    merchant=order.merchant_id,
                    amount_fen=order.stable_fen,
                ),
            )
        if order.money_fen == 0:
            _move(conn, order, "paid", who.subject_id, now, "paid in stable points", paid_at=now)
        else:
            paid[order.order_id] = payments.open_payment(conn, gateway, order, now)
        final.append(_reload(conn, order))
    if lines is None:
        repo.remove_cart_lines(conn, tenant_id, who.subject_id, [w.sku_id for w in wanted])
    return Checkout(checkout_id, final, paid)


# --- helpers ---


def _reload(conn: Connection, order: Order) -> Order:
    found = repo.get_order(conn, order.tenant_id, order.order_id)
    assert found is not None
    return found


def _history(
    conn: Connection,
    order: Order,
    from_status: str | None,
    to_status: str,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    event = repo.OrderEvent(ids.new_id("oev"), from_status, to_status, actor, note, now)
    repo.add_event(conn, order.tenant_id, order.order_id, event)


def _move(
    conn: Connection,
    order: Order,
    to_status: str,
    actor: str,
    now: datetime,
    note: str | None = None,
    **values: object,
) -> Order:
    if not repo.move_order(
        conn, order.tenant_id, order.order_id, order.status, to_status, **values
    ):
        raise Conflict(f"order {order.order_id!r} changed meanwhile; read it again", "status")
    _history(conn, order, order.status, to_status, actor, now, note)
    return _reload(conn, order)


def _need(order: Order, *statuses: str, doing: str) -> None:
    if order.status not in statuses:
        raise Conflict(f"cannot {doing} an order that is {order.status}", "status")


def _release_stock(conn: Connection, order: Order, now: datetime) -> None:
    for line in order.lines:
        catalogue.release(conn, order.tenant_id, line.sku_id, line.quantity, order.order_id, now)


def _return_stable(conn: Connection, order: Order) -> None:
    if order.stable_fen:
        journal.run(
            conn,
            c.RefundStable(
                tenant_id=order.tenant_id,
                idempotency_key=f"order:{order.order_id}:stable-refund",
                user=order.user_id,
                order_ref=order.order_id,
                merchant=order.merchant_id,
                amount_fen=order.stable_fen,
            ),
        )


def contribution_of(conn: Connection, order: Order) -> int | None:
    """The order's contribution to the backing pool for its money part (rule 1, rule 4).

    None when no line has a fixed contribution: the engine applies ``pool_rate`` to the money
    part. Otherwise the fixed contributions (and ``pool_rate`` of the other lines) are scaled
    to the money part: ``floor(contribution × money / total)`` — stable-paid portions add no
    contribution."""
    if all(line.pool_contribution_fen is None for line in order.lines):
        return None
    fixed = sum(
        line.pool_contribution_fen * line.quantity
        for line in order.lines
        if line.pool_contribution_fen is not None
    )
    rest = sum(line.line_total_fen for line in order.lines if line.pool_contribution_fen is None)
    if rest:
        params, _ = Store(conn.engine).load_params(conn, order.tenant_id)
        fixed += contribution_for(Rates(params), rest, None)
    return fixed * order.money_fen // order.total_fen


def _book(conn: Connection, order: Order, now: datetime) -> Order:
    """Rule 1 for the order's money part, from escrow; the result is shown on the order."""
    result = order_ledger.book_rewards(
        conn,
        order.tenant_id,
        user=order.user_id,
        order_ref=order.order_id,
        amount_fen=order.money_fen,
        contribution_fen=contribution_of(conn, order),
        now=now,
    )
    return _booked(conn, order, result, now)


def _booked(conn: Connection, order: Order, result: dict[str, Any], now: datetime) -> Order:
    """The purchase journal's result shown on the order."""
    grants = result.get("grants", [])
    assert isinstance(grants, list)
    mine = [g for g in grants if g.get("level") == 0]
    points = str(mine[0]["points"]) if mine else "0.00000000"
    parse_points(points, allow_zero=True)  # the journal's own text, checked
    repo.set_order_fields(
        conn,
        order.tenant_id,
        order.order_id,
        rewards_journal_id=int(result["journal_id"]),
        rewards_points=points,
        rewards_price=str(result["price"]),
        rewards_contribution_fen=parse_money(result["contribution"], allow_zero=True),
        rewards_booked_at=now,
    )
    return _reload(conn, order)


# --- the gateway confirms a payment (payments.py calls these) ---


def mark_paid(conn: Connection, order: Order, payment: Payment, now: datetime) -> Order:
    order = _move(
        conn, order, "paid", f"gateway:{payment.gateway}", now, payment.payment_id, paid_at=now
    )
    # The payment and (grant_on = paid) the rewards as ONE ledger batch: the tenant is locked
    # once, late, for one pipeline (``order_ledger.pay_and_book``), not twice with a round
    # trip a statement; what only reads comes before.
    paid = order_ledger.pay_and_book(
        conn,
        order.tenant_id,
        user=order.user_id,
        order_ref=order.order_id,
        amount_fen=order.money_fen,
        contribution_fen=contribution_of(conn, order),
        now=now,
    )
    if paid.purchase is not None:
        order = _booked(conn, order, paid.purchase, now)
    return order


# --- consumer, merchant and admin actions ---


def cancel(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    reason: str | None,
    now: datetime,
) -> Order:
    who = require(caller, tenant_id, BUYERS_AND_ADMINS)
    order = visible_order(conn, who, tenant_id, order_id)
    _need(order, "created", doing="cancel (ask for a refund instead)")
    note = None if reason is None else validate.text(reason, "reason", max_length=500)
    return _cancel(conn, order, who.subject_id, now, note or "cancelled")


def _cancel(conn: Connection, order: Order, actor: str, now: datetime, note: str) -> Order:
    from tokenmall.services.mall import payments

    order = _move(conn, order, "cancelled", actor, now, note, cancelled_at=now)
    _release_stock(conn, order, now)
    _return_stable(conn, order)
    payments.close_open_payments(conn, order, now)
    return order


def ship(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    *,
    carrier: str | None,
    tracking_number: str | None,
    now: datetime,
) -> Order:
    who = require(caller, tenant_id, SELLERS)
    order = visible_order(conn, who, tenant_id, order_id)
    _need(order, "paid", doing="ship")
    if _pending_refund(conn, order) is not None:
        raise Conflict("a refund is requested: approve or reject it before shipping", "status")
    values: dict[str, object] = {"shipped_at": now}
    if carrier is not None:
        values["carrier"] = validate.text(carrier, "carrier", max_length=100)
    if tracking_number is not None:
        values["tracking_number"] = validate.text(
            tracking_number, "tracking_number", max_length=100
        )
    return _move(conn, order, "shipped", who.subject_id, now, None, **values)


def confirm_receipt(
    conn: Connection, caller: Principal | None, tenant_id: str, order_id: str, now: datetime
) -> Order:
    who = require(caller, tenant_id, BUYERS)
    order = visible_order(conn, who, tenant_id, order_id)
    _need(order, "shipped", doing="confirm receipt of")
    return _move(conn, order, "received", who.subject_id, now, None, received_at=now)


def _pending_refund(conn: Connection, order: Order) -> Refund | None:
    for refund in repo.refunds_of(conn, order.tenant_id, order.order_id):
        if refund.status == "requested":
            return refund
    return None


REFUNDABLE = ("paid", "shipped", "received")


def request_refund(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    reason: str,
    now: datetime,
) -> Refund:
    who = require(caller, tenant_id, BUYERS_AND_ADMINS)
    order = visible_order(conn, who, tenant_id, order_id)
    _need(order, *REFUNDABLE, doing="ask for a refund of")
    text = validate.text(reason, "reason", max_length=500)
    if _pending_refund(conn, order) is not None:
        raise Conflict("a refund of this order is already requested", "order_id")
    refund = Refund(
        tenant_id=tenant_id,
        refund_id=ids.new_id("rfd"),
        order_id=order.order_id,
        payment_id=None,
        status="requested",
        money_fen=order.money_fen,
        stable_fen=order.stable_fen,
        reason=text,
        requested_by=who.subject_id,
        requested_at=now,
        decided_by=None,
        decided_at=None,
        decision_note=None,
        adjustment=order.rewards_booked,
        provider_ref=None,
    )
    repo.add_refund(conn, refund)
    return refund


def _requested(conn: Connection, order: Order, refund_id: str) -> Refund:
    refund = repo.get_refund(conn, order.tenant_id, refund_id)
    if refund is None or refund.order_id != order.order_id:
        raise NotFound(f"no refund {refund_id!r} of this order")
    if refund.status != "requested":
        raise Conflict(f"the refund is already {refund.status}", "status")
    return refund


def approve_refund(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    refund_id: str,
    *,
    note: str | None,
    gateway: Gateway,
    now: datetime,
) -> tuple[Order, Refund]:
    """Refund the order whole: money through the gateway, stable points back, stock back if
    it had not shipped. Booked rewards: only an admin, as the audited adjustment (rule 9)."""
    from tokenmall.services.mall import payments

    who = require(caller, tenant_id, SELLERS)
    order = visible_order(conn, who, tenant_id, order_id)
    refund = _requested(conn, order, refund_id)
    _need(order, *REFUNDABLE, doing="refund")
    if order.rewards_booked and who.role != "admin":
        raise Forbidden(
            "the order's rewards are booked: only an admin may refund it now, as an audited "
            "adjustment"
        )
    text = None if note is None else validate.text(note, "note", max_length=500)
    # Everything the database may refuse comes first (the ledger, stable points, stock, the
    # status); the gateway is called last, so a refusal never follows money already sent back.
    # A failing gateway call rolls all of it back; its refund id makes a retry safe.
    paid = payments.paid_payment(conn, order) if order.money_fen else None
    if paid is not None:
        order_ledger.refund(
            conn,
            tenant_id,
            user=order.user_id,
            order_ref=order.order_id,
            amount_fen=order.money_fen,
            booked=order.rewards_booked,
            approved_by=who.subject_id if order.rewards_booked else None,
            now=now,
        )
    _return_stable(conn, order)
    if order.status == "paid":
        _release_stock(conn, order, now)
    booked = order.rewards_booked
    note_text = "refund adjustment (rewards stay booked)" if booked else "refund"
    order = _move(conn, order, "refunded", who.subject_id, now, note_text, refunded_at=now)
    provider_ref = None
    if paid is not None:
        provider_ref = payments.refund_through_gateway(conn, gateway, paid, refund_id, now)
    repo.decide_refund(
        conn,
        tenant_id,
        refund.refund_id,
        "succeeded",
        decided_by=who.subject_id,
        decided_at=now,
        decision_note=text,
        provider_ref=provider_ref,
        payment_id=None if paid is None else paid.payment_id,
        adjustment=booked,
    )
    found = repo.get_refund(conn, tenant_id, refund.refund_id)
    assert found is not None
    return order, found


def reject_refund(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    refund_id: str,
    *,
    note: str | None,
    now: datetime,
) -> Refund:
    who = require(caller, tenant_id, SELLERS)
    order = visible_order(conn, who, tenant_id, order_id)
    refund = _requested(conn, order, refund_id)
    text = None if note is None else validate.text(note, "note", max_length=500)
    repo.decide_refund(
        conn,
        tenant_id,
        refund.refund_id,
        "rejected",
        decided_by=who.subject_id,
        decided_at=now,
        decision_note=text,
    )
    found = repo.get_refund(conn, tenant_id, refund.refund_id)
    assert found is not None
    return found


# --- what time does: payment timeouts, auto-confirmation, the return window ---


def _complete(conn: Connection, order: Order, now: datetime) -> Order:
    if order.money_fen and not order.rewards_booked:
        order = _book(conn, order, now)
    order = _move(conn, order, "completed", SYSTEM, now, "return window over", completed_at=now)
    if order.money_fen:
        order_ledger.complete(conn, order.tenant_id, order_ref=order.order_id, now=now)
    return order


def _each_due(
    db_or_conn: DbOrConn,
    tenant_id: str,
    pick: Callable[[Connection], list[str]],
    act: Callable[[Connection, Order], bool],
) -> int:
    """Run ``act`` on each order ``pick`` finds, each in its own savepoint: an order that cannot
    move (logged) does not hold the others up. Given a connection, all of it runs in the
    caller's transaction; given a database, one transaction per batch. Returns how many moved."""
    done, skip = 0, set[str]()
    while True:
        if isinstance(db_or_conn, Connection):
            moved = _each_in(db_or_conn, tenant_id, pick, act, skip)
        else:
            engine = db_or_conn if isinstance(db_or_conn, Engine) else db_or_conn.engine
            with engine.begin() as conn:
                moved = _each_in(conn, tenant_id, pick, act, skip)
        done += moved
        if moved == 0:
            return done


def _each_in(
    conn: Connection,
    tenant_id: str,
    pick: Callable[[Connection], list[str]],
    act: Callable[[Connection, Order], bool],
    skip: set[str],
) -> int:
    moved = 0
    for order_id in pick(conn):
        if order_id in skip:
            continue
        order = repo.get_order(conn, tenant_id, order_id)
        if order is None:
            continue
        try:
            with conn.begin_nested():
                if act(conn, order):
                    moved += 1
                else:
                    skip.add(order_id)
        except DomainError as exc:
            skip.add(order_id)
            log.warning(
                "order could not move on its schedule",
                extra={"fields": {"tenant_id": tenant_id, "order_id": order_id, "error": str(exc)}},
            )
    return moved


def cancel_expired_orders(db_or_conn: DbOrConn, tenant_id: str, now: datetime) -> int:
    """Cancel the unpaid orders whose payment time ran out; how many were cancelled."""

    def pick(conn: Connection) -> list[str]:
        return repo.due_order_ids(conn, tenant_id, "created", "pay_by", now, BATCH)

    def act(conn: Connection, order: Order) -> bool:
        _cancel(conn, order, SYSTEM, now, "payment time ran out")
        return True

    return _each_due(db_or_conn, tenant_id, pick, act)


def complete_due_orders(db_or_conn: DbOrConn, tenant_id: str, now: datetime) -> int:
    """Confirm receipt of orders shipped ``auto_confirm_days`` ago, then complete the orders
    whose return window is over (booking their rewards if not yet); how many completed."""

    def settings(conn: Connection) -> OrderSettings:
        return repo.get_settings(conn, tenant_id)

    def pick_shipped(conn: Connection) -> list[str]:
        before = now - timedelta(days=settings(conn).auto_confirm_days)
        return repo.due_order_ids(conn, tenant_id, "shipped", "shipped_at", before, BATCH)

    def confirm(conn: Connection, order: Order) -> bool:
        assert order.shipped_at is not None
        days = settings(conn).auto_confirm_days
        at = order.shipped_at + timedelta(days=days)
        _move(conn, order, "received", SYSTEM, now, "confirmed automatically", received_at=at)
        return True

    def pick_received(conn: Connection) -> list[str]:
        before = now - timedelta(days=settings(conn).return_window_days)
        return repo.due_order_ids(conn, tenant_id, "received", "received_at", before, BATCH)

    def finish(conn: Connection, order: Order) -> bool:
        if _pending_refund(conn, order) is not None:
            return False  # decided first; the next run completes it if the refund is rejected
        _complete(conn, order, now)
        return True

    _each_due(db_or_conn, tenant_id, pick_shipped, confirm)
    return _each_due(db_or_conn, tenant_id, pick_received, finish)


@dataclass(frozen=True, slots=True)
class DueRun:
    cancelled: int
    completed: int


def run_due(conn: Connection, caller: Principal | None, tenant_id: str, now: datetime) -> DueRun:
    require(caller, tenant_id, ADMINS)
    cancelled = cancel_expired_orders(conn, tenant_id, now)
    completed = complete_due_orders(conn, tenant_id, now)
    return DueRun(cancelled, completed)
