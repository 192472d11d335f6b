"""Payments: an order's money part through a gateway, its callbacks, and refunds.

* ``open_payment`` (at checkout, or ``start_payment`` later) asks the gateway for a payment and
  stores it ``pending`` with the gateway's reference and the page to send the payer to.
* ``handle_callback`` takes a gateway's webhook: the gateway verifies it (signature and
  timestamp); its event id must be new (a replay is refused and changes nothing); then a
  ``payment.succeeded`` marks the payment and its order paid (``orders.mark_paid``: money to
  escrow, rewards if ``grant_on`` is ``paid``), a ``payment.failed`` marks the payment failed
  (the payer may try again on the same page). Every callback is stored, accepted or refused with
  its reason, and every refusal is logged as one structured line.
* Money arriving for an order that can no longer take it (cancelled by the payment timeout,
  or paid already by another payment) is recorded and refunded at once, never kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.uow_orders import Callback, CallbackSeen
from tokenmall.domain.errors import DomainError, ErrorKind, InvalidAmount, InvalidParameter
from tokenmall.domain.mall.gateway import (
    CallbackEvent,
    CallbackRefused,
    GatewayRefund,
    is_jsapi,
)
from tokenmall.domain.mall.orders import Order
from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.refunds import Refund, RefundStatus
from tokenmall.domain.mall.transitions import ORDER, PAYMENT, Actor
from tokenmall.services.ledger.execute import Prefound
from tokenmall.services.mall import ids, orders
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.mall.gateway import Gateway, channel_named
from tokenmall.services.unit_of_work import UnitOfWork, Units
from tokenmall.services.unit_of_work_orders import LockedOrders

log = logging.getLogger("tokenmall.payments")

ALL: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)
BUYERS: tuple[Role, ...] = (Role.CONSUMER,)
OPEN = PAYMENT.sources("close")


def open_payment(uow: UnitOfWork, gateway: Gateway, order: Order, now: datetime) -> Payment:
    payment_id = ids.new_id("pay")
    created = gateway.create_payment(
        tenant_id=order.tenant_id,
        payment_id=payment_id,
        order_id=order.order_id,
        amount_fen=order.money_fen,
    )
    payment = Payment(
        tenant_id=order.tenant_id,
        payment_id=payment_id,
        order_id=order.order_id,
        gateway=gateway.name,
        status=PaymentStatus.PENDING,
        amount_fen=order.money_fen,
        provider_ref=created.provider_ref,
        redirect_url=created.redirect_url,
        failure_reason=None,
        created_at=now,
        updated_at=now,
        succeeded_at=None,
    )
    uow.payments.add(payment)
    return payment


def start_payment(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    gateway: Gateway,
    now: datetime,
    *,
    reuse: Callable[[Payment], bool] | None = None,
) -> tuple[Payment, bool]:
    """The payment to make for an unpaid order: its open one through ``gateway`` that
    ``reuse`` accepts (by default any but a WeChat Pay JSAPI payment, which only its own page
    inside WeChat can pay), else a new one (True if new)."""
    who = require(caller, tenant_id, ORDER.roles("start_payment"))
    order = orders.visible_order(uow, who, tenant_id, order_id)
    ORDER.check(order.status, "start_payment", actor(who))
    reuse = reuse or _not_jsapi
    for payment in reversed(uow.payments.of_order(tenant_id, order_id)):
        if payment.status in OPEN and payment.gateway == gateway.name and reuse(payment):
            return payment, False
    return open_payment(uow, gateway, order, now), True


def _not_jsapi(payment: Payment) -> bool:
    return not is_jsapi(payment.redirect_url)


def get_payment(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, payment_id: str
) -> tuple[Payment, list[CallbackSeen]]:
    """A payment and the callbacks received for it, for whoever may see its order."""
    who = require(caller, tenant_id, ALL)
    payment = uow.payments.get(tenant_id, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id!r}")
    try:
        orders.visible_order(uow, who, tenant_id, payment.order_id)
    except NotFound:
        raise NotFound(f"no payment {payment_id!r}") from None
    return payment, uow.payments.callbacks_of(tenant_id, payment_id)


def paid_payment(uow: UnitOfWork, order: Order) -> Payment:
    for payment in uow.payments.of_order(order.tenant_id, order.order_id):
        if payment.status == PaymentStatus.SUCCEEDED:
            return payment
    raise Conflict("the order has no successful payment to refund", "order_id")


def submit_refund(
    gateway: Gateway, payment: Payment, refund_no: str, *, amount_fen: int | None = None
) -> GatewayRefund:
    """Ask the payment's channel to give its money back under our number ``refund_no``; what
    the channel answered (``processing``, ``succeeded`` or ``failed``). Asked again with the same
    number, the channel answers the refund it already has, never a second one."""
    gateway = channel_named(gateway, payment.gateway)
    if payment.gateway != gateway.name:
        raise Conflict(f"the payment went through {payment.gateway!r}, which is not configured")
    return gateway.refund(
        provider_ref=payment.provider_ref,
        refund_id=refund_no,
        amount_fen=payment.amount_fen if amount_fen is None else amount_fen,
        reason="order refunded",
    )


def mark_refunded(uow: UnitOfWork, payment: Payment, now: datetime) -> None:
    """The payment's money is back with the payer (the channel confirmed the refund)."""
    if not uow.payments.move(
        payment.tenant_id,
        payment.payment_id,
        PAYMENT.sources("refund"),
        PaymentStatus.REFUNDED,
        {"updated_at": now},
    ):
        raise Conflict("the payment changed meanwhile; try again", "order_id")


