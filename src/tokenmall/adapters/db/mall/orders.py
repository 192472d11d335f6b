"""Orders, their lines and status history, and a tenant's order settings.

Tables (``tenant_id`` leads every key and index) and the repository functions over them. Every
change of an order's status is a guarded UPDATE (``WHERE status = :from``) whose row count is
checked, so two concurrent actors (a webhook and a timeout, two admins) can never both move the
same order: the loser sees the order already moved and is refused. Migration ``0007``;
carts are ``carts.py``'s, payments ``payments.py``'s and refunds ``refunds.py``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall import config_version
from tokenmall.adapters.db.mall.rows import at, aware, maybe_aware, one_of, values
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.errors import Conflict
from tokenmall.domain.mall.orders import (
    Order,
    OrderDiscount,
    OrderEvent,
    OrderLine,
    OrderRedemption,
    OrderSettings,
    OrderStatus,
    ShippingAddress,
)

ORDER_STATUSES = values(OrderStatus)

ORDER_TABLES: list[str] = []  # filled below

# What a buyer pays is positive, except for a redemption's order: paid by its token, it
# carries no money and no points at all (migration 0027 relaxed the original ``total_fen > 0``).
TOTAL_POSITIVE = (
    "(redemption_id IS NULL AND total_fen > 0) OR (redemption_id IS NOT NULL AND total_fen = 0)"
)


order_settings = Table(
    "mall_order_settings",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("return_window_days", Integer, nullable=False),
    Column("payment_timeout_minutes", Integer, nullable=False),
    Column("auto_confirm_days", Integer, nullable=False),
    Column("updated_by", String(ID), nullable=True),
    at("updated_at"),
    PrimaryKeyConstraint("tenant_id"),
    ForeignKeyConstraint(["tenant_id"], ["mall_tenants.tenant_id"]),
    CheckConstraint("return_window_days BETWEEN 0 AND 365", name="return_window"),
    CheckConstraint("payment_timeout_minutes BETWEEN 1 AND 10080", name="payment_timeout"),
    CheckConstraint("auto_confirm_days BETWEEN 1 AND 365", name="auto_confirm"),
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
    at("created_at"),
    at("pay_by"),
    at("paid_at", nullable=True),
    at("shipped_at", nullable=True),
    at("received_at", nullable=True),
    at("completed_at", nullable=True),
    at("cancelled_at", nullable=True),
    at("refunded_at", nullable=True),
    Column("carrier", String(100), nullable=True),
    Column("tracking_number", String(100), nullable=True),
    # The booked purchase (rule 1), read from its journal's result.
    Column("rewards_journal_id", BigInteger, nullable=True),
    Column("rewards_points", String(40), nullable=True),
    Column("rewards_price", String(40), nullable=True),
    Column("rewards_contribution_fen", BigInteger, nullable=True),
    at("rewards_booked_at", nullable=True),
    # The shipping address when the order was placed: a snapshot (migration 0012), so editing
    # or deleting the address later never changes the order. NULL: checked out without one.
    Column("shipping_recipient", String(50), nullable=True),
    Column("shipping_phone", String(20), nullable=True),
    Column("shipping_address", String(400), nullable=True),
    # The held NFG token whose discount right lowered the order (migration 0020); NULL: none.
    # ``total_fen`` is what the buyer pays: the lines' total less ``discount_fen``.
    Column("discount_collection_id", String(ID), nullable=True),
    Column("discount_serial", BigInteger, nullable=True),
    Column("discount_bps", Integer, nullable=True),
    Column("discount_fen", BigInteger, nullable=True),
    # The NFG token the order redeems (提货, migration 0027); NULL: an order paid in money or
    # points. Such an order is paid by the token: its total is 0 and no journal belongs to it.
    Column("redemption_id", String(ID), nullable=True),
    Column("redemption_collection_id", String(ID), nullable=True),
    Column("redemption_serial", BigInteger, nullable=True),
    PrimaryKeyConstraint("tenant_id", "order_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
    ForeignKeyConstraint(
        ["tenant_id", "merchant_id"], ["mall_merchants.tenant_id", "mall_merchants.merchant_id"]
    ),
    CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
    CheckConstraint(TOTAL_POSITIVE, name="total_positive"),
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
    at("created_at"),
    PrimaryKeyConstraint("tenant_id", "event_id"),
    ForeignKeyConstraint(
        ["tenant_id", "order_id"], ["mall_orders.tenant_id", "mall_orders.order_id"]
    ),
    Index("ix_mall_order_events_tenant_order", "tenant_id", "order_id"),
)

ORDER_TABLES.extend(t.name for t in (order_settings, orders, order_lines, order_events))


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
    config_version.bump(conn, tenant_id)  # the checkout's cached settings
    done = conn.execute(
        update(order_settings).where(order_settings.c.tenant_id == tenant_id).values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(order_settings).values(tenant_id=tenant_id, **values))


# --- orders ---


def add_order(conn: Connection, order: Order) -> None:
    conn.execute(
        insert(orders),
        dict(
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
            **_discount_values(order.discount),
            **_redemption_values(order.redemption),
        ),
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


def _discount_values(discount: OrderDiscount | None) -> dict[str, Any]:
    if discount is None:
        return {}
    return {
        "discount_collection_id": discount.collection_id,
        "discount_serial": discount.serial,
        "discount_bps": discount.discount_bps,
        "discount_fen": discount.off_fen,
    }


def _redemption_values(redemption: OrderRedemption | None) -> dict[str, Any]:
    if redemption is None:
        return {}
    return {
        "redemption_id": redemption.redemption_id,
        "redemption_collection_id": redemption.collection_id,
        "redemption_serial": redemption.serial,
    }


def _redemption(row: Any) -> OrderRedemption | None:
    if row.redemption_id is None:
        return None
    return OrderRedemption(
        row.redemption_id, row.redemption_collection_id, int(row.redemption_serial)
    )


def _discount(row: Any) -> OrderDiscount | None:
    if row.discount_collection_id is None:
        return None
    return OrderDiscount(
        row.discount_collection_id,
        int(row.discount_serial),
        int(row.discount_bps),
        int(row.discount_fen),
    )


def order_of(row: Any, lines: tuple[OrderLine, ...]) -> Order:
    """An order from its row (or any object with the order's columns as attributes)."""
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
        discount=_discount(row),
        redemption=_redemption(row),
    )


