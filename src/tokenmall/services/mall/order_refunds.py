"""Refunds of orders: a consumer (or an admin) asks, the merchant or an admin decides.

Before the rewards are booked the money comes back from escrow; after, only an admin may
approve, as the ledger's audited adjustment that also takes the order's rewards back (rule 9),
which ``preview_refund`` shows figure by figure first. Stock comes back if the order had not
shipped. Every change locks the order's row first (``visible_order(lock=True)``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import commissions as commissions_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.mall.commissions import CommissionStatus
from tokenmall.domain.mall.orders import Order, OrderStatus
from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.refunds import Refund, RefundStatus
from tokenmall.domain.mall.transitions import COMMISSION, ORDER, REFUND
from tokenmall.domain.money import format_money
from tokenmall.services.ledger.execute import preview_order_reversal
from tokenmall.services.mall import ids, order_ledger, validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, Forbidden, NotFound
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.orders import (
    move,
    pending_refund,
    release_stock,
    return_stable,
    visible_order,
)


def request_refund(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    reason: str,
    now: datetime,
) -> Refund:
    who = require(caller, tenant_id, ORDER.roles("request_refund"))
    order = visible_order(conn, who, tenant_id, order_id, lock=True)
    ORDER.check(order.status, "request_refund", actor(who))
    text = validate.text(reason, "reason", max_length=500)
    if pending_refund(conn, order) is not None:
        raise Conflict("a refund of this order is already requested", "order_id")
    refund = Refund(
        tenant_id=tenant_id,
        refund_id=ids.new_id("rfd"),
        order_id=order.order_id,
        payment_id=None,
        status=RefundStatus.REQUESTED,
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
    refunds_repo.add_refund(conn, refund)
    return refund


def _requested(
    conn: Connection, order: Order, refund_id: str, action: str, who: Principal
) -> tuple[Refund, RefundStatus]:
    """The order's refund and the status ``action`` moves it to, if its table allows."""
    refund = refunds_repo.get_refund(conn, order.tenant_id, refund_id)
    if refund is None or refund.order_id != order.order_id:
        raise NotFound(f"no refund {refund_id!r} of this order")
    return refund, REFUND.check(refund.status, action, actor(who))


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

    who = require(caller, tenant_id, REFUND.roles("approve"))
    order = visible_order(conn, who, tenant_id, order_id, lock=True)
    refund, decided = _requested(conn, order, refund_id, "approve", who)
    ORDER.check(order.status, "refund", actor(who))
    if order.rewards_booked and who.role != Role.ADMIN:
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
    return_stable(conn, order)
    if order.status == OrderStatus.PAID:
        release_stock(conn, order, now)
    booked = order.rewards_booked
    note_text = "refund adjustment (rewards taken back)" if booked else "refund"
    order = move(conn, order, "refund", who, now, note_text, refunded_at=now)
    provider_ref = None
    if paid is not None:
        provider_ref = payments.refund_through_gateway(conn, gateway, paid, refund_id, now)
    refunds_repo.decide_refund(
        conn,
        tenant_id,
        refund.refund_id,
        decided,
        decided_by=who.subject_id,
        decided_at=now,
        decision_note=text,
        provider_ref=provider_ref,
        payment_id=None if paid is None else paid.payment_id,
        adjustment=booked,
    )
    found = refunds_repo.get_refund(conn, tenant_id, refund.refund_id)
    assert found is not None
    return order, found


def preview_refund(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    refund_id: str,
) -> dict[str, Any]:
    """Everything approving the refund would do now, figure by figure, changing nothing: the
    money and stable points back, the stock back, and for a booked order the rewards taken
    back (points burned, quota and spend removed, debts) and the commissions clawed back."""
    who = require(caller, tenant_id, REFUND.roles("approve"))
    order = visible_order(conn, who, tenant_id, order_id)
    refund, _ = _requested(conn, order, refund_id, "approve", who)
    ORDER.check(order.status, "refund", actor(who))
    rewards = None
    if order.rewards_booked:
        preview = preview_order_reversal(Store(conn.engine), conn, tenant_id, order.order_id)
        rewards = preview.to_json()
    claws = [
        {
            "beneficiary": r.beneficiary,
            "level": r.level,
            "amount": format_money(r.amount_fen),
            "source": "frozen" if r.status == CommissionStatus.FROZEN else "cash_or_debt",
        }
        for r in commissions_repo.order_commissions(conn, tenant_id, order.order_id)
        if r.status in COMMISSION.sources("claw_back")
    ]
    return {
        "order_id": order.order_id,
        "refund_id": refund.refund_id,
        "money": format_money(order.money_fen),
        "stable": format_money(order.stable_fen),
        "stock_back": order.status == OrderStatus.PAID,
        "rewards_booked": order.rewards_booked,
        "admin_only": order.rewards_booked,
        "rewards": rewards,
        "commissions": claws,
    }


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
    who = require(caller, tenant_id, REFUND.roles("reject"))
    order = visible_order(conn, who, tenant_id, order_id, lock=True)
    refund, decided = _requested(conn, order, refund_id, "reject", who)
    text = None if note is None else validate.text(note, "note", max_length=500)
    refunds_repo.decide_refund(
        conn,
        tenant_id,
        refund.refund_id,
        decided,
        decided_by=who.subject_id,
        decided_at=now,
        decision_note=text,
    )
    found = refunds_repo.get_refund(conn, tenant_id, refund.refund_id)
    assert found is not None
    return found
