"""A planned checkout's rows (orders, their lines, their history, their payments) as fixed SQL
statements (PostgreSQL), sent with the checkout's COMMIT (``checkout_unit``).

SQLAlchemy builds and keys an ``insert()`` and processes its parameters on every call (about
a third of the checkout's write in the profile); here each table has one fixed statement,
prepared once per session, and the rows go as positional tuples. The column lists
are the tables' own (``orders.py``, ``payments.py``); ``tests/api/test_api_checkout_unit.py``
reads the rows back through the API.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenmall.adapters.db import fast
from tokenmall.domain.mall.orders import Order, OrderEvent
from tokenmall.domain.mall.payments import Payment

_ORDER = (
    "INSERT INTO mall_orders (tenant_id, order_id, checkout_id, user_id, merchant_id, status, "
    "total_fen, money_fen, stable_fen, created_at, pay_by, paid_at, shipping_recipient, "
    "shipping_phone, shipping_address, discount_collection_id, discount_serial, discount_bps, "
    "discount_fen) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
    "%s, %s)"
)
_LINE = (
    "INSERT INTO mall_order_lines (tenant_id, order_id, line_no, sku_id, product_id, title, "
    "sku_name, unit_price_fen, quantity, line_total_fen, pool_contribution_fen) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_EVENT = (
    "INSERT INTO mall_order_events (tenant_id, event_id, order_id, from_status, to_status, "
    "actor, note, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
_PAYMENT = (
    "INSERT INTO mall_payments (tenant_id, payment_id, order_id, gateway, status, amount_fen, "
    "provider_ref, redirect_url, failure_reason, created_at, updated_at, succeeded_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def fits(order: Order) -> bool:
    """Whether ``statements`` writes all of ``order`` (a redemption's order does not go here)."""
    return order.redemption is None


def statements(
    tenant_id: str,
    orders: Sequence[Order],
    events: Sequence[tuple[str, OrderEvent]],
    payments: Sequence[Payment],
) -> list[fast.Statement]:
    """The checkout's rows (every order ``fits``) as fixed statements, one a row."""
    out: list[fast.Statement] = []
    for order in orders:
        assert fits(order)
        shipping, discount = order.shipping, order.discount
        out.append(
            (
                _ORDER,
                (
                    order.tenant_id,
                    order.order_id,
                    order.checkout_id,
                    order.user_id,
                    order.merchant_id,
                    str(order.status),
                    order.total_fen,
                    order.money_fen,
                    order.stable_fen,
                    order.created_at,
                    order.pay_by,
                    order.paid_at,
                    None if shipping is None else shipping.recipient,
                    None if shipping is None else shipping.phone,
                    None if shipping is None else shipping.address,
                    None if discount is None else discount.collection_id,
                    None if discount is None else discount.serial,
                    None if discount is None else discount.discount_bps,
                    None if discount is None else discount.off_fen,
                ),
            )
        )
        for line in order.lines:
            out.append(
                (
                    _LINE,
                    (
                        order.tenant_id,
                        order.order_id,
                        line.line_no,
                        line.sku_id,
                        line.product_id,
                        line.title,
                        line.sku_name,
                        line.unit_price_fen,
                        line.quantity,
                        line.line_total_fen,
                        line.pool_contribution_fen,
                    ),
                )
            )
    for order_id, event in events:
        out.append(
            (
                _EVENT,
                (
                    tenant_id,
                    event.event_id,
                    order_id,
                    None if event.from_status is None else str(event.from_status),
                    str(event.to_status),
                    event.actor,
                    event.note,
                    event.created_at,
                ),
            )
        )
    for payment in payments:
        out.append(
            (
                _PAYMENT,
                (
                    payment.tenant_id,
                    payment.payment_id,
                    payment.order_id,
                    payment.gateway,
                    str(payment.status),
                    payment.amount_fen,
                    payment.provider_ref,
                    payment.redirect_url,
                    payment.failure_reason,
                    payment.created_at,
                    payment.updated_at,
                    payment.succeeded_at,
                ),
            )
        )
    return out
