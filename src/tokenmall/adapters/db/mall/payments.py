"""Payments of orders, the gateway events processed and every callback received.

A payment's status moves by a guarded UPDATE (``WHERE status IN (:from…)``). Migration ``0007``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    insert,
    literal,
    select,
    text,
    update,
)

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall.orders import moving_sql, order_line, order_lines, order_of, orders
from tokenmall.adapters.db.mall.rows import at, aware, maybe_aware, one_of, values
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.adapters.db.mall.tables import tenants as mall_tenants
from tokenmall.domain.errors import Conflict
from tokenmall.domain.mall.orders import Order
from tokenmall.domain.mall.payments import CallbackOutcome, Payment, PaymentStatus

PAYMENT_STATUSES = values(PaymentStatus)
_OPEN = f"status IN ('{PaymentStatus.PENDING}', '{PaymentStatus.FAILED}')"
CALLBACK_OUTCOMES = values(CallbackOutcome)

payments = Table(
    "mall_payments",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("payment_id", String(ID), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("gateway", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("provider_ref", String(120), nullable=False),
    Column("redirect_url", String(4000), nullable=False),
    Column("failure_reason", String(200), nullable=True),
    at("created_at"),
    at("updated_at"),
    at("succeeded_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "payment_id"),
    ForeignKeyConstraint(
        ["tenant_id", "order_id"], ["mall_orders.tenant_id", "mall_orders.order_id"]
    ),
    UniqueConstraint(
        "tenant_id", "gateway", "provider_ref", name="uq_mall_payments_tenant_provider_ref"
    ),
    CheckConstraint(one_of("status", PAYMENT_STATUSES), name="status"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    Index("ix_mall_payments_tenant_order", "tenant_id", "order_id"),
    # the scheduler's scan of every tenant's payments still open, oldest first (migration 0044)
    Index(
        "ix_mall_payments_open",
        "created_at",
        "payment_id",
        sqlite_where=text(_OPEN),
        postgresql_where=text(_OPEN),
    ),
)

# Event ids a gateway's callbacks carried, once processed: a replay finds its id here.
gateway_events = Table(
    "mall_gateway_events",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("gateway", String(32), nullable=False),
    Column("event_id", String(100), nullable=False),
    Column("payment_id", String(ID), nullable=False),
    Column("event_type", String(40), nullable=False),
    at("processed_at"),
    PrimaryKeyConstraint("tenant_id", "gateway", "event_id"),
)

# Every callback received, accepted or refused with why (tenant '' when it named none we trust).
payment_callbacks = Table(
    "mall_payment_callbacks",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("callback_id", String(ID), nullable=False),
    Column("gateway", String(32), nullable=False),
    Column("event_id", String(100), nullable=True),
    Column("payment_id", String(ID), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("body", Text, nullable=False),
    at("received_at"),
    PrimaryKeyConstraint("tenant_id", "callback_id"),
    CheckConstraint(one_of("outcome", CALLBACK_OUTCOMES), name="outcome"),
    Index("ix_mall_payment_callbacks_tenant_payment", "tenant_id", "payment_id"),
)

TABLES = tuple(t.name for t in (payments, gateway_events, payment_callbacks))


# --- payments ---


def payment_of(row: Any) -> Payment:
    """A payment from its row."""
    return Payment(
        tenant_id=row.tenant_id,
        payment_id=row.payment_id,
        order_id=row.order_id,
        gateway=row.gateway,
        status=PaymentStatus(row.status),
        amount_fen=int(row.amount_fen),
        provider_ref=row.provider_ref,
        redirect_url=row.redirect_url,
        failure_reason=row.failure_reason,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        succeeded_at=maybe_aware(row.succeeded_at),
    )


def add_payment(conn: Connection, payment: Payment) -> None:
    conn.execute(
        insert(payments),
        dict(
            tenant_id=payment.tenant_id,
            payment_id=payment.payment_id,
            order_id=payment.order_id,
            gateway=payment.gateway,
            status=payment.status,
            amount_fen=payment.amount_fen,
            provider_ref=payment.provider_ref,
            redirect_url=payment.redirect_url,
            failure_reason=payment.failure_reason,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
            succeeded_at=payment.succeeded_at,
        ),
    )


# Built once: the hot path's reads skip building and keying a statement per call.
_PAYMENT = select(payments).where(
    payments.c.tenant_id == bindparam("tenant_id"), payments.c.payment_id == bindparam("id")
)
_EVENT_SEEN = select(gateway_events.c.event_id).where(
    gateway_events.c.tenant_id == bindparam("tenant_id"),
    gateway_events.c.gateway == bindparam("gateway"),
    gateway_events.c.event_id == bindparam("event_id"),
)


# The payments, each with its order (columns ``o_*``) and its order's lines (``l_*``, one row
# per line), the orders locked if free, and the tenant's configuration version: one statement.
_PAYMENTS_LOCKING_ORDERS = (
    select(
        payments,
        *(c.label("o_" + c.name) for c in orders.c),
        *(c.label("l_" + c.name) for c in order_lines.c),
        select(mall_tenants.c.config_version)
        .where(mall_tenants.c.tenant_id == bindparam("tenant_id"))
        .scalar_subquery()
        .label("config_version"),
    )
    .select_from(
        payments.join(
            orders,
            (orders.c.tenant_id == payments.c.tenant_id)
            & (orders.c.order_id == payments.c.order_id),
        ).outerjoin(
            order_lines,
            (order_lines.c.tenant_id == orders.c.tenant_id)
            & (order_lines.c.order_id == orders.c.order_id),
        )
    )
    .where(
        payments.c.tenant_id == bindparam("tenant_id"),
        payments.c.payment_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(orders.c.order_id, order_lines.c.line_no)
    .with_for_update(of=orders, skip_locked=True)
)
# The same on PostgreSQL as fixed text on the driver's cursor: the paid callbacks' writer runs
# it once a batch, and SQLAlchemy's handling of its ~60 columns cost several times the round
# trip.
_PG_PAYMENTS_LOCKING_ORDERS = (
    "SELECT "
    + ", ".join(
        [
            *(f"p.{c.name}" for c in payments.c),
            *(f"o.{c.name} AS o_{c.name}" for c in orders.c),
            *(f"l.{c.name} AS l_{c.name}" for c in order_lines.c),
            "(SELECT config_version FROM mall_tenants WHERE tenant_id = %(tenant_id)s)"
            " AS config_version",
        ]
    )
    + " FROM mall_payments AS p"
    " JOIN mall_orders AS o ON o.tenant_id = p.tenant_id AND o.order_id = p.order_id"
    " LEFT JOIN mall_order_lines AS l ON l.tenant_id = o.tenant_id AND l.order_id = o.order_id"
    " WHERE p.tenant_id = %(tenant_id)s AND p.payment_id = ANY(%(ids)s)"
    " ORDER BY o.order_id, l.line_no"
    " FOR UPDATE OF o SKIP LOCKED"
)
_PAYMENTS = select(payments).where(
    payments.c.tenant_id == bindparam("tenant_id"),
    payments.c.payment_id.in_(bindparam("ids", expanding=True)),
)


class _Prefixed:
    """A row's columns named ``prefix + name``, read as ``name``."""

    __slots__ = ("prefix", "row")

    def __init__(self, row: Any, prefix: str) -> None:
        self.row = row
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, self.prefix + name)


