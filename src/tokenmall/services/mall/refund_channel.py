"""Refunds the payment channel finishes: processing at the channel, then succeeded or failed.

An approved refund of money paid through a channel is booked (the ledger's reversal, rule 9;
stable points and stock back; the order refunded; the payment refunded) exactly once, in the
unit that records it ``succeeded``: at once if the channel answers so, else when its refund
callback or a query of the channel says so. Each finish locks the order row, then the refund's
row, and acts only on a refund still ``processing``: a callback and a query of the same refund,
or a callback replayed, finish it once. A failed refund books nothing: it is retried under a
new attempt (a new number at the channel) or abandoned by an admin with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from tokenmall.domain.errors import ErrorKind
from tokenmall.domain.mall.gateway import CallbackRefused, GatewayRefund, RefundState
from tokenmall.domain.mall.orders import Order, OrderStatus
from tokenmall.domain.mall.payments import Payment
from tokenmall.domain.mall.refunds import (
    Refund,
    RefundStatus,
    channel_refund_no,
    refund_of_channel_no,
)
from tokenmall.domain.mall.transitions import REFUND, Actor
from tokenmall.services.mall import payments, validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, NotFound
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.orders import move, release_stock, return_stable, visible_order
from tokenmall.services.mall.uow import Database
from tokenmall.services.unit_of_work import UnitOfWork

log = logging.getLogger("tokenmall.payments")
ASK_AFTER = timedelta(minutes=1)


def book_refund(
    uow: UnitOfWork,
    order: Order,
    paid: Payment | None,
    by: Principal | Actor,
    now: datetime,
    *,
    approved_by: str,
) -> Order:
    """The refund's bookings, all in the caller's unit: the money out of the ledger (with the
    rewards taken back if they were booked), stable points back, stock back if unshipped, the
    order refunded. The payment is marked refunded by the caller once the channel confirms."""
    if paid is not None:
        uow.ledger.refund(
            order.tenant_id,
            user=order.user_id,
            order_ref=order.order_id,
            amount_fen=order.money_fen,
            booked=order.rewards_booked,
            approved_by=approved_by if order.rewards_booked else None,
            now=now,
        )
    return_stable(uow, order)
    if order.status == OrderStatus.PAID:
        release_stock(uow, order, now)
    note = "refund adjustment (rewards taken back)" if order.rewards_booked else "refund"
    who = approved_by if not isinstance(by, Principal) else None
    return move(uow, order, "refund", by, now, note, who=who, refunded_at=now)


def _decided(
    uow: UnitOfWork, refund: Refund, to: RefundStatus, values: dict[str, object]
) -> Refund:
    if not uow.refunds.decide(
        refund.tenant_id, refund.refund_id, to, values, from_status=refund.status
    ):
        raise Conflict(f"refund {refund.refund_id!r} changed meanwhile; read it again", "status")
    found = uow.refunds.get(refund.tenant_id, refund.refund_id)
    assert found is not None
    return found


def _approver(refund: Refund) -> Actor:
    """Who the order's table sees finishing the refund: whoever approved it (an admin for an
    adjustment of booked rewards)."""
    return Actor.ADMIN if refund.adjustment else Actor.MERCHANT


def _apply(
    uow: UnitOfWork,
    order: Order,
    refund: Refund,
    paid: Payment,
    answer: GatewayRefund,
    by: Principal | Actor,
    now: datetime,
) -> tuple[Order, Refund]:
    """Record what the channel answered about the refund's current attempt."""
    if answer.status == "succeeded":
        order = book_refund(
            uow, order, paid, by, now, approved_by=refund.decided_by or refund.requested_by
        )
        payments.mark_refunded(uow, paid, now)
        done = _decided(
            uow,
            refund,
            RefundStatus.SUCCEEDED,
            {"provider_ref": answer.provider_ref, "failure_reason": None},
        )
        return order, done
    if answer.status == "failed":
        reason = validate_reason(answer.reason)
        return order, _decided(uow, refund, RefundStatus.FAILED, {"failure_reason": reason})
    if refund.status == RefundStatus.PROCESSING:
        return order, refund
    return order, _decided(
        uow,
        refund,
        RefundStatus.PROCESSING,
        {"provider_ref": answer.provider_ref, "submitted_at": now, "attempt": refund.attempt},
    )


