"""Money for the drop through the payment gateway: a reservation's payment, the gateway's
callbacks, and the refund of money that came too late.

A money reservation's payment id is the reservation's own id under ``pay_``
(``drop.payment_id_of``), so the gateway's reference names the reservation; its state is the
reservation's (reserved: pending; assigned: paid; refunded). Callbacks arrive on the same
webhook as orders' (``handle_callback`` decides whose payment it is and hands orders' to
``services/mall/payments.handle_callback`` unchanged). For a reservation, in one transaction:

* the event id must be new (a replay changes nothing), the amount the reservation's;
* ``payment.succeeded`` on an open reservation, paid before its expiry (the gateway's time of
  the payment when it gives one, else now): the money is revenue (``ReceiveSale``) and the
  serials are assigned (``drop.assign``);
* ``payment.succeeded`` after the reservation expired (its places back on sale, perhaps sold):
  the money is recorded and given straight back (``ReceivePayment`` then ``RefundPayment``,
  and the gateway's refund), the reservation ``refunded``;
* ``payment.failed``: nothing changes (the buyer may try again until the reservation expires).

Every callback is stored, accepted or refused with its reason, as orders' are.

Callbacks are group-committed as orders' are (``services/mall/paid_callbacks.py``): a
verified callback is a unit of its tenant's ``UnitWriter``, which takes the tenant's ledger
lock once for every callback queued, books each sale on its cached book under the callback's
own savepoint and commits them together; a callback is answered after its batch committed.
The writer takes a reservation's row only if it is free (``SKIP LOCKED``) and leaves money
that came late to a transaction of its own (its refund books journals of its own), which
takes the locks in the usual order: the reservation's, then the tenant's.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall import payments as payments_repo
from tokenmall.adapters.db.nfg import drop as drop_queries
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError, ErrorKind
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.gateway import CallbackEvent, CallbackRefused
from tokenmall.domain.money import format_money
from tokenmall.domain.nfg.records import PriceAsset, Reservation, ReservationStatus
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import ids, journal, paid_callbacks, payments
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.nfg import drop
from tokenmall.services.writers.units import Writes, writers_for

log = logging.getLogger("tokenmall.payments")


def payment_link(gateway: Gateway, reservation: Reservation) -> str | None:
    """Where to send the buyer to pay a money reservation (None: nothing to pay there)."""
    if reservation.asset != PriceAsset.MONEY or reservation.payment_id is None:
        return None
    if reservation.amount <= 0:
        return None
    created = gateway.create_payment(
        tenant_id=reservation.tenant_id,
        payment_id=reservation.payment_id,
        order_id=reservation.reservation_id,
        amount_fen=reservation.amount,
    )
    return created.redirect_url


def payment_status(reservation: Reservation) -> str:
    return {
        ReservationStatus.RESERVED: "pending",
        ReservationStatus.ASSIGNED: "succeeded",
        ReservationStatus.EXPIRED: "pending",
        ReservationStatus.REFUNDED: "refunded",
    }[reservation.status]


# -- the sandbox's page ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageState:
    reservation: Reservation

    @property
    def payable(self) -> bool:
        """The gateway takes money until the reservation is paid or refunded; money arriving
        after the expiry is refunded by the shop."""
        return self.reservation.status in (ReservationStatus.RESERVED, ReservationStatus.EXPIRED)


def page_state(db: Database, tenant_id: str, payment_id: str) -> PageState | None:
    with db.reading() as unit:
        return page_state_in(unit, tenant_id, payment_id)


def page_state_in(unit: MallUnitOfWork, tenant_id: str, payment_id: str) -> PageState | None:
    """``page_state`` inside the caller's (reading) transaction."""
    reservation_id = drop.reservation_id_of(payment_id)
    if reservation_id is None:
        return None
    found = unit.nfg.get_reservation(tenant_id, reservation_id)
    if found is None or found.payment_id != payment_id or found.asset != PriceAsset.MONEY:
        return None
    return PageState(found)


# -- callbacks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DropCallbackResult:
    event_id: str
    payment_id: str
    payment_status: str
    reservation_id: str
    reservation_status: str
    outcome: str
    reservation: Reservation | None = None  # as its transaction left it (not in the JSON)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "accepted",
            "event_id": self.event_id,
            "payment_id": self.payment_id,
            "payment_status": self.payment_status,
            "reservation_id": self.reservation_id,
            "reservation_status": self.reservation_status,
            "outcome": self.outcome,
        }


def handle_callback(
    db: Database,
    gateway: Gateway,
    config: LogConfig,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
) -> payments.CallbackResult | DropCallbackResult:
    """Verify and apply one gateway callback, an order's or a reservation's;
    ``CallbackRefused`` (recorded and logged) if refused."""
    try:
        event = gateway.verify_callback(headers, body, now)
    except CallbackRefused:
        return paid_callbacks.handle_callback(db, gateway, headers, body, now)
    if page_state(db, event.tenant_id, event.payment_id) is None:
        return paid_callbacks.handle_callback(db, gateway, headers, body, now)
    return _handle(db, gateway, config, event, body, now)


