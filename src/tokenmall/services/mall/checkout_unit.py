"""A shopper's checkout of given lines, paid with money, planned then written at once
(PostgreSQL).

A checkout in a transaction of its own, statement by statement, takes its SKUs' row locks
part-way and holds them through its remaining inserts and its commit, so every checkout of a
popular SKU queues on that row for several round trips. Here it goes in two steps, on one
connection (``checkout``: one pool check-out, the caller signed in on it first):

1. the plan, outside any write transaction: the Idempotency-Key looked up (a stored answer is
   replayed; another request under it is 409), then the checkout itself
   (``checkout.checkout``: the caller's rights, the address, the SKUs, the gates, the
   parameters, the gateway's payment) against the database's committed state, with its
   writes *recorded* instead of done (the orders, their history, the stock to take, the
   payments) and its answer made. A checkout that would write anything else (stable points,
   an order paid at once, the cart's lines) is not planned (``None``): the caller checks out
   in a transaction of its own the usual way.
2. the write: the recorded writes and the COMMIT in one transaction and one round trip (on
   PostgreSQL as statements prepared once per session, one implicit transaction, none of
   the driver's cursor machinery: ``fast.commit_at_once``; on Citus one pipeline): the
   orders, history and payments inserted, the answer stored under the key strictly, then
   the stock taken where it is left (one statement for every line, with the reservations'
   movements; several SKUs' rows locked first in SKU order, so two checkouts never wait on
   each other in a cycle). The SKUs' rows are locked last, from the stock's statement to
   the COMMIT on the server, with no round trip of the client in between. A line short of
   stock fails the stock's statement, and a key stored meanwhile by a racing request the
   answer's insert: the transaction is rolled back, nothing written, and the checkout goes
   the usual way, which refuses it with the message of a checkout on its own (or replays
   the key's answer).

The writes need no ledger lock (money is booked when the payment's callback comes), so this
does not go through the tenant's unit writer, which the paid callbacks keep busy (measured:
docs/performance.md, 2026-12-07).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall import checkout_reads, checkout_rows
from tokenmall.adapters.db.mall.catalogue import take_stock_statements
from tokenmall.adapters.db.uow import answer_statement
from tokenmall.domain.mall.catalogue import StockMovement
from tokenmall.domain.mall.orders import Order, OrderEvent
from tokenmall.domain.mall.payments import Payment
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.services.mall import idempotency
from tokenmall.services.mall.accounts import SignIn
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.services.unit_of_work import UnitOfWork

# The checkout itself on a unit of work at a time, for a caller: its answer (status, the
# response's JSON).
Make = Callable[[UnitOfWork, datetime, Principal | None], tuple[int, str]]


class NotPlanned(Exception):
    """The checkout writes more than a planned unit does: check out in a transaction of its
    own."""


@dataclass(slots=True)
class CheckoutUnit:
    """A planned checkout's writes and its answer."""

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

    def statements(self) -> list[fast.Statement]:
        """The writes in order: the rows, the answer stored under the key strictly, then
        the stock taken last (its SKUs' rows locked from that statement to the COMMIT, with
        no round trip in between)."""
        t = self.tenant_id
        response = StoredResponse(self.request_hash, self.status, self.body)
        return [
            *checkout_rows.statements(t, self.orders, self.events, self.payments),
            answer_statement(t, self.scope, self.key, response, self.now, strict=True),
            *take_stock_statements(t, self.takes, self.now),
        ]

    def write(self, conn: Connection) -> idempotency.Outcome:
        """The writes and the COMMIT in one round trip: on a session with no transaction
        open as one implicit transaction (``fast.commit_at_once``), else (Citus) in
        ``conn``'s transaction as one pipeline ending with its COMMIT. ``IntegrityError``
        (nothing written) when a line is short of stock or a racing request stored an answer
        under the key first."""
        statements = self.statements()
        if not fast.commit_at_once(conn, statements):
            conn.execution_options(isolation_level=conn.default_isolation_level)
            with conn.begin(), fast.pipeline(conn, True):
                fast.execute(conn, statements)
                fast.commit_in_pipeline(conn)
        return idempotency.Outcome(self.status, self.body, False)


class _Orders:
    def __init__(self, real: Any, unit: CheckoutUnit) -> None:
        self._real, self._unit = real, unit

    def __getattr__(self, name: str) -> Any:
        if name in ("move", "set_fields", "put_settings", "lock", "try_lock"):
            raise NotPlanned(name)
        return getattr(self._real, name)

    def add(self, order: Order) -> None:
        if not checkout_rows.fits(order):
            raise NotPlanned("add")
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
        found = self._real.sku_with_product(tenant_id, sku_id)
        if found is None or found[0].stock < -change:
            # Short of stock as read: the usual way refuses it (a sold-out SKU's checkouts are
            # not sent to fail in the writes' pipeline first).
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


class _ReadPort:
    def __init__(self, real: Any, reads: checkout_reads.CheckoutReads) -> None:
        self._real, self._reads = real, reads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Credentials(_ReadPort):
    def with_role(self, kind: str, tenant_id: str, credential_id: str) -> Any:
        r = self._reads
        if kind == "session" and (tenant_id, credential_id) == (r.session_tenant, r.session_id):
            return r.session
        return self._real.with_role(kind, tenant_id, credential_id)


