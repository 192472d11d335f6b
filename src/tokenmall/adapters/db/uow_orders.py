"""The SQL repositories of the mall's own orders: orders, payments, refunds, savepoints.

They implement ``services/unit_of_work_orders.py``'s ports on the unit's connection, over the
statements of ``adapters/db/mall/orders.py``, ``payments.py`` and ``refunds.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import orders as orders_repo
from tokenmall.adapters.db.mall import payments as payments_repo
from tokenmall.adapters.db.mall import payouts as payouts_repo
from tokenmall.adapters.db.mall import refunds as refunds_repo
from tokenmall.domain.mall.orders import Order, OrderEvent, OrderSettings, OrderStatus
from tokenmall.domain.mall.payments import Payment
from tokenmall.domain.mall.refunds import Refund, RefundStatus


@dataclass(frozen=True, slots=True)
class Callback:
    """One gateway callback as received: accepted (``reason``: what it did) or refused."""

    tenant_id: str
    callback_id: str
    gateway: str
    event_id: str | None
    payment_id: str | None
    outcome: str
    reason: str
    body: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class CallbackSeen:
    """A callback of a payment, as its payment's page shows it."""

    callback_id: str
    event_id: str | None
    outcome: str
    reason: str
    received_at: datetime


class SqlOrders:
    """The orders, their history and the order settings."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock(self, tenant_id: str, order_id: str) -> None:
        orders_repo.lock_order(self.conn, tenant_id, order_id)

    def try_lock(self, tenant_id: str, order_id: str) -> bool:
        return orders_repo.try_lock_order(self.conn, tenant_id, order_id)

    def get(self, tenant_id: str, order_id: str) -> Order | None:
        return orders_repo.get_order(self.conn, tenant_id, order_id)

    def get_many(self, tenant_id: str, order_ids: list[str]) -> dict[str, Order]:
        return orders_repo.get_orders(self.conn, tenant_id, order_ids)

    def status_of(self, tenant_id: str, order_id: str) -> OrderStatus | None:
        return orders_repo.order_status(self.conn, tenant_id, order_id)

    def query(
        self,
        tenant_id: str,
        *,
        user_id: str | None,
        merchant_id: str | None,
        status: str | None,
        after: str | None,
        limit: int,
        checkout_id: str | None,
    ) -> list[Order]:
        return orders_repo.list_orders(
            self.conn,
            tenant_id,
            user_id=user_id,
            merchant_id=merchant_id,
            status=status,
            after=after,
            limit=limit,
            checkout_id=checkout_id,
        )

    def due_ids(
        self, tenant_id: str, status: str, column: str, before: datetime, limit: int
    ) -> list[str]:
        return orders_repo.due_order_ids(self.conn, tenant_id, status, column, before, limit)

    def add(self, order: Order) -> None:
        orders_repo.add_order(self.conn, order)

    def move(
        self,
        tenant_id: str,
        order_id: str,
        from_status: str,
        to_status: str,
        values: Mapping[str, object],
    ) -> bool:
        return orders_repo.move_order(
            self.conn, tenant_id, order_id, from_status, to_status, **values
        )

    def set_fields(self, tenant_id: str, order_id: str, values: Mapping[str, object]) -> None:
        orders_repo.set_order_fields(self.conn, tenant_id, order_id, **values)

    def add_event(self, tenant_id: str, order_id: str, event: OrderEvent) -> None:
        orders_repo.add_event(self.conn, tenant_id, order_id, event)

    def history(self, tenant_id: str, order_id: str) -> list[OrderEvent]:
        return orders_repo.order_history(self.conn, tenant_id, order_id)

    def settings(self, tenant_id: str) -> OrderSettings:
        return orders_repo.get_settings(self.conn, tenant_id)

    def put_settings(self, tenant_id: str, settings: OrderSettings, by: str, now: datetime) -> None:
        orders_repo.put_settings(self.conn, tenant_id, settings, by, now)


class SqlPayments:
    """An order's payments, the gateways' events seen and the callbacks received."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, payment: Payment) -> None:
        payments_repo.add_payment(self.conn, payment)

    def get(self, tenant_id: str, payment_id: str) -> Payment | None:
        return payments_repo.get_payment(self.conn, tenant_id, payment_id)

    def locking_orders(
        self, tenant_id: str, payment_ids: list[str]
    ) -> tuple[dict[str, tuple[Payment, Order]], int | None]:
        return payments_repo.payments_locking_orders(self.conn, tenant_id, payment_ids)

    def locking_orders_later(
        self, tenant_id: str, payment_ids: list[str]
    ) -> Callable[[], tuple[dict[str, tuple[Payment, Order]], int | None]]:
        return payments_repo.payments_locking_orders_later(self.conn, tenant_id, payment_ids)

    def get_many(self, tenant_id: str, payment_ids: list[str]) -> dict[str, Payment]:
        return payments_repo.get_payments(self.conn, tenant_id, payment_ids)

    def with_order_status(self, tenant_id: str, payment_id: str) -> tuple[Payment, str] | None:
        return payments_repo.payment_and_order_status(self.conn, tenant_id, payment_id)

    def approve_payable(
        self,
        tenant_id: str,
        payment_id: str,
        ref: str,
        open_statuses: Sequence[str],
        order_status: str,
        now: datetime,
    ) -> tuple[Payment, str] | None:
        return payouts_repo.approve_payable(
            self.conn, tenant_id, payment_id, ref, open_statuses, order_status, now
        )

    def of_order(self, tenant_id: str, order_id: str) -> list[Payment]:
        return payments_repo.payments_of(self.conn, tenant_id, order_id)

    def open_before(
        self, statuses: Sequence[str], gateways: Sequence[str], before: datetime, limit: int
    ) -> list[Payment]:
        return payments_repo.open_payments(
            self.conn, tuple(statuses), tuple(gateways), before, limit
        )

    def move(
        self,
        tenant_id: str,
        payment_id: str,
        from_statuses: Sequence[str],
        to_status: str,
        values: Mapping[str, object],
    ) -> bool:
        return payments_repo.move_payment(
            self.conn, tenant_id, payment_id, tuple(from_statuses), to_status, **values
        )

    def event_seen(self, tenant_id: str, gateway: str, event_id: str) -> bool:
        return payments_repo.gateway_event_seen(self.conn, tenant_id, gateway, event_id)

    def add_event(
        self,
        tenant_id: str,
        gateway: str,
        event_id: str,
        payment_id: str,
        event_type: str,
        now: datetime,
    ) -> None:
        payments_repo.add_gateway_event(
            self.conn, tenant_id, gateway, event_id, payment_id, event_type, now
        )

    def add_callback(self, callback: Callback) -> None:
        payments_repo.add_callback(
            self.conn,
            tenant_id=callback.tenant_id,
            callback_id=callback.callback_id,
            gateway=callback.gateway,
            event_id=callback.event_id,
            payment_id=callback.payment_id,
            outcome=callback.outcome,
            reason=callback.reason,
            body=callback.body,
            now=callback.received_at,
        )

    def callbacks_of(self, tenant_id: str, payment_id: str) -> list[CallbackSeen]:
        return [
            CallbackSeen(
                row["callback_id"],
                row["event_id"],
                row["outcome"],
                row["reason"],
                row["received_at"],
            )
            for row in payments_repo.callbacks_of(self.conn, tenant_id, payment_id)
        ]


class SqlRefunds:
    """The refunds of orders."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, refund: Refund) -> None:
        refunds_repo.add_refund(self.conn, refund)

    def get(self, tenant_id: str, refund_id: str, *, lock: bool = False) -> Refund | None:
        return refunds_repo.get_refund(self.conn, tenant_id, refund_id, lock=lock)

    def of_order(self, tenant_id: str, order_id: str) -> list[Refund]:
        return refunds_repo.refunds_of(self.conn, tenant_id, order_id)

    def processing_before(self, before: datetime, limit: int) -> list[Refund]:
        return refunds_repo.processing_refunds(self.conn, before, limit)

    def decide(
        self,
        tenant_id: str,
        refund_id: str,
        to_status: str,
        values: Mapping[str, object],
        *,
        from_status: str = RefundStatus.REQUESTED,
    ) -> bool:
        return refunds_repo.decide_refund(
            self.conn, tenant_id, refund_id, to_status, from_status=from_status, **values
        )


class SqlNested:
    """Savepoints of the unit's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def savepoint(self) -> AbstractContextManager[Any]:
        return self.conn.begin_nested()