def handle_reservation_callback(
    db: Database,
    gateway: Gateway,
    config: LogConfig,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
) -> payments.CallbackResult | DropCallbackResult:
    """``handle_callback`` of a callback its sender knows to be a reservation's (the gateway's
    page of a reservation): verified, then applied without asking whose payment it is first.
    Anything else (not verified, not a reservation's id) goes the whole way."""
    try:
        event = gateway.verify_callback(headers, body, now)
    except CallbackRefused:
        event = None
    if event is None or drop.reservation_id_of(event.payment_id) is None:
        return handle_callback(db, gateway, config, headers, body, now)
    return _handle(db, gateway, config, event, body, now)


def _handle(
    db: Database,
    gateway: Gateway,
    config: LogConfig,
    event: CallbackEvent,
    body: bytes,
    now: datetime,
) -> DropCallbackResult:
    text = body.decode("utf-8", "replace")
    try:
        try:
            result = _commit(db, gateway, config, event, text, now)
        except CallbackRefused:
            raise
        except IntegrityError:
            with db.read() as conn:
                seen = payments_repo.gateway_event_seen(
                    conn, event.tenant_id, gateway.name, event.event_id
                )
            if not seen:
                raise
            raise CallbackRefused(
                "replayed", "this event was already processed", ErrorKind.CONFLICT
            ) from None
        except DomainError as exc:
            raise CallbackRefused(
                "not_applied", f"the event could not be applied: {exc}", payments._kind_of(exc)
            ) from exc
    except CallbackRefused as exc:
        log.warning(
            "payment callback refused",
            extra={
                "fields": {
                    "gateway": gateway.name,
                    "reason": exc.reason,
                    "detail": str(exc),
                    "event_id": event.event_id,
                    "payment_id": event.payment_id,
                }
            },
        )
        with db.unit() as unit:
            _store(unit, gateway, event, "refused", f"{exc.reason}: {exc}", text, now)
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


class ReservationBusy(Exception):
    """The tenant's writer cannot apply the callback: the reservation's row is held by another
    transaction, or the money came late (its refund books journals of its own)."""


class _CallbackUnit:
    """One verified callback of a reservation, applied in its tenant's writer's transaction
    (``services/writers/units.py``): the tenant's ledger lock once for every callback queued,
    the sale booked on the writer's cached book, one commit for the batch."""

    def __init__(
        self, gateway: Gateway, config: LogConfig, event: CallbackEvent, text: str, now: datetime
    ) -> None:
        self.gateway, self.config, self.event, self.text, self.now = (
            gateway,
            config,
            event,
            text,
            now,
        )

    @property
    def tenant_id(self) -> str:
        return self.event.tenant_id

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> DropCallbackResult:
        with writes(pipelined=False):  # reads and writes interleave: one savepoint
            unit = MallUnitOfWork.joining(conn, writes=nullcontext, book=book)
            result = _apply(unit, self.gateway, self.config, self.event, self.now, book=book)
            _store(unit, self.gateway, self.event, "accepted", result.outcome, self.text, self.now)
            return result


def _commit(
    db: Database,
    gateway: Gateway,
    config: LogConfig,
    event: CallbackEvent,
    text: str,
    now: datetime,
) -> DropCallbackResult:
    """The callback applied and stored through the tenant's writer (group commit), else, when
    the writer cannot (``ReservationBusy``), in a transaction of its own taking the locks in
    the usual order."""
    try:
        done: DropCallbackResult = writers_for(db.engine).call(
            _CallbackUnit(gateway, config, event, text, now)
        )
    except ReservationBusy:
        pass
    else:
        return done
    with db.unit() as unit:
        result = _apply(unit, gateway, config, event, now)
        _store(unit, gateway, event, "accepted", result.outcome, text, now)
    return result


def _store(
    unit: MallUnitOfWork,
    gateway: Gateway,
    event: CallbackEvent,
    outcome: str,
    reason: str,
    text: str,
    now: datetime,
) -> None:
    payments_repo.add_callback(
        unit.conn,
        tenant_id=event.tenant_id,
        callback_id=ids.new_id("cbk"),
        gateway=gateway.name,
        event_id=event.event_id,
        payment_id=event.payment_id,
        outcome=outcome,
        reason=reason[:200],
        body=text,
        now=now,
    )


