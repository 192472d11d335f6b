"""A shopper's checkout of given lines, paid with money, as a unit of the tenant's writer
(PostgreSQL).

A checkout in a transaction of its own takes its SKUs' row locks and holds them until it
commits, so every checkout of a popular SKU queues on that row one commit at a time. Here it
goes in two steps, as the integration pushes do:

1. ``plan``, in a worker thread, outside any write transaction: the Idempotency-Key looked up
   (a stored answer is replayed; another request under it is 409), then the checkout itself
   (``checkout.checkout``: the caller's rights, the address, the SKUs, the gates, the
   parameters, the gateway's payment) against the database's committed state, with its
   writes *recorded* instead of done (the orders, their history, the stock to take, the
   payments) and its answer made. A checkout that would write anything else (stable points,
   an order paid at once, the cart's lines) is not planned: the caller checks out in a
   transaction of its own.
2. ``checkout``: the recorded writes as ONE unit of the tenant's ``UnitWriter``
   (``services/writers/units.py``), awaited on the event loop: in one pipeline, the SKUs'
   rows locked, the stock taken where it is left (one statement for every line, with the
   reservations' movements), the orders, history and payments inserted and the answer stored
   under the key (strictly: a key taken meanwhile fails the unit). The writer runs the units
   queued in one transaction (the tenant's lock once, a savepoint a unit, one commit), so the
   checkouts of a batch take the stock one after another and each is answered after that
   commits. A line out of stock refuses the unit alone (rolled back to its savepoint) with
   the message of a checkout on its own.

Locks: the writer holds the tenant's ledger lock, and a transaction of its own (a cancel, a
refund) takes a SKU's lock before the tenant's. So the unit takes its SKUs' locks only if they
are free (``NOWAIT``, in SKU order); if one is held, or the writer's transaction failed on the
database (a key stored by a racing request, a lost connection), ``StockBusy`` tells the caller
to check out in a transaction of its own, where the Idempotency-Key finds what did commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from tokenmall.adapters.db.mall.catalogue import stock_left, take_stock_nowait
from tokenmall.adapters.db.uow import insert_answer
from tokenmall.domain.mall.catalogue import StockMovement
from tokenmall.domain.mall.orders import Order, OrderEvent
from tokenmall.domain.mall.payments import Payment
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.mall import idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import OutOfStock
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.services.unit_of_work import UnitOfWork
from tokenmall.services.writers.units import Writes, writers_for

# The checkout itself on a unit of work at a time: its answer (status, the response's JSON).
Make = Callable[[UnitOfWork, datetime], tuple[int, str]]


class StockBusy(Exception):
    """The unit could not be written (a SKU locked by another transaction, or the writer's
    transaction failed on the database): check out in a transaction of its own."""


class NotPlanned(Exception):
    """The checkout writes more than a planned unit does: check out in a transaction of its
    own."""


@dataclass(slots=True)
class CheckoutUnit:
    """A planned checkout's writes and its answer, for the tenant's writer."""

    tenant_id: str
    scope: str
    key: str
    request_hash: str
    now: datetime
    status: int = 0
    body: str = ""
    orders: list[Order] = field(default_factory=list)
    events: list[tuple[str, OrderEvent]] = field(default_factory=list)
    takes: list[tuple[str, int, str, str]] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> idempotency.Outcome:
        t = self.tenant_id
        with writes():
            taken = take_stock_nowait(conn, t, self.takes, self.now)
            uow = MallUnitOfWork.joining(conn, writes=nullcontext, book=book)
            for order in self.orders:
                uow.orders.add(order)
            for order_id, event in self.events:
                uow.orders.add_event(t, order_id, event)
            for payment in self.payments:
                uow.payments.add(payment)
            response = StoredResponse(self.request_hash, self.status, self.body)
            insert_answer(
                conn,
                tenant_id=t,
                scope=self.scope,
                key=self.key,
                response=response,
                now=self.now,
                strict=True,
            )
            got = taken()
            if got is None:
                raise StockBusy(t)
            for sku_id, quantity, _, _ in self.takes:
                if sku_id not in got:
                    left = stock_left(conn, t, sku_id)
                    raise OutOfStock(
                        f"SKU {sku_id!r}: only {left} in stock, cannot take {quantity}", "lines"
                    )
        return idempotency.Outcome(self.status, self.body, False)


class _Orders:
    def __init__(self, real: Any, unit: CheckoutUnit) -> None:
        self._real, self._unit = real, unit

    def __getattr__(self, name: str) -> Any:
        if name in ("move", "set_fields", "put_settings", "lock", "try_lock"):
            raise NotPlanned(name)
        return getattr(self._real, name)

    def add(self, order: Order) -> None:
        self._unit.orders.append(order)

    def add_event(self, tenant_id: str, order_id: str, event: OrderEvent) -> None:
        self._unit.events.append((order_id, event))


class _Catalogue:
    def __init__(self, real: Any, unit: CheckoutUnit) -> None:
        self._real, self._unit = real, unit
        self._pending: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("add_", "put_", "set_", "update_", "delete_", "remove_")):
            raise NotPlanned(name)
        return getattr(self._real, name)

    def change_stock(self, tenant_id: str, sku_id: str, change: int) -> int | None:
        if change >= 0 or sku_id in self._pending:
            raise NotPlanned("change_stock")
        self._pending[sku_id] = -change
        return 0  # the stock left is known only when the unit takes it

    def add_movement(self, movement: StockMovement) -> None:
        quantity = self._pending.pop(movement.sku_id, None)
        if quantity is None or movement.reference is None or movement.reason != "reservation":
            raise NotPlanned("add_movement")
        self._unit.takes.append(
            (movement.sku_id, quantity, movement.movement_id, movement.reference)
        )


class _Payments:
    def __init__(self, real: Any, unit: CheckoutUnit) -> None:
        self._real, self._unit = real, unit

    def __getattr__(self, name: str) -> Any:
        if name in ("move", "add_event", "add_callback", "set_fields"):
            raise NotPlanned(name)
        return getattr(self._real, name)

    def add(self, payment: Payment) -> None:
        self._unit.payments.append(payment)


class _Refused:
    def __getattr__(self, name: str) -> Any:
        raise NotPlanned(name)


class _Recording:
    """The reader's ports, with the checkout's writes recorded in ``unit``: any other write
    is ``NotPlanned``."""

    def __init__(self, reader: MallUnitOfWork, unit: CheckoutUnit) -> None:
        self._reader = reader
        self.conn = reader.conn
        self.orders = _Orders(reader.orders, unit)
        self.catalogue = _Catalogue(reader.catalogue, unit)
        self.payments = _Payments(reader.payments, unit)
        self.carts = _Refused()
        self.order_money = _Refused()
        self.ledger = _Refused()
        self.outbox = _Refused()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def plan(
    db: Database,
    caller: Principal | None,
    tenant_id: str,
    key: str,
    request_hash: str,
    make: Make,
) -> CheckoutUnit | idempotency.Outcome | None:
    """The checkout's reads and its answer, its writes recorded in a unit: the stored answer
    instead when the key was answered already; None when it is not a plannable checkout."""
    scope = "anonymous" if caller is None else caller.scope
    now = utc_now()
    unit = CheckoutUnit(tenant_id, scope, key, request_hash, now)
    with db.reading_one() as reader:
        stored = idempotency.lookup(
            reader, tenant_id=tenant_id, scope=scope, key=key, request=request_hash
        )
        if stored is not None:
            return idempotency.Outcome(stored.status_code, stored.body, True)
        try:
            unit.status, unit.body = make(cast(UnitOfWork, _Recording(reader, unit)), now)
        except NotPlanned:
            return None
    return unit


async def checkout(
    engine: Engine,
    unit: CheckoutUnit,
    timeout: float = 60.0,  # float-ok: seconds
) -> idempotency.Outcome:
    """``unit`` through its tenant's writer, awaited on the event loop: its outcome once
    committed, or its refusal (``StockBusy``: see the module)."""
    try:
        outcome: idempotency.Outcome = await asyncio.wait_for(
            asyncio.wrap_future(writers_for(engine).submit(unit)), timeout
        )
    except DBAPIError as error:
        raise StockBusy(unit.tenant_id) from error
    return outcome
