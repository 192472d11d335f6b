"""Payment callbacks group-committed through the tenant's unit writer.

A ``payment.succeeded`` books a ledger journal (the payment, and with ``grant_on = paid`` the
rewards), so each callback in a transaction of its own takes the tenant's ledger lock, and
under load the callbacks queue on that lock one commit at a time, each holding a connection
while it waits. Here a verified callback is a *unit* of the tenant's ``UnitWriter``
(``services/writers/units.py``): the writer holds the tenant's lock once for every callback
queued and applies them as one set (``_CallbackUnit.run_set``: their payments, orders and
ledger keys read together, their writes in one savepoint and one pipeline, the ledger's steps
in one batch of the writer's cached book; a set that fails is applied one callback at a time
instead), and commits them together. A callback is answered
only after its batch committed; a refused one (a replay, an unknown payment, a ledger
refusal) is rolled back alone and refused exactly as before (``payments.handle_callback``
records the refusal).

Locks: everything that changes an order takes the order's row lock first and the tenant's
ledger lock second. The writer already holds the tenant's lock, so it takes the order's lock
only if it is free (``SKIP LOCKED``); if another transaction holds it (a cancel, a refund of
the same order), the callback is applied in a transaction of its own instead, which takes
the locks in the usual order. So a callback never waits for an order lock while holding the
tenant's, and no deadlock can come of it.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

from sqlalchemy import Connection

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.store import Store
from tokenmall.domain.mall.gateway import CallbackEvent
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.mall import order_ledger, payments
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.writers.units import Writes, writers_for


class _CallbackUnit:
    """One verified callback, applied in the writer's transaction."""

    def __init__(self, gateway: Gateway, event: CallbackEvent, text: str, now: datetime) -> None:
        self.gateway = gateway
        self.event = event
        self.text = text
        self.now = now

    @property
    def tenant_id(self) -> str:
        return self.event.tenant_id

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> payments.CallbackResult:
        # The reads first (the payment with its order's lock, the order, the endpoints), then
        # every write in the unit's savepoint as one pipeline; the ledger's rows go through the
        # writer's book. The guarded moves of the payment and the order are checked when the
        # pipeline ends (a refusal then rolls the unit back alone, as before).
        uow = MallUnitOfWork.joining(conn, writes=nullcontext, book=book)
        read = payments.callback_reads(uow, self.gateway, self.event)
        with writes():
            return payments.apply_callback(
                uow, self.gateway, self.event, self.text, self.now, wait=False, read=read
            )

    @staticmethod
    def prefetch(conn: Connection, units: list[_CallbackUnit]) -> payments.LockedLater:
        """The set's payments with their orders' locks, sent with the tenant's lock."""
        return payments.lock_paid_orders_later(
            MallUnitOfWork.joining(conn), [unit.event for unit in units]
        )

    @staticmethod
    def run_set(
        conn: Connection,
        book: TenantBook,
        writes: Writes,
        units: list[_CallbackUnit],
        early: payments.LockedLater | None = None,
    ) -> list[tuple[bool, payments.CallbackResult | Exception] | None]:
        """The callbacks a writer batch holds, applied together (``UnitWriter._set``): one
        read for all their payments with their orders locked, their orders and lines, their
        ledger keys; then every write of all of them in the set's savepoint as one
        pipeline, each table's rows in one statement (``fast.deferring``) and the ledger's
        steps in one batch of the book. A callback refused before any write (unknown
        payment, amount mismatch, its order locked by another) is answered with its
        refusal; one met later (a replayed event's unique key, a guarded move) fails the
        set, which the writer then runs one by one; None: applied alone after the set."""
        t = units[0].tenant_id
        uow = MallUnitOfWork.joining(conn, writes=nullcontext, book=book)
        locked = payments.lock_paid_orders(uow, [unit.event for unit in units], early)
        reads = payments.callbacks_read(uow, [(unit.gateway, unit.event) for unit in units], locked)
        todo = [
            (n, unit, read)
            for n, (unit, read) in enumerate(zip(units, reads, strict=True))
            if isinstance(read, payments.CallbackReads)
        ]
        answers: list[tuple[bool, payments.CallbackResult | Exception] | None] = [
            None if read is None or isinstance(read, payments.CallbackReads) else (False, read)
            for read in reads
        ]
        if not todo:
            return answers
        paying = [read.order for _, unit, read in todo if unit.event.type == "payment.succeeded"]
        keys = [key for order in paying for key in order_ledger.order_keys(order.order_id)]
        store = Store(conn.engine)
        # The ledger keys and the buyers not in the book yet: one round trip for both. Their
        # referrers, if a purchase would reward any not in the book, in one more.
        buyers = [order.user_id for order in paying]
        unread = book.unread(buyers)
        with fast.pipeline(conn, store.postgres):
            later = uow.ledger.look_up_later(t, keys) if keys else None
            holders = store.load_holders_later(conn, t, unread) if unread else None
        looked_up = None if later is None else later()
        if holders is not None:
            book.read(unread, holders())
        book.ensure_with_referrers(buyers)
        with writes():
            with fast.deferring(conn) as held:
                for n, unit, read in todo:
                    result = payments.apply_callback(
                        uow,
                        unit.gateway,
                        unit.event,
                        unit.text,
                        unit.now,
                        wait=False,
                        read=read,
                        looked_up=looked_up,
                    )
                    answers[n] = (True, result)
            if paying:
                store.write_batch(conn, t, book.take_batch())
            held.flush(conn)
        return answers


def handle_callback(
    db: Database, gateway: Gateway, headers: dict[str, str], body: bytes, now: datetime
) -> payments.CallbackResult:
    """``payments.handle_callback`` with the verified event applied by the tenant's writer
    (in a transaction of its own when its order is locked by another)."""
    writers = writers_for(db.engine)

    def through(event: CallbackEvent, text: str) -> payments.CallbackResult:
        try:
            result: payments.CallbackResult = writers.call(_CallbackUnit(gateway, event, text, now))
        except payments.OrderBusy:
            with db.unit() as uow:
                return payments.apply_callback(uow, gateway, event, text, now)
        return result

    return payments.handle_callback(db, gateway, headers, body, now, through=through)