def refund_through_gateway(
    uow: UnitOfWork, gateway: Gateway, payment: Payment, refund_id: str, now: datetime
) -> str:
    """Give the payment's money back through its gateway at once; the gateway's refund
    reference. A refund the channel refuses, reports failed or is still processing rolls the
    caller's whole unit back (the late payment's refund, which has no refund row to wait on)."""
    done = submit_refund(gateway, payment, refund_id)
    if done.status == "failed":
        raise Conflict(f"the payment channel refused the refund: {done.reason or 'failed'}")
    if done.status == "processing":
        raise Conflict(
            f"{payment.gateway} is still processing the refund; it is booked once the channel "
            "confirms it: try again in a minute",
            zh="渠道正在处理退款，确认后才会入账，请稍后再试",
        )
    mark_refunded(uow, payment, now)
    return done.provider_ref


# --- the sandbox's page -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageState:
    """What the gateway's page shows: the payment and its order's status."""

    payment: Payment
    order_status: str

    @property
    def payable(self) -> bool:
        return self.payment.status in OPEN and self.order_status == ORDER.initial


def page_state(
    uow: UnitOfWork,
    tenant_id: str,
    payment_id: str,
    ref: str,
    *,
    approved_at: datetime | None = None,
) -> PageState | None:
    """The payment of ``ref`` and its order's status (one read; what the page decides is
    decided again under the order's lock when the payment is made). ``approved_at``: the
    page's Approve, kept for the sandbox's bill in the same read if the payment is payable."""
    if approved_at is None:
        found = uow.payments.with_order_status(tenant_id, payment_id)
    else:
        found = uow.payments.approve_payable(
            tenant_id, payment_id, ref, OPEN, ORDER.initial, approved_at
        )
    if found is None or found[0].provider_ref != ref:
        return None
    return PageState(*found)


# --- callbacks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackResult:
    event_id: str
    payment_id: str
    payment_status: str
    order_id: str
    order_status: str
    outcome: str  # what the event did
    # The payment and its order as the callback left them (for the sandbox's page; not sent).
    payment: Payment | None = None
    order: Order | None = None


def _refused(
    db: Units,
    gateway: str,
    exc: CallbackRefused,
    text: str,
    now: datetime,
    event: CallbackEvent | None,
) -> None:
    fields = {
        "gateway": gateway,
        "reason": exc.reason,
        "kind": str(exc.kind),
        "detail": str(exc),
        "event_id": None if event is None else event.event_id,
        "tenant_id": None if event is None else event.tenant_id,
        "payment_id": None if event is None else event.payment_id,
    }
    log.warning("payment callback refused", extra={"fields": fields})
    with db.unit() as uow:
        uow.payments.add_callback(
            Callback(
                tenant_id="" if event is None else event.tenant_id,
                callback_id=ids.new_id("cbk"),
                gateway=gateway,
                event_id=None if event is None else event.event_id,
                payment_id=None if event is None else event.payment_id,
                outcome="refused",
                reason=f"{exc.reason}: {exc}",
                body=text,
                received_at=now,
            )
        )


def _kind_of(exc: DomainError) -> ErrorKind:
    """The kind of refusal of a domain error met while applying a callback."""
    if isinstance(exc, NotFound):
        return ErrorKind.NOT_FOUND
    if isinstance(exc, (InvalidInput, InvalidAmount, InvalidParameter)):
        return ErrorKind.INVALID
    return ErrorKind.CONFLICT  # a clash with what is recorded: a ledger refusal, a rule, a balance