# Built once: the hot path's reads skip building and keying a statement per call.
_ORDER = select(orders).where(
    orders.c.tenant_id == bindparam("tenant_id"), orders.c.order_id == bindparam("id")
)
_LINES = (
    select(order_lines)
    .where(
        order_lines.c.tenant_id == bindparam("tenant_id"),
        order_lines.c.order_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(order_lines.c.order_id, order_lines.c.line_no)
)


def _lines(conn: Connection, tenant_id: str, order_ids: list[str]) -> dict[str, list[OrderLine]]:
    found: dict[str, list[OrderLine]] = {order_id: [] for order_id in order_ids}
    if not order_ids:
        return found
    for row in conn.execute(_LINES, {"tenant_id": tenant_id, "ids": list(order_ids)}):
        found[row.order_id].append(order_line(row))
    return found


def order_line(row: Any) -> OrderLine:
    """An order's line from its row (or any object with the line's columns as attributes)."""
    return OrderLine(
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


def lock_order(conn: Connection, tenant_id: str, order_id: str) -> None:
    """Take the order row's lock for this transaction (PostgreSQL; SQLite's transaction
    already holds the database's write lock). Every use case that changes an order, its
    payments or its refunds takes this lock first: one global order, no deadlock."""
    conn.execute(
        select(orders.c.order_id)
        .where(orders.c.tenant_id == tenant_id, orders.c.order_id == order_id)
        .with_for_update()
    )


def try_lock_order(conn: Connection, tenant_id: str, order_id: str) -> bool:
    """``lock_order`` without waiting (``SKIP LOCKED``): False if another transaction holds
    the row's lock (or there is no such order). SQLite: True for an order that exists."""
    found = conn.execute(
        select(orders.c.order_id)
        .where(orders.c.tenant_id == tenant_id, orders.c.order_id == order_id)
        .with_for_update(skip_locked=True)
    ).first()
    return found is not None


def get_order(conn: Connection, tenant_id: str, order_id: str) -> Order | None:
    row = conn.execute(_ORDER, {"tenant_id": tenant_id, "id": order_id}).first()
    if row is None:
        return None
    return order_of(row, tuple(_lines(conn, tenant_id, [order_id])[order_id]))


_ORDERS = select(orders).where(
    orders.c.tenant_id == bindparam("tenant_id"),
    orders.c.order_id.in_(bindparam("ids", expanding=True)),
)


def get_orders(conn: Connection, tenant_id: str, order_ids: list[str]) -> dict[str, Order]:
    """The orders of ``order_ids`` that exist, with their lines (two reads for all)."""
    if not order_ids:
        return {}
    rows = list(conn.execute(_ORDERS, {"tenant_id": tenant_id, "ids": list(order_ids)}))
    return {order.order_id: order for order in _with_lines(conn, tenant_id, rows)}


def order_status(conn: Connection, tenant_id: str, order_id: str) -> OrderStatus | None:
    query = select(orders.c.status).where(
        orders.c.tenant_id == tenant_id, orders.c.order_id == order_id
    )
    status = conn.execute(query).scalar_one_or_none()
    return None if status is None else OrderStatus(status)


def _with_lines(conn: Connection, tenant_id: str, rows: list[Any]) -> list[Order]:
    lines = _lines(conn, tenant_id, [row.order_id for row in rows])
    return [order_of(row, tuple(lines[row.order_id])) for row in rows]


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
    in ``from_status``; False if someone moved it first. Inside a pipeline (``fast``) it
    answers True and the pipeline's end raises ``Conflict`` if no row moved."""
    if fast.in_pipeline(conn):
        fast.guarded_update(
            conn,
            moving_sql(orders, values, "status = %(from_status)s AND order_id = %(row_id)s"),
            {
                **values,
                "to_status": to_status,
                "from_status": from_status,
                "tenant_id": tenant_id,
                "row_id": order_id,
            },
            lambda: Conflict(f"order {order_id!r} changed meanwhile; read it again", "status"),
        )
        return True
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


def moving_sql(table: Table, values: dict[str, Any], where: str) -> str:
    """A guarded status update as fixed SQL (named parameters: ``to_status``, ``tenant_id``
    and those of ``where``; each value under its column's name)."""
    for name in values:
        if name not in table.c:
            raise ValueError(f"no column {name!r} in {table.name}")
    sets = "".join(f", {name} = %({name})s" for name in values)
    return (
        f"UPDATE {table.name} SET status = %(to_status)s{sets} "
        f"WHERE tenant_id = %(tenant_id)s AND {where}"
    )


_SETTING: dict[tuple[str, ...], str] = {}


def set_order_fields(conn: Connection, tenant_id: str, order_id: str, **values: Any) -> None:
    """Set ``values`` on the order (not its status). Inside a pipeline as fixed SQL on the
    driver's cursor (a paid callback's rewards in the writer's pipeline: nothing compiled)."""
    assert "status" not in values
    if fast.in_pipeline(conn):
        names = tuple(values)
        sql = _SETTING.get(names)
        if sql is None:
            for name in names:
                if name not in orders.c:
                    raise ValueError(f"no column {name!r} in {orders.name}")
            sets = ", ".join(f"{name} = %({name})s" for name in names)
            sql = _SETTING[names] = (
                f"UPDATE {orders.name} SET {sets} "
                "WHERE tenant_id = %(tenant_id)s AND order_id = %(row_id)s"
            )
        cur = fast.cursor(conn)
        try:
            cur.execute(sql, {**values, "tenant_id": tenant_id, "row_id": order_id})
        finally:
            cur.close()
        return
    conn.execute(
        update(orders)
        .where(orders.c.tenant_id == tenant_id, orders.c.order_id == order_id)
        .values(**values)
    )


def add_event(conn: Connection, tenant_id: str, order_id: str, event: OrderEvent) -> None:
    """The order's history row (inside ``fast.deferring``: held, inserted with the others)."""
    row = dict(
        tenant_id=tenant_id,
        event_id=event.event_id,
        order_id=order_id,
        from_status=event.from_status,
        to_status=event.to_status,
        actor=event.actor,
        note=event.note,
        created_at=event.created_at,
    )
    if fast.deferred(conn):
        fast.insert_dicts(conn, order_events, [row])
        return
    conn.execute(insert(order_events), row)


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
