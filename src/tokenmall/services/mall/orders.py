"""Orders: their states and moves, and their money through the ledger.

Checkout is ``checkout.py``'s, refunds ``order_refunds.py``'s and what time does (payment
timeouts, auto-confirmation, the return window) ``order_clock.py``'s; which moves exist and who
may make them is ``domain/mall/transitions.py``'s ``ORDER`` table.

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

Every change of status is checked against the table, then made by a guarded UPDATE plus a row
of history (who, when, from → to).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import catalogue as catalogue_repo
from tokenmall.adapters.db.mall import orders as repo
from tokenmall.adapters.db.mall import payments as payments_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy.purchase import contribution_for
from tokenmall.domain.economy.state import Rates
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall import escrow
from tokenmall.domain.mall.orders import Order, OrderEvent, OrderSettings
from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.refunds import Refund, RefundStatus
from tokenmall.domain.mall.transitions import ORDER, PAYMENT, Actor
from tokenmall.domain.money import parse_money, parse_points
from tokenmall.services.mall import catalogue, ids, journal, order_ledger, validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger("tokenmall.orders")

ALL: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)
BUYERS: tuple[Role, ...] = (Role.CONSUMER,)
ADMINS: tuple[Role, ...] = (Role.ADMIN,)


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
    history: list[OrderEvent]
    payments: list[Payment]
    refunds: list[Refund]


def _own_merchant_id(conn: Connection, who: Principal, tenant_id: str) -> str | None:
    merchant = catalogue_repo.merchant_of_owner(conn, tenant_id, who.subject_id)
    return None if merchant is None else merchant.merchant_id


def visible_order(
    conn: Connection, who: Principal, tenant_id: str, order_id: str, *, lock: bool = False
) -> Order:
    """The order if ``who`` may see it: its buyer, its merchant, an admin; else 404.

    ``lock``: take the order row's lock first and read it under the lock. Every change of an
    order, its payments or its refunds locks the order row first (then payments, stock, the
    tenant's ledger): one global order, so two of them never deadlock, and a check made
    under the lock (e.g. no refund pending before shipping) holds until commit."""
    if lock:
        repo.lock_order(conn, tenant_id, order_id)
    order = repo.get_order(conn, tenant_id, order_id)
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    if who.role == Role.CONSUMER and order.user_id != who.subject_id:
        raise NotFound(f"no order {order_id!r}")
    if who.role == Role.MERCHANT and order.merchant_id != _own_merchant_id(conn, who, tenant_id):
        raise NotFound(f"no order {order_id!r}")
    return order


def view(conn: Connection, tenant_id: str, order: Order) -> OrderView:
    return OrderView(
        order,
        repo.order_history(conn, tenant_id, order.order_id),
        payments_repo.payments_of(conn, tenant_id, order.order_id),
        refunds_repo.refunds_of(conn, tenant_id, order.order_id),
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
    if who.role == Role.CONSUMER:
        user_id = who.subject_id
    elif who.role == Role.MERCHANT:
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


# --- helpers ---


def reload(conn: Connection, order: Order) -> Order:
    found = repo.get_order(conn, order.tenant_id, order.order_id)
    assert found is not None
    return found


def history(
    conn: Connection,
    order: Order,
    from_status: str | None,
    to_status: str,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    event = OrderEvent(ids.new_id("oev"), from_status, to_status, actor, note, now)
    repo.add_event(conn, order.tenant_id, order.order_id, event)


def move(
    conn: Connection,
    order: Order,
    action: str,
    by: Principal | Actor,
    now: datetime,
    note: str | None = None,
    *,
    who: str | None = None,
    **values: object,
) -> Order:
    """Take ``action`` on the order if its table allows it ``by`` this caller (or the platform,
    recorded in the history as ``who``, else as the caller's id)."""
    if isinstance(by, Principal):
        to_status = ORDER.check(order.status, action, actor(by))
        actor_id = by.subject_id
    else:
        to_status = ORDER.check(order.status, action, by)
        actor_id = who if who is not None else by.value
    if not repo.move_order(
        conn, order.tenant_id, order.order_id, order.status, to_status, **values
    ):
        raise Conflict(f"order {order.order_id!r} changed meanwhile; read it again", "status")
    history(conn, order, order.status, to_status, actor_id, now, note)
    return reload(conn, order)


def release_stock(conn: Connection, order: Order, now: datetime) -> None:
    for line in order.lines:
        catalogue.release(conn, order.tenant_id, line.sku_id, line.quantity, order.order_id, now)


def return_stable(conn: Connection, order: Order) -> None:
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
    found = escrow.fixed_contributions(order.lines)
    if found is None:
        return None
    fixed, rest = found
    if rest:
        params, _ = Store(conn.engine).load_params(conn, order.tenant_id)
        fixed += contribution_for(Rates(params), rest, None)
    return escrow.money_part_contribution(fixed, order.money_fen, order.total_fen)


def book(conn: Connection, order: Order, now: datetime) -> Order:
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
    return reload(conn, order)


# --- the gateway confirms a payment (payments.py calls these) ---


def mark_paid(conn: Connection, order: Order, payment: Payment, now: datetime) -> Order:
    by = f"gateway:{payment.gateway}"
    order = move(conn, order, "pay", Actor.GATEWAY, now, payment.payment_id, who=by, paid_at=now)
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
    who = require(caller, tenant_id, ORDER.roles("cancel"))
    order = visible_order(conn, who, tenant_id, order_id, lock=True)
    ORDER.check(order.status, "cancel", actor(who))
    note = None if reason is None else validate.text(reason, "reason", max_length=500)
    return cancel_order(conn, order, who, now, note or "cancelled")


def cancel_order(
    conn: Connection, order: Order, by: Principal | Actor, now: datetime, note: str
) -> Order:
    order = move(conn, order, "cancel", by, now, note, cancelled_at=now)
    release_stock(conn, order, now)
    return_stable(conn, order)
    close_open_payments(conn, order, now)
    return order


def close_open_payments(conn: Connection, order: Order, now: datetime) -> None:
    """The order was cancelled: its open payments can no longer be paid."""
    for payment in payments_repo.payments_of(conn, order.tenant_id, order.order_id):
        if payment.status in PAYMENT.sources("close"):
            payments_repo.move_payment(
                conn,
                order.tenant_id,
                payment.payment_id,
                PAYMENT.sources("close"),
                PaymentStatus.CLOSED,
                updated_at=now,
            )


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
    who = require(caller, tenant_id, ORDER.roles("ship"))
    order = visible_order(conn, who, tenant_id, order_id, lock=True)
    ORDER.check(order.status, "ship", actor(who))
    if pending_refund(conn, order) is not None:
        raise Conflict("a refund is requested: approve or reject it before shipping", "status")
    values: dict[str, Any] = {"shipped_at": now}
    if carrier is not None:
        values["carrier"] = validate.text(carrier, "carrier", max_length=100)
    if tracking_number is not None:
        values["tracking_number"] = validate.text(
            tracking_number, "tracking_number", max_length=100
        )
    return move(conn, order, "ship", who, now, None, **values)


def confirm_receipt(
    conn: Connection, caller: Principal | None, tenant_id: str, order_id: str, now: datetime
) -> Order:
    who = require(caller, tenant_id, ORDER.roles("confirm_receipt"))
    order = visible_order(conn, who, tenant_id, order_id, lock=True)
    return move(conn, order, "confirm_receipt", who, now, None, received_at=now)


def pending_refund(conn: Connection, order: Order) -> Refund | None:
    for refund in refunds_repo.refunds_of(conn, order.tenant_id, order.order_id):
        if refund.status == RefundStatus.REQUESTED:
            return refund
    return None
