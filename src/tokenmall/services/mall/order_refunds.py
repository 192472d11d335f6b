"""Refunds of orders: a consumer (or an admin) asks, the merchant or an admin decides.

Before the rewards are booked the money comes back from escrow; after, only an admin may
approve, as the ledger's audited adjustment that also takes the order's rewards back (rule 9),
which ``preview_refund`` shows figure by figure first. Stock comes back if the order had not
shipped. Every change locks the order's row first (``visible_order(lock=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tokenmall.domain.mall.commissions import CommissionStatus
from tokenmall.domain.mall.gateway import GatewayRefund
from tokenmall.domain.mall.orders import Order, OrderStatus
from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.refunds import Refund, RefundStatus
from tokenmall.domain.mall.transitions import COMMISSION, ORDER, REFUND
from tokenmall.services.mall import ids, payments, validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, Forbidden, NotFound
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.orders import pending_refund, visible_order
from tokenmall.services.mall.refund_channel import book_refund, validate_reason
from tokenmall.services.unit_of_work import UnitOfWork


def not_a_redemption(order: Order) -> None:
    """A redemption's order was paid by its NFG token: no money or points to give back."""
    if order.redemption is not None:
        r = order.redemption
        raise Conflict(
            f"order {order.order_id!r} redeems the token {r.collection_id}/{r.serial}: it was "
            "paid by the token, so there is nothing to refund; cancel the redemption before "
            "it ships instead",
            "order_id",
        )


def request_refund(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    reason: str,
    now: datetime,
) -> Refund:
    who = require(caller, tenant_id, ORDER.roles("request_refund"))
    order = visible_order(uow, who, tenant_id, order_id, lock=True)
    not_a_redemption(order)
    ORDER.check(order.status, "request_refund", actor(who))
    text = validate.text(reason, "reason", max_length=500)
    if pending_refund(uow, order) is not None:
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
    uow.refunds.add(refund)
    return refund


def _requested(
    uow: UnitOfWork, order: Order, refund_id: str, action: str, who: Principal
) -> tuple[Refund, RefundStatus]:
    """The order's refund and the status ``action`` moves it to, if its table allows."""
    refund = uow.refunds.get(order.tenant_id, refund_id)
    if refund is None or refund.order_id != order.order_id:
        raise NotFound(f"no refund {refund_id!r} of this order")
    return refund, REFUND.check(refund.status, action, actor(who))