class OrderBusy(Exception):
    """``apply_callback(wait=False)`` met the order's row locked by another transaction, or
    an order that cannot take the payment (its stray refund needs a transaction of its own)."""


Through = Callable[[CallbackEvent, str], CallbackResult]


def apply_callback(
    uow: UnitOfWork,
    gateway: Gateway,
    event: CallbackEvent,
    text: str,
    now: datetime,
    *,
    wait: bool = True,
    read: CallbackReads | None = None,
    looked_up: Prefound | None = None,
) -> CallbackResult:
    """Apply a verified callback and store it as accepted, in ``uow``'s transaction. With
    ``wait`` False the order's lock is taken only if free, else ``OrderBusy`` (nothing
    written): a caller already holding the tenant's ledger lock must not wait for an order
    lock whose holder may be waiting for the tenant's. ``read``: ``callback_reads``'s answer
    (then this only writes, and may run in one pipeline); ``looked_up``: the order's ledger
    keys read already (``callbacks_read``'s callers read them for a whole set)."""
    result = _apply(uow, gateway, event, now, wait=wait, read=read, looked_up=looked_up)
    uow.payments.add_callback(
        Callback(
            tenant_id=event.tenant_id,
            callback_id=ids.new_id("cbk"),
            gateway=gateway.name,
            event_id=event.event_id,
            payment_id=event.payment_id,
            outcome="accepted",
            reason=result.outcome,
            body=text,
            received_at=now,
        )
    )
    return result


def handle_callback(
    db: Units,
    gateway: Gateway,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
    *,
    through: Through | None = None,
) -> CallbackResult:
    """Verify and apply one callback; ``CallbackRefused`` (recorded and logged) if refused.
    ``through(event, text)`` applies a verified event (``apply_callback`` in a transaction
    that commits before it returns); by default a unit of work of its own."""
    text = body.decode("utf-8", "replace")
    event: CallbackEvent | None = None
    try:
        event = gateway.verify_callback(headers, body, now)
        try:
            if through is not None:
                result = through(event, text)
            else:
                with db.unit() as uow:
                    result = apply_callback(uow, gateway, event, text, now)
        except CallbackRefused:
            raise
        except IntegrityError:
            with db.reading() as reader:
                seen = reader.payments.event_seen(event.tenant_id, gateway.name, event.event_id)
            if not seen:
                raise
            # The same event id committed by a concurrent delivery first.
            raise CallbackRefused(
                "replayed", "this event was already processed", ErrorKind.CONFLICT
            ) from None
        except DomainError as exc:
            # The ledger (or a rule) refused to apply a genuine event, e.g. the order's money
            # cannot be recorded: everything of it rolled back (its event id too, so the
            # gateway's retry is tried afresh), and it is refused like the other refusals.
            raise CallbackRefused(
                "not_applied", f"the event could not be applied: {exc}", _kind_of(exc)
            ) from exc
    except CallbackRefused as exc:
        _refused(db, gateway.name, exc, text, now, event)
        raise
    log.info(
        "payment callback accepted",
        extra={
            "fields": {
                "gateway": gateway.name,
                "event_id": event.event_id,
                "payment_id": event.payment_id,
                "outcome": result.outcome,
            }
        },
    )
    return result


@dataclass(frozen=True, slots=True)
class CallbackReads:
    """What ``apply_callback(wait=False)`` reads before it writes: the payment, read with its
    order's row lock, and the order."""

    payment: Payment
    order: Order
    # The order's contribution to the pool if the callback pays it (``orders.contribution_of``,
    # which may read the tenant's parameters: read here, not among the writes).
    contribution: tuple[int | None] | None = None


def callback_reads(uow: UnitOfWork, gateway: Gateway, event: CallbackEvent) -> CallbackReads:
    """The reads of ``apply_callback(wait=False)``, and its refusals that need no write
    (raised): ``callbacks_read`` for one callback. A replayed event is refused by the event's
    unique key when written (``handle_callback`` answers its ``IntegrityError``)."""
    (read,) = callbacks_read(uow, [(gateway, event)], lock_paid_orders(uow, [event], None))
    if isinstance(read, CallbackReads):
        return read
    assert read is not None  # None is only for a second callback of one payment
    raise read


Read = CallbackReads | CallbackRefused | OrderBusy | None


