"""Carts, orders, their status history, payments, gateway callbacks and refunds.

Tables (``tenant_id`` leads every key and index) and the repository functions over them. Every
change of an order's status is a guarded UPDATE (``WHERE status = :from``) whose row count is
checked, so two concurrent actors (a webhook and a timeout, two admins) can never both move the
same order: the loser sees the order already moved and is refused. Migration ``0007``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)

from tokenmall.adapters.db.mall.rows import aware, maybe_aware, values
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.mall.orders import (
    CartLine,
    Order,
    OrderEvent,
    OrderLine,
    OrderSettings,
    OrderStatus,
    ShippingAddress,
)
from tokenmall.domain.mall.payments import CallbackOutcome, Payment, PaymentStatus
from tokenmall.domain.mall.refunds import Refund, RefundStatus

ORDER_STATUSES = values(OrderStatus)
PAYMENT_STATUSES = values(PaymentStatus)
REFUND_STATUSES = values(RefundStatus)
CALLBACK_OUTCOMES = values(CallbackOutcome)

ORDER_TABLES: list[str] = []  # filled below


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _at(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


order_settings = Table(
    "mall_order_settings",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("return_window_days", Integer, nullable=False),
    Column("payment_timeout_minutes", Integer, nullable=False),
    Column("auto_confirm_days", Integer, nullable=False),
    Column("updated_by", String(ID), nullable=True),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id"),
    ForeignKeyConstraint(["tenant_id"], ["mall_tenants.tenant_id"]),
    CheckConstraint("return_window_days BETWEEN 0 AND 365", name="return_window"),
    CheckConstraint("payment_timeout_minutes BETWEEN 1 AND 10080", name="payment_timeout"),
    CheckConstraint("auto_confirm_days BETWEEN 1 AND 365", name="auto_confirm"),
)

cart_lines = Table(
    "mall_cart_lines",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("sku_id", String(ID), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    _at("added_at"),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "user_id", "sku_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
    ForeignKeyConstraint(["tenant_id", "sku_id"], ["mall_skus.tenant_id", "mall_skus.sku_id"]),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

orders = Table(
    "mall_orders",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("checkout_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("merchant_id", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("money_fen", BigInteger, nullable=False),
    Column("stable_fen", BigInteger, nullable=False),
    _at("created_at"),
    _at("pay_by"),
    _at("paid_at", nullable=True),
    _at("shipped_at", nullable=True),
    _at("received_at", nullable=True),
    _at("completed_at", nullable=True),
    _at("cancelled_at", nullable=True),
    _at("refunded_at", nullable=True),
    Column("carrier", String(100), nullable=True),
    Column("tracking_number", String(100), nullable=True),
    # The booked purchase (rule 1), read from its journal's result.
    Column("rewards_journal_id", BigInteger, nullable=True),
    Column("rewards_points", String(40), nullable=True),
    Column("rewards_price", String(40), nullable=True),
    Column("rewards_contribution_fen", BigInteger, nullable=True),
    _at("rewards_booked_at", nullable=True),
    # The shipping address when the order was placed: a snapshot (migration 0012), so editing
    # or deleting the address later never changes the order. NULL: checked out without one.
    Column("shipping_recipient", String(50), nullable=True),
    Column("shipping_phone", String(20), nullable=True),
    Column("shipping_address", String(400), nullable=True),
    PrimaryKeyConstraint("tenant_id", "order_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
    ForeignKeyConstraint(
        ["tenant_id", "merchant_id"], ["mall_merchants.tenant_id", "mall_merchants.merchant_id"]
    ),
    CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
    CheckConstraint("total_fen > 0", name="total_positive"),
    CheckConstraint(
        "money_fen >= 0 AND stable_fen >= 0 AND money_fen + stable_fen = total_fen",
        name="plan_adds_up",
    ),
    Index("ix_mall_orders_tenant_user", "tenant_id", "user_id"),
    Index("ix_mall_orders_tenant_merchant", "tenant_id", "merchant_id"),
    Index("ix_mall_orders_tenant_status", "tenant_id", "status"),
)

order_lines = Table(
    "mall_order_lines",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("sku_id", String(ID), nullable=False),
    Column("product_id", String(ID), nullable=False),
    Column("title", String(200), nullable=False),
    Column("sku_name", String(200), nullable=False),
    Column("unit_price_fen", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("line_total_fen", BigInteger, nullable=False),
    # The SKU's fixed pool contribution per unit when ordered (NULL: the tenant's pool_rate).
    Column("pool_contribution_fen", BigInteger, nullable=True),
    PrimaryKeyConstraint("tenant_id", "order_id", "line_no"),
    ForeignKeyConstraint(
        ["tenant_id", "order_id"], ["mall_orders.tenant_id", "mall_orders.order_id"]
    ),
    ForeignKeyConstraint(["tenant_id", "sku_id"], ["mall_skus.tenant_id", "mall_skus.sku_id"]),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("unit_price_fen > 0", name="price_positive"),
    CheckConstraint("line_total_fen = unit_price_fen * quantity", name="line_total"),
)

order_events = Table(
    "mall_order_events",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(64), nullable=False),  # a user id, or "system", or "gateway:<name>"
    Column("note", String(500), nullable=True),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "event_id"),
    ForeignKeyConstraint(
        ["tenant_id", "order_id"], ["mall_orders.tenant_id", "mall_orders.order_id"]
    ),
    Index("ix_mall_order_events_tenant_order", "tenant_id", "order_id"),
)

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
    Column("redirect_url", String(1000), nullable=False),
    Column("failure_reason", String(200), nullable=True),
    _at("created_at"),
    _at("updated_at"),
    _at("succeeded_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "payment_id"),
    ForeignKeyConstraint(
        ["tenant_id", "order_id"], ["mall_orders.tenant_id", "mall_orders.order_id"]
    ),
    UniqueConstraint(
        "tenant_id", "gateway", "provider_ref", name="uq_mall_payments_tenant_provider_ref"
    ),
    CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    Index("ix_mall_payments_tenant_order", "tenant_id", "order_id"),
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
    _at("processed_at"),
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
    _at("received_at"),
    PrimaryKeyConstraint("tenant_id", "callback_id"),
    CheckConstraint(_in("outcome", CALLBACK_OUTCOMES), name="outcome"),
    Index("ix_mall_payment_callbacks_tenant_payment", "tenant_id", "payment_id"),
)

refunds = Table(
    "mall_refunds",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("refund_id", String(ID), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("payment_id", String(ID), nullable=True),
    Column("status", String(16), nullable=False),
    Column("money_fen", BigInteger, nullable=False),
    Column("stable_fen", BigInteger, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("requested_by", String(64), nullable=False),
    _at("requested_at"),
    Column("decided_by", String(64), nullable=True),
    _at("decided_at", nullable=True),
    Column("decision_note", String(500), nullable=True),
    # True: the rewards were booked, so this was an admin's audited adjustment (rule 9).
    Column("adjustment", Boolean, nullable=False),
    Column("provider_ref", String(120), nullable=True),
    PrimaryKeyConstraint("tenant_id", "refund_id"),
    ForeignKeyConstraint(
        ["tenant_id", "order_id"], ["mall_orders.tenant_id", "mall_orders.order_id"]
    ),
    CheckConstraint(_in("status", REFUND_STATUSES), name="status"),
    CheckConstraint("money_fen >= 0 AND stable_fen >= 0", name="amounts_not_negative"),
    Index("ix_mall_refunds_tenant_order", "tenant_id", "order_id"),
)

ORDER_TABLES.extend(
    t.name
    for t in (
        order_settings,
        cart_lines,
        orders,
        order_lines,
        order_events,
        payments,
        gateway_events,
        payment_callbacks,
        refunds,
    )
)


# --- records ---


# --- settings ---


def get_settings(conn: Connection, tenant_id: str) -> OrderSettings:
    row = conn.execute(
        select(order_settings).where(order_settings.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        return OrderSettings()
    return OrderSettings(
        return_window_days=int(row.return_window_days),
        payment_timeout_minutes=int(row.payment_timeout_minutes),
        auto_confirm_days=int(row.auto_confirm_days),
    )


def put_settings(
    conn: Connection, tenant_id: str, value: OrderSettings, by: str, now: datetime
) -> None:
    values = {
        "return_window_days": value.return_window_days,
        "payment_timeout_minutes": value.payment_timeout_minutes,
        "auto_confirm_days": value.auto_confirm_days,
        "updated_by": by,
        "updated_at": now,
    }
    done = conn.execute(
        update(order_settings).where(order_settings.c.tenant_id == tenant_id).values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(order_settings).values(tenant_id=tenant_id, **values))


# --- cart ---


def cart(conn: Connection, tenant_id: str, user_id: str) -> list[CartLine]:
    query = (
        select(cart_lines)
        .where(cart_lines.c.tenant_id == tenant_id, cart_lines.c.user_id == user_id)
        .order_by(cart_lines.c.added_at, cart_lines.c.sku_id)
    )
    return [
        CartLine(row.sku_id, int(row.quantity), aware(row.added_at)) for row in conn.execute(query)
    ]


def cart_quantity(conn: Connection, tenant_id: str, user_id: str, sku_id: str) -> int | None:
    found = conn.execute(
        select(cart_lines.c.quantity).where(
            cart_lines.c.tenant_id == tenant_id,
            cart_lines.c.user_id == user_id,
            cart_lines.c.sku_id == sku_id,
        )
    ).scalar()
    return None if found is None else int(found)


def set_cart_line(
    conn: Connection, tenant_id: str, user_id: str, sku_id: str, quantity: int, now: datetime
) -> None:
    key = (
        cart_lines.c.tenant_id == tenant_id,
        cart_lines.c.user_id == user_id,
        cart_lines.c.sku_id == sku_id,
    )
    done = conn.execute(update(cart_lines).where(*key).values(quantity=quantity, updated_at=now))
    if done.rowcount == 0:
        conn.execute(
            insert(cart_lines).values(
                tenant_id=tenant_id,
                user_id=user_id,
                sku_id=sku_id,
                quantity=quantity,
                added_at=now,
                updated_at=now,
            )
        )


def remove_cart_lines(conn: Connection, tenant_id: str, user_id: str, sku_ids: list[str]) -> int:
    if not sku_ids:
        return 0
    done = conn.execute(
        delete(cart_lines).where(
            cart_lines.c.tenant_id == tenant_id,
            cart_lines.c.user_id == user_id,
            cart_lines.c.sku_id.in_(sku_ids),
        )
    )
    return int(done.rowcount)


# --- orders ---


def add_order(conn: Connection, order: Order) -> None:
    conn.execute(
        insert(orders).values(
            tenant_id=order.tenant_id,
            order_id=order.order_id,
            checkout_id=order.checkout_id,
            user_id=order.user_id,
            merchant_id=order.merchant_id,
            status=order.status,
            total_fen=order.total_fen,
            money_fen=order.money_fen,
            stable_fen=order.stable_fen,
            created_at=order.created_at,
            pay_by=order.pay_by,
            paid_at=order.paid_at,
            shipping_recipient=None if order.shipping is None else order.shipping.recipient,
            shipping_phone=None if order.shipping is None else order.shipping.phone,
            shipping_address=None if order.shipping is None else order.shipping.address,
        )
    )
    conn.execute(
        insert(order_lines),
        [
            {
                "tenant_id": order.tenant_id,
                "order_id": order.order_id,
                "line_no": line.line_no,
                "sku_id": line.sku_id,
                "product_id": line.product_id,
                "title": line.title,
                "sku_name": line.sku_name,
                "unit_price_fen": line.unit_price_fen,
                "quantity": line.quantity,
                "line_total_fen": line.line_total_fen,
                "pool_contribution_fen": line.pool_contribution_fen,
            }
            for line in order.lines
        ],
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _order(row: Any, lines: tuple[OrderLine, ...]) -> Order:
    return Order(
        tenant_id=row.tenant_id,
        order_id=row.order_id,
        checkout_id=row.checkout_id,
        user_id=row.user_id,
        merchant_id=row.merchant_id,
        status=OrderStatus(row.status),
        total_fen=int(row.total_fen),
        money_fen=int(row.money_fen),
        stable_fen=int(row.stable_fen),
        created_at=aware(row.created_at),
        pay_by=aware(row.pay_by),
        paid_at=maybe_aware(row.paid_at),
        shipped_at=maybe_aware(row.shipped_at),
        received_at=maybe_aware(row.received_at),
        completed_at=maybe_aware(row.completed_at),
        cancelled_at=maybe_aware(row.cancelled_at),
        refunded_at=maybe_aware(row.refunded_at),
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        rewards_journal_id=_int_or_none(row.rewards_journal_id),
        rewards_points=row.rewards_points,
        rewards_price=row.rewards_price,
        rewards_contribution_fen=_int_or_none(row.rewards_contribution_fen),
        rewards_booked_at=maybe_aware(row.rewards_booked_at),
        lines=lines,
        shipping=(
            None
            if row.shipping_address is None
            else ShippingAddress(row.shipping_recipient, row.shipping_phone, row.shipping_address)
        ),
    )


def _lines(conn: Connection, tenant_id: str, order_ids: list[str]) -> dict[str, list[OrderLine]]:
    found: dict[str, list[OrderLine]] = {order_id: [] for order_id in order_ids}
    if not order_ids:
        return found
    query = (
        select(order_lines)
        .where(order_lines.c.tenant_id == tenant_id, order_lines.c.order_id.in_(order_ids))
        .order_by(order_lines.c.order_id, order_lines.c.line_no)
    )
    for row in conn.execute(query):
        found[row.order_id].append(
            OrderLine(
                line_no=int(row.line_no),
                sku_id=row.sku_id,
                product_id=row.product_id,
                title=row.title,
                sku_name=row.sku_name,
                unit_price_fen=int(row.unit_price_fen),
                quantity=int(row.quantity),
                line_total_fen=int(row.line_total_fen),
                pool_contribution_fen=_int_or_none(row.pool_contribution_fen),
            )
        )
    return found


def get_order(conn: Connection, tenant_id: str, order_id: str) -> Order | None:
    row = conn.execute(
        select(orders).where(orders.c.tenant_id == tenant_id, orders.c.order_id == order_id)
    ).first()
    if row is None:
        return None
    return _order(row, tuple(_lines(conn, tenant_id, [order_id])[order_id]))


def _with_lines(conn: Connection, tenant_id: str, rows: list[Any]) -> list[Order]:
    lines = _lines(conn, tenant_id, [row.order_id for row in rows])
    return [_order(row, tuple(lines[row.order_id])) for row in rows]


def list_orders(
    conn: Connection,
    tenant_id: str,
    *,
    user_id: str | None,
    merchant_id: str | None,
    status: str | None,
    after: str | None,
    limit: int,
    checkout_id: str | None = None,
) -> list[Order]:
    query = select(orders).where(orders.c.tenant_id == tenant_id)
    if checkout_id is not None:
        query = query.where(orders.c.checkout_id == checkout_id)
    if user_id is not None:
        query = query.where(orders.c.user_id == user_id)
    if merchant_id is not None:
        query = query.where(orders.c.merchant_id == merchant_id)
    if status is not None:
        query = query.where(orders.c.status == status)
    # Newest first: ids are time-ordered, so descending id order is creation order reversed and
    # the keyset cursor ``after`` (the last id of the page before) asks for older ids.
    if after is not None:
        query = query.where(orders.c.order_id < after)
    rows = list(conn.execute(query.order_by(orders.c.order_id.desc()).limit(limit)))
    return _with_lines(conn, tenant_id, rows)


def due_order_ids(
    conn: Connection, tenant_id: str, status: str, column: str, before: datetime, limit: int
) -> list[str]:
    """Ids of orders in ``status`` whose ``column`` time is at or before ``before``."""
    stamp = orders.c[column]
    query = (
        select(orders.c.order_id)
        .where(orders.c.tenant_id == tenant_id, orders.c.status == status, stamp <= before)
        .order_by(stamp, orders.c.order_id)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def move_order(
    conn: Connection,
    tenant_id: str,
    order_id: str,
    from_status: str,
    to_status: str,
    **values: Any,
) -> bool:
    """Move the order from ``from_status`` to ``to_status`` (and set ``values``) if it is still
    in ``from_status``; False if someone moved it first."""
    done = conn.execute(
        update(orders)
        .where(
            orders.c.tenant_id == tenant_id,
            orders.c.order_id == order_id,
            orders.c.status == from_status,
        )
        .values(status=to_status, **values)
    )
    return bool(done.rowcount == 1)


def set_order_fields(conn: Connection, tenant_id: str, order_id: str, **values: Any) -> None:
    assert "status" not in values
    conn.execute(
        update(orders)
        .where(orders.c.tenant_id == tenant_id, orders.c.order_id == order_id)
        .values(**values)
    )


def add_event(conn: Connection, tenant_id: str, order_id: str, event: OrderEvent) -> None:
    conn.execute(
        insert(order_events).values(
            tenant_id=tenant_id,
            event_id=event.event_id,
            order_id=order_id,
            from_status=event.from_status,
            to_status=event.to_status,
            actor=event.actor,
            note=event.note,
            created_at=event.created_at,
        )
    )


def order_history(conn: Connection, tenant_id: str, order_id: str) -> list[OrderEvent]:
    query = (
        select(order_events)
        .where(order_events.c.tenant_id == tenant_id, order_events.c.order_id == order_id)
        .order_by(order_events.c.event_id)
    )
    return [
        OrderEvent(
            row.event_id,
            row.from_status,
            row.to_status,
            row.actor,
            row.note,
            aware(row.created_at),
        )
        for row in conn.execute(query)
    ]


# --- payments ---


def _payment(row: Any) -> Payment:
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
        insert(payments).values(
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
        )
    )


def get_payment(conn: Connection, tenant_id: str, payment_id: str) -> Payment | None:
    row = conn.execute(
        select(payments).where(
            payments.c.tenant_id == tenant_id, payments.c.payment_id == payment_id
        )
    ).first()
    return None if row is None else _payment(row)


def payments_of(conn: Connection, tenant_id: str, order_id: str) -> list[Payment]:
    query = (
        select(payments)
        .where(payments.c.tenant_id == tenant_id, payments.c.order_id == order_id)
        .order_by(payments.c.payment_id)
    )
    return [_payment(row) for row in conn.execute(query)]


def move_payment(
    conn: Connection,
    tenant_id: str,
    payment_id: str,
    from_statuses: tuple[str, ...],
    to_status: str,
    **values: Any,
) -> bool:
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
    """Raises IntegrityError when the event id was processed already (a replay)."""
    conn.execute(
        insert(gateway_events).values(
            tenant_id=tenant_id,
            gateway=gateway,
            event_id=event_id,
            payment_id=payment_id,
            event_type=event_type,
            processed_at=now,
        )
    )


def gateway_event_seen(conn: Connection, tenant_id: str, gateway: str, event_id: str) -> bool:
    found = conn.execute(
        select(gateway_events.c.event_id).where(
            gateway_events.c.tenant_id == tenant_id,
            gateway_events.c.gateway == gateway,
            gateway_events.c.event_id == event_id,
        )
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
    conn.execute(
        insert(payment_callbacks).values(
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
    )


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


# --- refunds ---


def _refund(row: Any) -> Refund:
    return Refund(
        tenant_id=row.tenant_id,
        refund_id=row.refund_id,
        order_id=row.order_id,
        payment_id=row.payment_id,
        status=RefundStatus(row.status),
        money_fen=int(row.money_fen),
        stable_fen=int(row.stable_fen),
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=aware(row.requested_at),
        decided_by=row.decided_by,
        decided_at=maybe_aware(row.decided_at),
        decision_note=row.decision_note,
        adjustment=bool(row.adjustment),
        provider_ref=row.provider_ref,
    )


def add_refund(conn: Connection, refund: Refund) -> None:
    conn.execute(
        insert(refunds).values(
            tenant_id=refund.tenant_id,
            refund_id=refund.refund_id,
            order_id=refund.order_id,
            payment_id=refund.payment_id,
            status=refund.status,
            money_fen=refund.money_fen,
            stable_fen=refund.stable_fen,
            reason=refund.reason,
            requested_by=refund.requested_by,
            requested_at=refund.requested_at,
            decided_by=refund.decided_by,
            decided_at=refund.decided_at,
            decision_note=refund.decision_note,
            adjustment=refund.adjustment,
            provider_ref=refund.provider_ref,
        )
    )


def get_refund(conn: Connection, tenant_id: str, refund_id: str) -> Refund | None:
    row = conn.execute(
        select(refunds).where(refunds.c.tenant_id == tenant_id, refunds.c.refund_id == refund_id)
    ).first()
    return None if row is None else _refund(row)


def refunds_of(conn: Connection, tenant_id: str, order_id: str) -> list[Refund]:
    query = (
        select(refunds)
        .where(refunds.c.tenant_id == tenant_id, refunds.c.order_id == order_id)
        .order_by(refunds.c.refund_id)
    )
    return [_refund(row) for row in conn.execute(query)]


def decide_refund(
    conn: Connection, tenant_id: str, refund_id: str, to_status: str, **values: Any
) -> bool:
    done = conn.execute(
        update(refunds)
        .where(
            refunds.c.tenant_id == tenant_id,
            refunds.c.refund_id == refund_id,
            refunds.c.status == "requested",
        )
        .values(status=to_status, **values)
    )
    return bool(done.rowcount == 1)