def payments_locking_orders(
    conn: Connection, tenant_id: str, payment_ids: list[str]
) -> tuple[dict[str, tuple[Payment, Order]], int | None]:
    """The payments with their orders' rows locked if no other transaction holds them (``SKIP
    LOCKED``), with those orders and their lines, in one read (the orders locked in order id
    order): those found whose order no other transaction holds, by id (SQLite: no lock); and
    the tenant's configuration version (None when no payment was found)."""
    return payments_locking_orders_later(conn, tenant_id, payment_ids)()


Locked = tuple[dict[str, tuple[Payment, Order]], int | None]


def payments_locking_orders_later(
    conn: Connection, tenant_id: str, payment_ids: list[str]
) -> Callable[[], Locked]:
    """``payments_locking_orders`` sent now and read when the answer is called for: on
    PostgreSQL inside a pipeline, the statement goes with whatever else the pipeline sends
    (one round trip for all), and its rows are read once the pipeline has ended."""
    if not payment_ids:
        return lambda: ({}, None)
    params = {"tenant_id": tenant_id, "ids": list(payment_ids)}
    if conn.dialect.name != "postgresql":
        found = _locked(conn.execute(_PAYMENTS_LOCKING_ORDERS, params))
        return lambda: found
    cur = fast.cursor(conn)
    cur.execute(_PG_PAYMENTS_LOCKING_ORDERS, params)

    def read() -> Locked:
        try:
            return _locked(fast.rows(cur))
        finally:
            cur.close()

    return read