@dataclass(frozen=True, slots=True)
class LockedLater:
    """The read ``callbacks_read`` starts with, sent for the payments ``asked``; ``read``
    answers it."""

    asked: frozenset[str]
    read: Callable[[], LockedOrders]


def lock_paid_orders_later(uow: UnitOfWork, events: Sequence[CallbackEvent]) -> LockedLater:
    """The read ``callbacks_read`` starts with, sent now (in the caller's pipeline, if any)
    and read later (``lock_paid_orders``)."""
    t = events[0].tenant_id
    asked = list(dict.fromkeys(e.payment_id for e in events))
    return LockedLater(frozenset(asked), uow.payments.locking_orders_later(t, asked))


def lock_paid_orders(
    uow: UnitOfWork, events: Sequence[CallbackEvent], early: LockedLater | None
) -> LockedOrders:
    """The payments of ``events`` with their orders' locks (``callbacks_read``'s ``locked``):
    ``early``'s answer, and the payments it did not ask for (events that came after it was
    sent) read now."""
    found, version = ({}, None) if early is None else early.read()
    asked = frozenset() if early is None else early.asked
    more = [p for p in dict.fromkeys(e.payment_id for e in events) if p not in asked]
    if more:
        extra, extra_version = uow.payments.locking_orders(events[0].tenant_id, more)
        found = {**found, **extra}
        version = extra_version if version is None else version
    return found, version


def callbacks_read(
    uow: UnitOfWork, items: Sequence[tuple[Gateway, CallbackEvent]], locked: LockedOrders
) -> list[Read]:
    """``callback_reads`` for many callbacks of one tenant at once, from ``locked``
    (``lock_paid_orders``: the payments with their orders' locks, ``SKIP LOCKED``, those
    orders and their lines, and the tenant's configuration version, in one read); the
    tenant's webhook endpoints (cached per process against that version). For each
    callback: its reads, or its refusal that needs no write (``CallbackRefused``: unknown
    payment, amount mismatch; ``OrderBusy``: its order locked by another, or unable to take
    the payment), or None for a second callback of a payment or an order already in the set
    (applied alone after the set)."""
    if not items:
        return []
    t = items[0][1].tenant_id
    wanted = list(dict.fromkeys(event.payment_id for _, event in items))
    found, version = locked
    free = [payment_id for payment_id in wanted if payment_id not in found]
    others = uow.payments.get_many(t, free) if free else {}
    answers: list[Read] = []
    taken: set[str] = set()  # payments and orders of the set
    for gateway, event in items:
        if event.payment_id in taken:
            answers.append(None)
            continue
        taken.add(event.payment_id)
        try:
            both = found.get(event.payment_id)
            if both is None:
                raise OrderBusy(_known(others.get(event.payment_id), gateway, event).order_id)
            payment, order = both
            payment = _known(payment, gateway, event)
            _same_amount(event, payment)
        except (CallbackRefused, OrderBusy) as refusal:
            answers.append(refusal)
            continue
        if payment.order_id in taken:
            answers.append(None)
            continue
        taken.add(payment.order_id)
        paying = event.type == "payment.succeeded" and PAYMENT.allows(
            payment.status, "succeed", Actor.GATEWAY
        )
        if paying and not ORDER.allows(order.status, "pay", Actor.GATEWAY):
            # A stray payment is recorded and refunded by the ledger's own commands, which do
            # not advance the caller's cached book: it goes through a transaction of its own.
            answers.append(OrderBusy(payment.order_id))
            continue
        contribution = (orders.contribution_of(uow, order),) if paying else None
        answers.append(CallbackReads(payment, order, contribution))
    uow.outbox.prefetch(t, version)
    return answers


def _same_amount(event: CallbackEvent, payment: Payment) -> None:
    if event.amount_fen != payment.amount_fen:
        raise CallbackRefused(
            "amount_mismatch",
            f"the event's amount differs from the payment's ({payment.amount_fen} fen)",
            ErrorKind.INVALID,
        )


