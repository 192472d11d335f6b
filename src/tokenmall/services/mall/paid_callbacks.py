"""Payment callbacks group-committed through the tenant's unit writer.

A ``payment.succeeded`` books a ledger journal (the payment, and with ``grant_on = paid`` the
rewards), so each callback in a transaction of its own takes the tenant's ledger lock, and
under load the callbacks queue on that lock one commit at a time, each holding a connection
while it waits. Here a verified callback is a *unit* of the tenant's ``UnitWriter``
(``services/writers/units.py``): the writer holds the tenant's lock once for every callback
queued, applies each under its own savepoint with the writer's cached book (no tenant state
read again, no lock statement a callback), and commits them together. A callback is answered
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

from tokenmall.domain.mall.gateway import CallbackEvent
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.mall import payments
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