def _apply(
    unit: MallUnitOfWork,
    gateway: Gateway,
    config: LogConfig,
    event: CallbackEvent,
    now: datetime,
    *,
    book: TenantBook | None = None,
) -> DropCallbackResult:
    """Apply the callback in ``unit``'s transaction. ``book``: the tenant's writer's, which
    holds the tenant's ledger lock already: the reservation's lock is then taken only if free
    and a late payment is left to a transaction of its own (``ReservationBusy``, nothing
    written), so the writer never waits for a lock whose holder may wait for the tenant's."""
    t = event.tenant_id
    if payments_repo.gateway_event_seen(unit.conn, t, gateway.name, event.event_id):
        raise CallbackRefused("replayed", "this event was already processed", ErrorKind.CONFLICT)
    reservation_id = drop.reservation_id_of(event.payment_id)
    assert reservation_id is not None
    # The reservation's row lock (not the collection's: buyers pressing would queue behind it),
    # the reservation read under it; ``assign`` takes the collection's row last.
    if book is None:
        reservation = unit.nfg.get_reservation(t, reservation_id, for_update=True)
    else:
        reservation = drop_queries.reservation_if_free(unit.conn, t, reservation_id)
        if reservation is None:
            raise ReservationBusy(reservation_id)
    if reservation is None or reservation.payment_id != event.payment_id:
        raise CallbackRefused("unknown_payment", "no such payment", ErrorKind.NOT_FOUND)
    if event.amount_fen != reservation.amount:
        raise CallbackRefused(
            "amount_mismatch",
            f"the event's amount differs from the payment's ({reservation.amount} fen)",
            ErrorKind.INVALID,
        )
    open_ = reservation.status in (ReservationStatus.RESERVED, ReservationStatus.EXPIRED)
    succeeded = event.type == "payment.succeeded"
    # Paid in time at the gateway is paid in time, however long its callback queued here
    # (the places are still held while the reservation is open).
    paid_at = min(now, event.paid_at) if event.paid_at is not None else now
    in_time = reservation.status == ReservationStatus.RESERVED and paid_at < reservation.expires_at
    if book is not None and succeeded and open_ and not in_time:
        raise ReservationBusy(reservation_id)
    payments_repo.add_gateway_event(
        unit.conn, t, gateway.name, event.event_id, event.payment_id, event.type, now
    )
    outcome = "no change"
    if succeeded:
        if in_time:
            _receive_sale(unit, reservation, book)
            reservation = drop.assign(unit, reservation, config, now)
            outcome = f"serials assigned: {', '.join(map(str, reservation.serials))}"
        elif open_:
            reservation = _refund_late(unit, gateway, reservation, event, now)
            outcome = "refunded: the reservation had expired"
        else:
            outcome = f"reservation already {reservation.status}"
    elif reservation.status == ReservationStatus.RESERVED:
        outcome = "payment failed"
    return DropCallbackResult(
        event.event_id,
        event.payment_id,
        "failed" if outcome == "payment failed" else payment_status(reservation),
        reservation_id,
        str(reservation.status),
        outcome,
        reservation,
    )


def _receive_sale(unit: MallUnitOfWork, reservation: Reservation, book: TenantBook | None) -> None:
    """The reservation's money is revenue: its own ledger step, or a step on the writer's
    ``book`` (which holds the tenant's lock and must see every journal of its batch)."""
    command = c.ReceiveSale(
        tenant_id=reservation.tenant_id,
        idempotency_key=drop.sale_key(reservation.reservation_id, "sale"),
        user=reservation.user_id,
        order_ref=reservation.reservation_id,
        amount_fen=reservation.amount,
    )
    if book is None:
        journal.run(unit.conn, command)
        return
    store = Store(unit.conn.engine)
    keys = [command.idempotency_key]
    with ledger.LedgerBatch(store, unit.conn, reservation.tenant_id, keys, book=book) as batch:
        batch.run(command)


def _refund_late(
    unit: MallUnitOfWork,
    gateway: Gateway,
    reservation: Reservation,
    event: CallbackEvent,
    now: datetime,
) -> Reservation:
    """Money for an expired reservation: recorded under its reference and given straight back
    through the gateway; the reservation is ``refunded``."""
    t, rid, amount = reservation.tenant_id, reservation.reservation_id, reservation.amount
    for command in (
        c.ReceivePayment(
            tenant_id=t,
            idempotency_key=drop.sale_key(rid, "late_payment"),
            user=reservation.user_id,
            order_ref=rid,
            amount_fen=amount,
        ),
        c.RefundPayment(
            tenant_id=t,
            idempotency_key=drop.sale_key(rid, "refund"),
            user=reservation.user_id,
            order_ref=rid,
            amount_fen=amount,
        ),
    ):
        journal.run(unit.conn, command)
    gateway.refund(
        provider_ref=event.provider_ref,
        refund_id=f"rfd_{rid.split('_', 1)[1]}",
        amount_fen=amount,
        reason=f"paid {format_money(amount)} after the reservation expired",
    )
    # Its places back to sale after the ledger's step (lock order: the ledger, then counters).
    drop.expire_if_due(unit, reservation, now)
    unit.nfg.close_reservation(t, rid, status=ReservationStatus.REFUNDED, now=now)
    return replace(reservation, status=ReservationStatus.REFUNDED)