def _apply(
    uow: UnitOfWork,
    gateway: Gateway,
    event: CallbackEvent,
    now: datetime,
    *,
    wait: bool,
    read: CallbackReads | None = None,
    looked_up: Prefound | None = None,
) -> CallbackResult:
    t = event.tenant_id
    # The order row's lock first, as every change of an order, its payments or its refunds
    # takes it (cancel, ship, refunds): the payment as read under it.
    if wait:
        if uow.payments.event_seen(t, gateway.name, event.event_id):
            raise CallbackRefused(
                "replayed", "this event was already processed", ErrorKind.CONFLICT
            )
        payment = _known(uow.payments.get(t, event.payment_id), gateway, event)
        uow.orders.lock(t, payment.order_id)
        payment = _payment(uow, payment)
        _same_amount(event, payment)
        uow.payments.add_event(t, gateway.name, event.event_id, payment.payment_id, event.type, now)
        found = uow.orders.get(t, payment.order_id)
        assert found is not None
        order = found
    else:
        read = read or callback_reads(uow, gateway, event)
        payment, order = read.payment, read.order
        uow.payments.add_event(t, gateway.name, event.event_id, payment.payment_id, event.type, now)
    outcome = "no change"
    if event.type == "payment.succeeded":
        if PAYMENT.allows(payment.status, "succeed", Actor.GATEWAY):
            payment = _moved(
                uow,
                payment,
                "succeed",
                PaymentStatus.SUCCEEDED,
                {"updated_at": now, "succeeded_at": now, "failure_reason": None},
            )
            if ORDER.allows(order.status, "pay", Actor.GATEWAY):
                order = orders.mark_paid(
                    uow,
                    order,
                    payment,
                    now,
                    looked_up=looked_up,
                    contribution=None if read is None else read.contribution,
                )
                outcome = "order paid"
            else:
                _refund_stray(uow, gateway, order, payment, now)
                payment = _payment(uow, payment)  # refunded meanwhile
                outcome = f"refunded: the order was already {order.status}"
        else:
            outcome = f"payment already {payment.status}"
    elif PAYMENT.allows(payment.status, "fail", Actor.GATEWAY):
        payment = _moved(
            uow,
            payment,
            "fail",
            PaymentStatus.FAILED,
            {"updated_at": now, "failure_reason": (event.reason or "declined")[:200]},
        )
        outcome = "payment failed"
    # The payment and the order as this transaction left them (each change made here was a
    # guarded update under the order's lock: nothing to read again).
    return CallbackResult(
        event.event_id,
        payment.payment_id,
        payment.status,
        order.order_id,
        order.status,
        outcome,
        payment,
        order,
    )


def _known(payment: Payment | None, gateway: Gateway, event: CallbackEvent) -> Payment:
    """The event's payment, or ``unknown_payment`` when there is none through this gateway."""
    if (
        payment is None
        or payment.gateway != gateway.name
        or payment.provider_ref != (event.provider_ref)
    ):
        raise CallbackRefused("unknown_payment", "no such payment", ErrorKind.NOT_FOUND)
    return payment


def _payment(uow: UnitOfWork, payment: Payment) -> Payment:
    found = uow.payments.get(payment.tenant_id, payment.payment_id)
    assert found is not None
    return found


def _moved(
    uow: UnitOfWork, payment: Payment, action: str, to: PaymentStatus, values: dict[str, Any]
) -> Payment:
    """The payment moved (under its order's lock, so from the status just read): as written."""
    if not uow.payments.move(
        payment.tenant_id, payment.payment_id, PAYMENT.sources(action), to, values
    ):
        raise Conflict("the payment changed meanwhile; try again")
    return replace(payment, status=to, **values)


def _refund_stray(
    uow: UnitOfWork, gateway: Gateway, order: Order, payment: Payment, now: datetime
) -> None:
    """Money for an order that cannot take it (cancelled, or paid by another payment): it is
    recorded under the payment's own reference and given straight back."""
    ref = payment.payment_id
    uow.order_money.record_payment(
        order.tenant_id, user=order.user_id, order_ref=ref, amount_fen=payment.amount_fen
    )
    uow.ledger.refund(
        order.tenant_id,
        user=order.user_id,
        order_ref=ref,
        amount_fen=payment.amount_fen,
        booked=False,
        approved_by=None,
        now=now,
    )
    refund_id = ids.new_id("rfd")
    provider_ref = refund_through_gateway(uow, gateway, payment, refund_id, now)
    uow.refunds.add(
        Refund(
            tenant_id=order.tenant_id,
            refund_id=refund_id,
            order_id=order.order_id,
            payment_id=payment.payment_id,
            status=RefundStatus.SUCCEEDED,
            money_fen=payment.amount_fen,
            stable_fen=0,
            reason=f"payment arrived when the order was already {order.status}",
            requested_by="system",
            requested_at=now,
            decided_by="system",
            decided_at=now,
            decision_note=None,
            adjustment=False,
            provider_ref=provider_ref,
        ),
    )