def approve_refund(
    uow: UnitOfWork,
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
    who = require(caller, tenant_id, REFUND.roles("approve"))
    order = visible_order(uow, who, tenant_id, order_id, lock=True)
    not_a_redemption(order)
    refund, decided = _requested(uow, order, refund_id, "approve", who)
    ORDER.check(order.status, "refund", actor(who))
    if order.rewards_booked and who.role != Role.ADMIN:
        raise Forbidden(
            "the order's rewards are booked: only an admin may refund it now, as an audited "
            "adjustment"
        )
    text = None if note is None else validate.text(note, "note", max_length=500)
    booked = order.rewards_booked
    paid = payments.paid_payment(uow, order) if order.money_fen else None
    decision: dict[str, object] = {
        "decided_by": who.subject_id,
        "decided_at": now,
        "decision_note": text,
        "payment_id": None if paid is None else paid.payment_id,
        "adjustment": booked,
    }
    if paid is None:
        order = book_refund(uow, order, None, who, now, approved_by=who.subject_id)
        uow.refunds.decide(tenant_id, refund.refund_id, decided, decision)
        found = uow.refunds.get(tenant_id, refund.refund_id)
        assert found is not None
        return order, found
    # Everything the database may refuse comes first (the ledger, stable points, stock, the
    # status), inside a savepoint; the channel is asked last, so a refusal never follows money
    # sent back. Unless the channel answers "succeeded" the savepoint is undone: the refund is
    # booked only when the channel confirms it (``refund_channel.finish_refund``). A failing
    # channel call rolls the whole unit back; the refund's number makes a retry safe.
    answer: GatewayRefund | None = None
    try:
        with uow.nested.savepoint():
            moved = book_refund(uow, order, paid, who, now, approved_by=who.subject_id)
            answer = payments.submit_refund(gateway, paid, refund.refund_id)
            if answer.status != "succeeded":
                raise _NotYet
            payments.mark_refunded(uow, paid, now)
    except _NotYet:
        pass
    assert answer is not None
    if answer.status == "failed":
        # Recorded, not rolled back: an admin sees why, and retries it (a new number at the
        # channel) or abandons it with a reason.
        REFUND.check(refund.status, "refused", actor(who))
        uow.refunds.decide(
            tenant_id,
            refund.refund_id,
            RefundStatus.FAILED,
            {
                **decision,
                "failure_reason": validate_reason(answer.reason),
                "submitted_at": now,
            },
        )
    elif answer.status == "succeeded":
        uow.refunds.decide(
            tenant_id,
            refund.refund_id,
            decided,
            {**decision, "provider_ref": answer.provider_ref},
        )
        order = moved
    else:
        REFUND.check(refund.status, "submit", actor(who))
        uow.refunds.decide(
            tenant_id,
            refund.refund_id,
            RefundStatus.PROCESSING,
            {**decision, "provider_ref": answer.provider_ref, "submitted_at": now},
        )
    found = uow.refunds.get(tenant_id, refund.refund_id)
    assert found is not None
    return order, found


class _NotYet(Exception):
    """The channel has not confirmed the refund: undo its bookings (the savepoint)."""


@dataclass(frozen=True, slots=True)
class Clawback:
    """A referral commission the refund claws back: ``frozen`` ones go back to revenue, the
    others come from the beneficiary's cash, else as a debt."""

    beneficiary: str
    level: int
    amount_fen: int
    frozen: bool


@dataclass(frozen=True, slots=True)
class RefundPreview:
    """What approving a refund would do now. ``rewards``: for a booked order, the ledger's
    statement of the rewards it takes back (its figures formatted by the ledger)."""

    order_id: str
    refund_id: str
    money_fen: int
    stable_fen: int
    stock_back: bool
    rewards_booked: bool
    admin_only: bool
    rewards: dict[str, Any] | None
    commissions: list[Clawback]


def preview_refund(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    refund_id: str,
) -> RefundPreview:
    """Everything approving the refund would do now, figure by figure, changing nothing: the
    money and stable points back, the stock back, and for a booked order the rewards taken
    back (points burned, quota and spend removed, debts) and the commissions clawed back."""
    who = require(caller, tenant_id, REFUND.roles("approve"))
    order = visible_order(uow, who, tenant_id, order_id)
    not_a_redemption(order)
    refund, _ = _requested(uow, order, refund_id, "approve", who)
    ORDER.check(order.status, "refund", actor(who))
    rewards = None
    if order.rewards_booked:
        rewards = uow.order_money.preview_reversal(tenant_id, order.order_id)
    claws = [
        Clawback(r.beneficiary, r.level, r.amount_fen, r.status == CommissionStatus.FROZEN)
        for r in uow.order_money.commissions_of(tenant_id, order.order_id)
        if r.status in COMMISSION.sources("claw_back")
    ]
    return RefundPreview(
        order_id=order.order_id,
        refund_id=refund.refund_id,
        money_fen=order.money_fen,
        stable_fen=order.stable_fen,
        stock_back=order.status == OrderStatus.PAID,
        rewards_booked=order.rewards_booked,
        admin_only=order.rewards_booked,
        rewards=rewards,
        commissions=claws,
    )


def reject_refund(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    refund_id: str,
    *,
    note: str | None,
    now: datetime,
) -> Refund:
    who = require(caller, tenant_id, REFUND.roles("reject"))
    order = visible_order(uow, who, tenant_id, order_id, lock=True)
    refund, decided = _requested(uow, order, refund_id, "reject", who)
    text = None if note is None else validate.text(note, "note", max_length=500)
    uow.refunds.decide(
        tenant_id,
        refund.refund_id,
        decided,
        {"decided_by": who.subject_id, "decided_at": now, "decision_note": text},
    )
    found = uow.refunds.get(tenant_id, refund.refund_id)
    assert found is not None
    return found