def validate_reason(reason: str | None) -> str:
    """The channel's reason for a failed refund, cut to the column's 500 characters."""
    return (reason or "the channel reported the refund failed")[:500]


def _locked(uow: UnitOfWork, tenant_id: str, refund_id: str) -> tuple[Order, Refund, Payment]:
    """The refund's order (row locked first), the refund (row locked) and its payment."""
    refund = uow.refunds.get(tenant_id, refund_id)
    if refund is None:
        raise NotFound(f"no refund {refund_id!r}", "refund_id")
    uow.orders.lock(tenant_id, refund.order_id)
    order = uow.orders.get(tenant_id, refund.order_id)
    refund = uow.refunds.get(tenant_id, refund_id, lock=True)
    assert order is not None
    assert refund is not None
    if refund.payment_id is None:
        raise Conflict(f"refund {refund_id!r} did not go through a payment channel", "refund_id")
    paid = uow.payments.get(tenant_id, refund.payment_id)
    if paid is None:
        raise NotFound(f"no payment {refund.payment_id!r}", "refund_id")
    return order, refund, paid


def finish_refund(
    uow: UnitOfWork, tenant_id: str, refund_id: str, answer: GatewayRefund, now: datetime
) -> Refund:
    """What the channel said about a refund (its callback, a query): ``succeeded`` books it,
    ``failed`` records why; a refund no longer processing is left as it is (a replay, or the
    other of a callback and a query that raced)."""
    order, refund, paid = _locked(uow, tenant_id, refund_id)
    if refund.status != RefundStatus.PROCESSING or answer.status == "processing":
        return refund
    action = "channel_succeeded" if answer.status == "succeeded" else "channel_failed"
    REFUND.check(refund.status, action, Actor.SYSTEM)
    _, done = _apply(uow, order, refund, paid, answer, _approver(refund), now)
    return done


def _mine(
    uow: UnitOfWork, who: Principal, tenant_id: str, order_id: str, refund_id: str
) -> tuple[Order, Refund, Payment]:
    visible_order(uow, who, tenant_id, order_id)
    order, refund, paid = _locked(uow, tenant_id, refund_id)
    if refund.order_id != order_id:
        raise NotFound(f"no refund {refund_id!r} of this order")
    return order, refund, paid


def query_refund(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    refund_id: str,
    *,
    gateway: Gateway,
    now: datetime,
) -> Refund:
    """Ask the channel about a refund still processing (its current attempt) and apply the
    answer as its callback would; any other refund is answered as it is."""
    who = require(caller, tenant_id, REFUND.roles("approve"))
    _, refund, paid = _mine(uow, who, tenant_id, order_id, refund_id)
    return _ask_channel(uow, refund, paid, gateway, now)


def _ask_channel(
    uow: UnitOfWork, refund: Refund, paid: Payment, gateway: Gateway, now: datetime
) -> Refund:
    """Ask the channel about a refund still processing: its current attempt sent again under
    the same number (the channel answers with the refund it already has), the answer applied
    as its callback would be. Any other refund is answered as it is."""
    if refund.status != RefundStatus.PROCESSING:
        return refund
    answer = payments.submit_refund(
        gateway,
        paid,
        channel_refund_no(refund.refund_id, refund.attempt),
        amount_fen=refund.money_fen,
    )
    return finish_refund(uow, refund.tenant_id, refund.refund_id, answer, now)


