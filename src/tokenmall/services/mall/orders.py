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
* **paid**: the gateway's webhook confirms the money; the unit's ledger puts it in escrow,
  and if the tenant's ``grant_on`` is ``paid`` the rewards are booked at once.
* **received**: the consumer confirms receipt, or ``auto_confirm_days`` after shipping.
* **completed**: ``return_window_days`` after receipt (``complete_due_orders``); the rewards
  are booked now unless they were at payment, and the ledger's ``complete`` releases the
  order's frozen commissions.
* **cancelled**: an unpaid order, by the consumer or an admin, or ``payment_timeout_minutes``
  after checkout (``cancel_expired_orders``): stock released, stable points returned.
* **refunded**: a consumer asks, the merchant or an admin approves; before the rewards are
  booked the money comes back from escrow; after, only an admin may approve, and it is the
  ledger's audited adjustment (economy.md rule 9). Stock comes back if it had not shipped.
* **a redemption's order** (``Order.redemption``, 提货): made paid by the NFG token
  (``services/nfg/redemption.py``), with a total of 0 and no journal at all; it ships and is
  received like any other, and the ``token_orders`` port burns the token on receipt. Its
  owner, its merchant or an admin may cancel it before it ships (``cancel_redemption``): the
  token is held again. It is never refunded (``order_refunds``).

Every change of status is checked against the table, then made by a guarded UPDATE plus a row
of history (who, when, from → to). The use cases take a ``UnitOfWork`` (its ``orders``,
``payments``, ``refunds``, ``catalogue``, ``ledger`` and ``order_money`` ports) and return the
domain's records, which hold integers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from tokenmall.domain.economy.purchase import contribution_for
from tokenmall.domain.economy.state import Rates
from tokenmall.domain.ledger.results import Purchased
from tokenmall.domain.mall import escrow
from tokenmall.domain.mall.gateway import ChannelError
from tokenmall.domain.mall.orders import Order, OrderEvent, OrderSettings, OrderStatus
from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.refunds import Refund, RefundStatus
from tokenmall.domain.mall.transitions import ORDER, PAYMENT, Actor
from tokenmall.domain.money import format_points
from tokenmall.services.ledger.execute import Prefound
from tokenmall.services.mall import catalogue, ids, validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.mall.gateway import Gateway, GatewayUnavailable, channel_named
from tokenmall.services.unit_of_work import UnitOfWork

log = logging.getLogger("tokenmall.orders")

ALL: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)
BUYERS: tuple[Role, ...] = (Role.CONSUMER,)
ADMINS: tuple[Role, ...] = (Role.ADMIN,)
# A redemption's order moving here closes its token's redemption (burned, or held again).
TOKEN_CLOSES = (OrderStatus.RECEIVED, OrderStatus.CANCELLED)
CANCELLED_NOTE = "cancelled"


# --- settings ---