def _locked(found_rows: Iterable[Any]) -> Locked:
    rows: dict[str, tuple[Any, list[Any]]] = {}
    version: int | None = None
    for row in found_rows:
        found = rows.get(row.payment_id)
        if found is None:
            found = rows[row.payment_id] = (row, [])
            version = None if row.config_version is None else int(row.config_version)
        if row.l_line_no is not None:
            found[1].append(order_line(_Prefixed(row, "l_")))
    return {
        payment_id: (payment_of(row), order_of(_Prefixed(row, "o_"), tuple(lines)))
        for payment_id, (row, lines) in rows.items()
    }, version


_PAYMENT_AND_ORDER_STATUS = (
    select(payments, orders.c.status.label("order_status"))
    .join(
        orders,
        (orders.c.tenant_id == payments.c.tenant_id) & (orders.c.order_id == payments.c.order_id),
    )
    .where(payments.c.tenant_id == bindparam("tenant_id"), payments.c.payment_id == bindparam("id"))
)


def payment_and_order_status(
    conn: Connection, tenant_id: str, payment_id: str
) -> tuple[Payment, str] | None:
    """The payment and its order's status in one read (None if there is no such payment)."""
    row = conn.execute(
        _PAYMENT_AND_ORDER_STATUS, {"tenant_id": tenant_id, "id": payment_id}
    ).first()
    return None if row is None else (payment_of(row), str(row.order_status))


def get_payments(conn: Connection, tenant_id: str, payment_ids: list[str]) -> dict[str, Payment]:
    """The payments of ``payment_ids`` that exist, by id (no lock)."""
    if not payment_ids:
        return {}
    params = {"tenant_id": tenant_id, "ids": list(payment_ids)}
    return {row.payment_id: payment_of(row) for row in conn.execute(_PAYMENTS, params)}


def get_payment(conn: Connection, tenant_id: str, payment_id: str) -> Payment | None:
    row = conn.execute(_PAYMENT, {"tenant_id": tenant_id, "id": payment_id}).first()
    return None if row is None else payment_of(row)


def payments_of(conn: Connection, tenant_id: str, order_id: str) -> list[Payment]:
    query = (
        select(payments)
        .where(payments.c.tenant_id == tenant_id, payments.c.order_id == order_id)
        .order_by(payments.c.payment_id)
    )
    return [payment_of(row) for row in conn.execute(query)]


def open_payments_query(
    statuses: tuple[str, ...], gateways: tuple[str, ...], before: datetime, limit: int
) -> Select[Any]:
    """Every tenant's payments in ``statuses`` through ``gateways`` made before ``before``,
    oldest first. The statuses are written into the statement, so the planner sees that they
    are the open ones of the partial index ``ix_mall_payments_open``."""
    return (
        select(payments)
        .where(
            payments.c.status.in_([literal(str(s), literal_execute=True) for s in statuses]),
            payments.c.gateway.in_(gateways),
            payments.c.created_at < before,
        )
        .order_by(payments.c.created_at, payments.c.payment_id)
        .limit(limit)
    )