class _Answers(_ReadPort):
    def find(self, tenant_id: str, scope: str, key: str) -> Any:
        r = self._reads
        if (tenant_id, scope, key) == (r.tenant_id, r.scope, r.key):
            return r.answer
        return self._real.find(tenant_id, scope, key)


class _Addresses(_ReadPort):
    def get(self, tenant_id: str, address_id: str) -> Any:
        r = self._reads
        if r.address_id is not None and (tenant_id, address_id) == (r.tenant_id, r.address_id):
            return r.address
        return self._real.get(tenant_id, address_id)

    def default_of(self, tenant_id: str, user_id: str) -> Any:
        r = self._reads
        owner = None if r.session is None else r.session[0].owner_id
        if r.address_id is None and (tenant_id, user_id) == (r.tenant_id, owner):
            return r.address
        return self._real.default_of(tenant_id, user_id)


class _Skus(_ReadPort):
    def sku_with_product(self, tenant_id: str, sku_id: str) -> Any:
        r = self._reads
        if tenant_id == r.tenant_id and sku_id in r.skus:
            return r.skus[sku_id]
        return self._real.sku_with_product(tenant_id, sku_id)


class _Read:
    """The reader's ports answering what ``reads`` holds (read together, one round trip)
    with it; any other read is the reader's own. ``tenant_versions``: the configuration
    versions read (``tenant_config.current``)."""

    def __init__(self, reader: MallUnitOfWork, reads: checkout_reads.CheckoutReads) -> None:
        self._reader = reader
        self.conn = reader.conn
        self.credentials = _Credentials(reader.credentials, reads)
        self.answers = _Answers(reader.answers, reads)
        self.addresses = _Addresses(reader.addresses, reads)
        self.catalogue = _Skus(reader.catalogue, reads)
        self.tenant_versions = {reads.tenant_id: reads.versions}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


class _Recording:
    """The reader's ports, with the checkout's writes recorded in ``unit``: any other write
    is ``NotPlanned``."""

    def __init__(self, reader: Any, unit: CheckoutUnit) -> None:
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


def checkout(
    db: Database,
    sign_in: SignIn,
    tenant_id: str,
    key: str,
    request_hash: str,
    make: Make,
    *,
    address_id: str | None = None,
    sku_ids: Sequence[str] = (),
) -> idempotency.Outcome | None:
    """The caller signed in, the checkout planned and its unit written, on ONE connection
    (one pool check-out): the reads in autocommit (each statement its own snapshot, no
    transaction held while planning; for a session, the caller, the key's answer, the
    configuration's versions, the address (``address_id``, else the default) and the SKUs
    (``sku_ids``) read together in one round trip), then the writes in a transaction of
    their own. The outcome (a stored answer replayed, the answer, or a refusal raised); None
    when the checkout goes the usual way instead: not plannable, a session whose idle slide
    is due (written with the checkout there), a key stored meanwhile by a racing request, or
    a line short of stock (refused there as by a checkout on its own)."""
    now = utc_now()
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        reader: Any = MallUnitOfWork.joining(conn)
        session = _session_of(sign_in.token)
        if session is not None:
            reads = checkout_reads.read(
                conn,
                session_tenant=session[0],
                session_id=session[1],
                tenant_id=tenant_id,
                key=key,
                address_id=None if address_id is None else address_id.strip() or None,
                sku_ids=sku_ids,
            )
            reader = _Read(reader, reads)
        caller, slide_due = sign_in.reading(reader, now)
        if slide_due:
            return None
        planned = _plan(reader, caller, tenant_id, key, request_hash, make, now)
        conn.rollback()  # the reads' (autocommit) transaction, before the write's
        if not isinstance(planned, CheckoutUnit):
            return planned
        try:
            return planned.write(conn)
        except IntegrityError:
            return None


def _session_of(token: str | None) -> tuple[str, str] | None:
    """The (tenant, session id) a session token names; None for any other credential."""
    parts = [] if token is None else token.split(".")
    return (parts[1], parts[2]) if len(parts) == 4 and parts[0] == "tms" else None


def _plan(
    reader: Any,
    caller: Principal | None,
    tenant_id: str,
    key: str,
    request_hash: str,
    make: Make,
    now: datetime,
) -> CheckoutUnit | idempotency.Outcome | None:
    """The checkout's reads and its answer, its writes recorded in a unit: the stored answer
    instead when the key was answered already; None when it is not a plannable checkout."""
    scope = "anonymous" if caller is None else caller.scope
    unit = CheckoutUnit(tenant_id, scope, key, request_hash, now)
    stored = idempotency.lookup(
        reader, tenant_id=tenant_id, scope=scope, key=key, request=request_hash
    )
    if stored is not None:
        return idempotency.Outcome(stored.status_code, stored.body, True)
    try:
        unit.status, unit.body = make(cast(UnitOfWork, _Recording(reader, unit)), now, caller)
    except NotPlanned:
        return None
    return unit