def sync_processing(
    db: Database,
    gateway_of: Callable[[str], Gateway],
    now: datetime,
    *,
    older_than: timedelta = ASK_AFTER,
    limit: int = 200,
) -> list[Refund]:
    """The scheduler's round: every refund still processing at its channel ``older_than``
    after it was submitted is asked about (its current attempt) and the answer applied as its
    callback would be, each in a unit of its own (a refund whose channel cannot be asked now is
    logged and asked next round). The refunds that ended."""
    with db.reading() as uow:
        waiting = uow.refunds.processing_before(now - older_than, limit)
    ended = []
    for refund in waiting:
        try:
            gateway = gateway_of(refund.tenant_id)
            with db.unit() as uow:
                _, found, paid = _locked(uow, refund.tenant_id, refund.refund_id)
                if found.status != RefundStatus.PROCESSING:
                    continue  # finished meanwhile by its callback or a query
                after = _ask_channel(uow, found, paid, gateway, now)
        except Exception:
            log.exception(
                "refund %s: asking its channel failed; asked next round", refund.refund_id
            )
            continue
        if after.status != RefundStatus.PROCESSING:
            ended.append(after)
    return ended


def retry_refund(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    refund_id: str,
    *,
    gateway: Gateway,
    now: datetime,
) -> tuple[Order, Refund]:
    """Try a failed refund again as its next attempt, under a new number at the channel (a
    failed refund's number is never reused). Nothing is booked unless the channel says
    ``succeeded``."""
    who = require(caller, tenant_id, REFUND.roles("retry"))
    order, refund, paid = _mine(uow, who, tenant_id, order_id, refund_id)
    REFUND.check(refund.status, "retry", actor(who))
    attempt = refund.attempt + 1
    answer = payments.submit_refund(
        gateway, paid, channel_refund_no(refund.refund_id, attempt), amount_fen=refund.money_fen
    )
    uow.refunds.decide(
        tenant_id,
        refund_id,
        RefundStatus.FAILED,
        {"attempt": attempt, "submitted_at": now},
        from_status=RefundStatus.FAILED,
    )
    again = uow.refunds.get(tenant_id, refund_id)
    assert again is not None
    return _apply(uow, order, again, paid, answer, who, now)


def abandon_refund(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    refund_id: str,
    *,
    reason: str,
    now: datetime,
) -> Refund:
    """An admin gives up on a failed refund (settled by hand, or not owed): nothing is booked;
    the order stays as it was, and the reason is kept."""
    who = require(caller, tenant_id, REFUND.roles("abandon"))
    _, refund, _ = _mine(uow, who, tenant_id, order_id, refund_id)
    REFUND.check(refund.status, "abandon", actor(who))
    text = validate.text(reason, "reason", max_length=500)
    return _decided(
        uow,
        refund,
        RefundStatus.ABANDONED,
        {"decision_note": text, "decided_by": who.subject_id, "decided_at": now},
    )


def apply_refund_notice(
    uow: UnitOfWork,
    tenant_id: str,
    *,
    refund_no: str,
    provider_ref: str,
    status: RefundState,
    amount_fen: int,
    now: datetime,
) -> Refund:
    """A verified refund callback of the channel: our number for the refund (its attempt),
    the channel's reference, how it ended and its amount. An unknown refund, or one of another
    amount, is refused (``CallbackRefused``) and changes nothing; a replay, or news of an attempt
    that is not the refund's current one, changes nothing either."""
    refund_id, attempt = refund_of_channel_no(refund_no)
    refund = uow.refunds.get(tenant_id, refund_id)
    if refund is None or refund.payment_id is None:
        raise CallbackRefused("unknown_refund", f"no refund {refund_no!r}", ErrorKind.NOT_FOUND)
    if amount_fen != refund.money_fen:
        raise CallbackRefused(
            "amount_mismatch",
            f"the refund's amount is {amount_fen} fen, not the {refund.money_fen} fen asked for",
            ErrorKind.CONFLICT,
        )
    if attempt != refund.attempt:
        return refund
    answer = GatewayRefund(provider_ref=provider_ref, status=status, reason=f"channel: {status}")
    return finish_refund(uow, tenant_id, refund_id, answer, now)