def get_settings(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> OrderSettings:
    require(caller, tenant_id, ALL)
    return uow.orders.settings(tenant_id)


def _days(value: int | None, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{field} must be a whole number from {low} to {high}", field)
    return value


def update_settings(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    return_window_days: int | None,
    payment_timeout_minutes: int | None,
    auto_confirm_days: int | None,
    now: datetime,
) -> OrderSettings:
    who = require(caller, tenant_id, ADMINS)
    old = uow.orders.settings(tenant_id)
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
    uow.orders.put_settings(tenant_id, new, who.subject_id, now)
    return new


# --- reading ---


@dataclass(frozen=True, slots=True)
class OrderView:
    order: Order
    history: list[OrderEvent]
    payments: list[Payment]
    refunds: list[Refund]


def _own_merchant_id(uow: UnitOfWork, who: Principal, tenant_id: str) -> str | None:
    merchant = uow.catalogue.merchant_of_owner(tenant_id, who.subject_id)
    return None if merchant is None else merchant.merchant_id


def visible_order(
    uow: UnitOfWork, who: Principal, tenant_id: str, order_id: str, *, lock: bool = False
) -> Order:
    """The order if ``who`` may see it: its buyer, its merchant, an admin; else 404.

    ``lock``: take the order row's lock first and read it under the lock. Every change of an
    order, its payments or its refunds locks the order row first (then payments, stock, the
    tenant's ledger): one global order, so two of them never deadlock, and a check made
    under the lock (e.g. no refund pending before shipping) holds until commit."""
    if lock:
        uow.orders.lock(tenant_id, order_id)
    order = uow.orders.get(tenant_id, order_id)
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    if who.role == Role.CONSUMER and order.user_id != who.subject_id:
        raise NotFound(f"no order {order_id!r}")
    if who.role == Role.MERCHANT and order.merchant_id != _own_merchant_id(uow, who, tenant_id):
        raise NotFound(f"no order {order_id!r}")
    return order


def view(uow: UnitOfWork, tenant_id: str, order: Order) -> OrderView:
    return OrderView(
        order,
        uow.orders.history(tenant_id, order.order_id),
        uow.payments.of_order(tenant_id, order.order_id),
        uow.refunds.of_order(tenant_id, order.order_id),
    )


def get_order(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, order_id: str
) -> OrderView:
    who = require(caller, tenant_id, ALL)
    return view(uow, tenant_id, visible_order(uow, who, tenant_id, order_id))


def list_orders(
    uow: UnitOfWork,
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
        merchant_id = _own_merchant_id(uow, who, tenant_id)
        if merchant_id is None:
            return []
    return uow.orders.query(
        tenant_id,
        user_id=user_id,
        merchant_id=merchant_id,
        status=status,
        after=after,
        limit=limit,
        checkout_id=checkout_id,
    )


# --- helpers ---


def reload(uow: UnitOfWork, order: Order) -> Order:
    found = uow.orders.get(order.tenant_id, order.order_id)
    assert found is not None
    return found


_ORDER_FIELDS = frozenset(f.name for f in fields(Order))


def _changed(uow: UnitOfWork, order: Order, **values: Any) -> Order:
    """The order after an update of ``values`` that succeeded: built here when every value is
    a field of ``Order`` (the row holds what was read plus what was set: no read again, the
    order's lines and the rest unchanged), else read again."""
    if values.keys() <= _ORDER_FIELDS:
        return replace(order, **values)
    return reload(uow, order)


def history(
    uow: UnitOfWork,
    order: Order,
    from_status: str | None,
    to_status: str,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    event = OrderEvent(ids.new_id("oev"), from_status, to_status, actor, note, now)
    uow.orders.add_event(order.tenant_id, order.order_id, event)


def move(
    uow: UnitOfWork,
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
    if not uow.orders.move(order.tenant_id, order.order_id, order.status, to_status, values):
        raise Conflict(f"order {order.order_id!r} changed meanwhile; read it again", "status")
    history(uow, order, order.status, to_status, actor_id, now, note)
    moved = _changed(uow, order, status=OrderStatus(to_status), **values)
    if moved.redemption is not None and to_status in TOKEN_CLOSES:
        uow.token_orders.closed(moved, actor_id, note, now)
    return moved


def release_stock(uow: UnitOfWork, order: Order, now: datetime) -> None:
    for line in order.lines:
        catalogue.release(
            uow.catalogue, order.tenant_id, line.sku_id, line.quantity, order.order_id, now
        )


def return_stable(uow: UnitOfWork, order: Order) -> None:
    if order.stable_fen:
        uow.order_money.return_stable(
            order.tenant_id,
            user=order.user_id,
            merchant=order.merchant_id,
            order_ref=order.order_id,
            amount_fen=order.stable_fen,
        )


def contribution_of(uow: UnitOfWork, order: Order) -> int | None:
    """The order's contribution to the backing pool for its money part (rule 1, rule 4).

    None when no line has a fixed contribution: the engine applies ``pool_rate`` to the money
    part. Otherwise the fixed contributions (and ``pool_rate`` of the other lines) are scaled
    to the money part: ``floor(contribution × money / goods)`` — stable-paid portions and an
    NFG discount add no contribution (``goods`` is the lines' total, ``total`` less nothing
    when the order has no discount)."""
    found = escrow.fixed_contributions(order.lines)
    if found is None:
        return None
    fixed, rest = found
    if rest:
        fixed += contribution_for(Rates(uow.params.of(order.tenant_id)), rest, None)
    return escrow.money_part_contribution(fixed, order.money_fen, order.goods_fen)


def book(uow: UnitOfWork, order: Order, now: datetime) -> Order:
    """Rule 1 for the order's money part, from escrow; the result is shown on the order."""
    purchase = uow.ledger.book_rewards(
        order.tenant_id,
        user=order.user_id,
        order_ref=order.order_id,
        amount_fen=order.money_fen,
        contribution_fen=contribution_of(uow, order),
        now=now,
    )
    return _booked(uow, order, purchase, now)


def _rewards(purchase: Purchased, now: datetime) -> dict[str, object]:
    """The purchase journal's result, as the order's columns show it."""
    return {
        "rewards_journal_id": purchase.journal_id,
        "rewards_points": format_points(purchase.buyer_points),
        "rewards_price": format_points(purchase.price),
        "rewards_contribution_fen": purchase.contribution,
        "rewards_booked_at": now,
    }


def _booked(uow: UnitOfWork, order: Order, purchase: Purchased, now: datetime) -> Order:
    """The purchase journal's result shown on the order."""
    values: Mapping[str, object] = _rewards(purchase, now)
    uow.orders.set_fields(order.tenant_id, order.order_id, values)
    return _changed(uow, order, **values)


# --- the gateway confirms a payment (payments.py calls these) ---


def mark_paid(
    uow: UnitOfWork,
    order: Order,
    payment: Payment,
    now: datetime,
    *,
    looked_up: Prefound | None = None,
    contribution: tuple[int | None] | None = None,
) -> Order:
    """The gateway confirmed the order's payment: the order paid, the money to escrow and
    (``grant_on = paid``) the rewards booked. ``looked_up``: the order's ledger keys read
    already (else read here); ``contribution``: ``(contribution_of(uow, order),)`` worked
    out already, before the caller's writes began (it may read the tenant's parameters)."""
    by = f"gateway:{payment.gateway}"
    # The payment and (grant_on = paid) the rewards as ONE ledger batch: the tenant is locked
    # once, late, for one pipeline (the ledger's ``pay_and_book`` then ``write_paid``), not
    # twice with a round trip a statement; what only reads comes before.
    paid = uow.ledger.pay_and_book(
        order.tenant_id,
        user=order.user_id,
        order_ref=order.order_id,
        amount_fen=order.money_fen,
        contribution_fen=(contribution or (contribution_of(uow, order),))[0],
        before=(),
        looked_up=looked_up,
        new_holders=(),
        now=now,
    )
    # The order paid and the booking's result on it in one update of its row.
    rewards = {} if paid.purchase is None else _rewards(paid.purchase, now)
    order = move(
        uow, order, "pay", Actor.GATEWAY, now, payment.payment_id, who=by, paid_at=now, **rewards
    )
    with uow.writing():
        uow.ledger.write_paid()
    return order


# --- consumer, merchant and admin actions ---


def cancel(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    reason: str | None,
    now: datetime,
    gateway: Gateway | None = None,
) -> Order:
    """Cancel an unpaid order (its buyer, an admin), or a redemption's order before it ships
    (its owner, its merchant, an admin: the token is held again). Given the tenant's
    ``gateway``, the order's open payments are closed at their channels too, as far as the
    channels let them be (a payment the payer finished meanwhile is refunded when its
    callback comes)."""
    who = require(caller, tenant_id, ALL)
    order = visible_order(uow, who, tenant_id, order_id, lock=True)
    action = "cancel" if order.redemption is None else "cancel_redemption"
    require(caller, tenant_id, ORDER.roles(action))
    ORDER.check(order.status, action, actor(who))
    note = None if reason is None else validate.text(reason, "reason", max_length=500)
    if gateway is not None:
        close_at_channels(uow, order, gateway, insist=False)
    return cancel_order(uow, order, who, now, note or CANCELLED_NOTE, action=action)


def cancel_order(
    uow: UnitOfWork,
    order: Order,
    by: Principal | Actor,
    now: datetime,
    note: str,
    *,
    action: str = "cancel",
) -> Order:
    order = move(uow, order, action, by, now, note, cancelled_at=now)
    release_stock(uow, order, now)
    return_stable(uow, order)
    close_open_payments(uow, order, now)
    return order


def close_at_channels(uow: UnitOfWork, order: Order, gateway: Gateway, *, insist: bool) -> None:
    """Close the order's open payments at the channels that opened them. A channel that can no
    longer be reached at all (switched off, its keys gone) is passed over: money it takes
    anyway is refunded when its callback comes. A channel that refuses the close (the payer
    finished paying meanwhile) or does not answer raises when ``insist`` (the order stays as
    it is and the caller tries again later); otherwise it is logged and passed over like an
    unreachable one."""
    for payment in uow.payments.of_order(order.tenant_id, order.order_id):
        if payment.status not in PAYMENT.sources("close"):
            continue
        try:
            through = channel_named(gateway, payment.gateway)
            if through.name != payment.gateway:
                continue
            through.close_payment(provider_ref=payment.provider_ref)
        except GatewayUnavailable:
            continue
        except ChannelError as exc:
            if insist:
                raise
            log.warning(
                "payment could not be closed at its channel",
                extra={
                    "fields": {
                        "tenant_id": order.tenant_id,
                        "payment_id": payment.payment_id,
                        "error": str(exc),
                    }
                },
            )


def close_open_payments(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """The order was cancelled: its open payments can no longer be paid."""
    for payment in uow.payments.of_order(order.tenant_id, order.order_id):
        if payment.status in PAYMENT.sources("close"):
            uow.payments.move(
                order.tenant_id,
                payment.payment_id,
                PAYMENT.sources("close"),
                PaymentStatus.CLOSED,
                {"updated_at": now},
            )


def ship(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    *,
    carrier: str | None,
    tracking_number: str | None,
    now: datetime,
) -> Order:
    who = require(caller, tenant_id, ORDER.roles("ship"))
    order = visible_order(uow, who, tenant_id, order_id, lock=True)
    ORDER.check(order.status, "ship", actor(who))
    if pending_refund(uow, order) is not None:
        raise Conflict("a refund is requested: approve or reject it before shipping", "status")
    values: dict[str, Any] = {"shipped_at": now}
    if carrier is not None:
        values["carrier"] = validate.text(carrier, "carrier", max_length=100)
    if tracking_number is not None:
        values["tracking_number"] = validate.text(
            tracking_number, "tracking_number", max_length=100
        )
    return move(uow, order, "ship", who, now, None, **values)


def confirm_receipt(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, order_id: str, now: datetime
) -> Order:
    who = require(caller, tenant_id, ORDER.roles("confirm_receipt"))
    order = visible_order(uow, who, tenant_id, order_id, lock=True)
    return move(uow, order, "confirm_receipt", who, now, None, received_at=now)


_OPEN_REFUND = (RefundStatus.REQUESTED, RefundStatus.PROCESSING, RefundStatus.FAILED)


def pending_refund(uow: UnitOfWork, order: Order) -> Refund | None:
    """The order's refund not yet finished: asked for, at the channel, or failed there."""
    for refund in uow.refunds.of_order(order.tenant_id, order.order_id):
        if refund.status in _OPEN_REFUND:
            return refund
    return None