def open_payments(
    conn: Connection,
    statuses: tuple[str, ...],
    gateways: tuple[str, ...],
    before: datetime,
    limit: int,
) -> list[Payment]:
    query = open_payments_query(statuses, gateways, before, limit)
    return [payment_of(row) for row in conn.execute(query)]


def move_payment(
    conn: Connection,
    tenant_id: str,
    payment_id: str,
    from_statuses: tuple[str, ...],
    to_status: str,
    **values: Any,
) -> bool:
    """Move the payment to ``to_status`` (and set ``values``) if it is in one of
    ``from_statuses``; False if not. Inside a pipeline (``fast``) it answers True and the
    pipeline's end raises ``Conflict`` if no row moved."""
    if fast.in_pipeline(conn):
        fast.guarded_update(
            conn,
            moving_sql(
                payments, values, "status = ANY(%(from_statuses)s) AND payment_id = %(row_id)s"
            ),
            {
                **values,
                "to_status": to_status,
                "from_statuses": list(from_statuses),
                "tenant_id": tenant_id,
                "row_id": payment_id,
            },
            lambda: Conflict("the payment changed meanwhile; try again"),
        )
        return True
    done = conn.execute(
        update(payments)
        .where(
            payments.c.tenant_id == tenant_id,
            payments.c.payment_id == payment_id,
            payments.c.status.in_(from_statuses),
        )
        .values(status=to_status, **values)
    )
    return bool(done.rowcount == 1)


def add_gateway_event(
    conn: Connection,
    tenant_id: str,
    gateway: str,
    event_id: str,
    payment_id: str,
    event_type: str,
    now: datetime,
) -> None:
    """Raises IntegrityError when the event id was processed already (a replay); inside
    ``fast.deferring`` the row is held and the insert of the held rows raises it."""
    row = dict(
        tenant_id=tenant_id,
        gateway=gateway,
        event_id=event_id,
        payment_id=payment_id,
        event_type=event_type,
        processed_at=now,
    )
    if fast.deferred(conn):
        fast.insert_dicts(conn, gateway_events, [row])
        return
    conn.execute(insert(gateway_events), row)


def gateway_event_seen(conn: Connection, tenant_id: str, gateway: str, event_id: str) -> bool:
    found = conn.execute(
        _EVENT_SEEN, {"tenant_id": tenant_id, "gateway": gateway, "event_id": event_id}
    ).first()
    return found is not None


def add_callback(
    conn: Connection,
    *,
    tenant_id: str,
    callback_id: str,
    gateway: str,
    event_id: str | None,
    payment_id: str | None,
    outcome: str,
    reason: str,
    body: str,
    now: datetime,
) -> None:
    row = dict(
        tenant_id=tenant_id,
        callback_id=callback_id,
        gateway=gateway,
        event_id=None if event_id is None else event_id[:100],
        payment_id=None if payment_id is None else payment_id[:ID],
        outcome=outcome,
        reason=reason[:200],
        body=body[:4000],
        received_at=now,
    )
    if fast.deferred(conn):  # held, inserted with the others
        fast.insert_dicts(conn, payment_callbacks, [row])
        return
    conn.execute(insert(payment_callbacks), row)


def callbacks_of(conn: Connection, tenant_id: str, payment_id: str) -> list[dict[str, Any]]:
    query = (
        select(payment_callbacks)
        .where(
            payment_callbacks.c.tenant_id == tenant_id,
            payment_callbacks.c.payment_id == payment_id,
        )
        .order_by(payment_callbacks.c.callback_id)
    )
    return [
        {
            "callback_id": row.callback_id,
            "event_id": row.event_id,
            "outcome": row.outcome,
            "reason": row.reason,
            "received_at": aware(row.received_at),
        }
        for row in conn.execute(query)
    ]
