"""The unit of work's ports for the mall's own orders: orders, payments, refunds, their money.

* ``orders``: the orders with their lines, their history of moves and the tenant's order
  settings; ``lock`` holds an order's row until the unit ends (every change of an order, its
  payments or its refunds takes it first);
* ``payments``: an order's payments through a gateway, the gateway's events seen and every
  callback received;
* ``refunds``: the refunds asked for and decided;
* ``order_money``: the ledger steps only the mall's own orders take (stable points paid and
  given back, a stray payment recorded) and what a refund would take back;
* ``nested``: a savepoint inside the unit (one due order's move that may fail alone);
* ``holder_rights``: what a buyer's held tokens allow at checkout (``may_buy``, ``discount``);
* ``token_orders``: the token's side of a redemption's order (提货) when the order closes:
  burned on receipt, held again on cancellation, each with its log leaf, in the same unit.

The SQL implementations are ``adapters/db/uow_orders.py`` (and ``order_ledger.SqlOrderMoney``
for the ledger's part); the services tests' fakes are ``tests/services/fakes_orders.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from tokenmall.adapters.db.uow_orders import Callback as Callback
from tokenmall.adapters.db.uow_orders import CallbackSeen as CallbackSeen
from tokenmall.domain.mall.commissions import CommissionRow
from tokenmall.domain.mall.orders import Order, OrderEvent, OrderSettings, OrderStatus
from tokenmall.domain.mall.payments import Payment
from tokenmall.domain.mall.refunds import Refund, RefundStatus
from tokenmall.domain.nfg.holders import BuyerRights


class OrdersRepository(Protocol):
    def lock(self, tenant_id: str, order_id: str) -> None:
        """Hold the order's row until the unit ends."""

    def try_lock(self, tenant_id: str, order_id: str) -> bool:
        """``lock`` without waiting: False if another transaction holds the order's lock."""
        ...

    def get(self, tenant_id: str, order_id: str) -> Order | None: ...

    def get_many(self, tenant_id: str, order_ids: list[str]) -> dict[str, Order]:
        """The orders of ``order_ids`` that exist, with their lines, by id (one read)."""
        ...

    def status_of(self, tenant_id: str, order_id: str) -> OrderStatus | None:
        """The order's status alone (no lines read); None if there is no such order."""

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
        """The newest first, older than ``after``."""

    def due_ids(
        self, tenant_id: str, status: str, column: str, before: datetime, limit: int
    ) -> list[str]:
        """Ids of orders in ``status`` whose ``column`` time is at or before ``before``, the
        earliest first."""

    def add(self, order: Order) -> None: ...

    def move(
        self,
        tenant_id: str,
        order_id: str,
        from_status: str,
        to_status: str,
        values: Mapping[str, object],
    ) -> bool:
        """Move the order (and set ``values``) if it is still in ``from_status``."""

    def set_fields(self, tenant_id: str, order_id: str, values: Mapping[str, object]) -> None:
        """Set fields other than the status."""

    def add_event(self, tenant_id: str, order_id: str, event: OrderEvent) -> None: ...

    def history(self, tenant_id: str, order_id: str) -> list[OrderEvent]:
        """The order's moves, in order."""

    def settings(self, tenant_id: str) -> OrderSettings:
        """The tenant's order settings (the defaults if it never changed them)."""

    def put_settings(
        self, tenant_id: str, settings: OrderSettings, by: str, now: datetime
    ) -> None: ...


# Payments with their orders locked, by id, and the tenant's configuration version read with
# them (None when none was found): ``Payments.locking_orders``.
LockedOrders = tuple[dict[str, tuple[Payment, Order]], int | None]


class Payments(Protocol):
    def add(self, payment: Payment) -> None: ...

    def get(self, tenant_id: str, payment_id: str) -> Payment | None: ...

    def locking_orders(self, tenant_id: str, payment_ids: list[str]) -> LockedOrders:
        """The payments with their orders' rows locked, in one read: those found whose order
        no other transaction holds, by id, each with its order (and its lines); and the
        tenant's configuration version read in that statement (None if none was found)."""
        ...

    def locking_orders_later(
        self, tenant_id: str, payment_ids: list[str]
    ) -> Callable[[], LockedOrders]:
        """``locking_orders`` sent now, its answer read when called for: a statement sent in
        a pipeline goes with the others of that pipeline, in one round trip."""
        ...

    def get_many(self, tenant_id: str, payment_ids: list[str]) -> dict[str, Payment]:
        """The payments of ``payment_ids`` that exist, by id (no lock)."""
        ...

    def with_order_status(self, tenant_id: str, payment_id: str) -> tuple[Payment, str] | None:
        """The payment and its order's status in one read; None if there is no such payment."""
        ...

    def approve_payable(
        self,
        tenant_id: str,
        payment_id: str,
        ref: str,
        open_statuses: Sequence[str],
        order_status: str,
        now: datetime,
    ) -> tuple[Payment, str] | None:
        """``with_order_status`` for the sandbox page's Approve: and, if the payment's
        reference is ``ref``, it is in ``open_statuses`` and its order in ``order_status``,
        the sandbox's record of the approval (its daily bill; once per payment) in the same
        statement where the database allows it."""
        ...

    def of_order(self, tenant_id: str, order_id: str) -> list[Payment]:
        """The order's payments, the first made first."""

    def open_before(
        self, statuses: Sequence[str], gateways: Sequence[str], before: datetime, limit: int
    ) -> list[Payment]:
        """Every tenant's payments in ``statuses`` through ``gateways`` made before
        ``before``, the oldest first."""

    def move(
        self,
        tenant_id: str,
        payment_id: str,
        from_statuses: Sequence[str],
        to_status: str,
        values: Mapping[str, object],
    ) -> bool:
        """Move the payment (and set ``values``) if it is in one of ``from_statuses``."""

    def event_seen(self, tenant_id: str, gateway: str, event_id: str) -> bool: ...

    def add_event(
        self,
        tenant_id: str,
        gateway: str,
        event_id: str,
        payment_id: str,
        event_type: str,
        now: datetime,
    ) -> None:
        """Record a gateway's event id as processed (a replay of it fails the unit)."""

    def add_callback(self, callback: Callback) -> None: ...

    def callbacks_of(self, tenant_id: str, payment_id: str) -> list[CallbackSeen]:
        """The callbacks received for the payment, in order."""


class Refunds(Protocol):
    def add(self, refund: Refund) -> None: ...

    def get(self, tenant_id: str, refund_id: str, *, lock: bool = False) -> Refund | None:
        """The refund; ``lock``: its row held to the end of the unit (a callback and a query
        of one refund never finish it twice)."""

    def of_order(self, tenant_id: str, order_id: str) -> list[Refund]:
        """The order's refunds, the first asked first."""

    def processing_before(self, before: datetime, limit: int) -> list[Refund]:
        """Every tenant's refunds still processing at their channel, submitted before
        ``before``, the longest waiting first."""

    def decide(
        self,
        tenant_id: str,
        refund_id: str,
        to_status: str,
        values: Mapping[str, object],
        *,
        from_status: str = RefundStatus.REQUESTED,
    ) -> bool:
        """Move a refund from ``from_status`` (and set ``values``); False if it had moved."""


class OrderMoney(Protocol):
    def pay_stable(
        self, tenant_id: str, *, user: str, merchant: str, order_ref: str, amount_fen: int
    ) -> None:
        """The buyer's stable points for the order, to the merchant (at checkout)."""

    def return_stable(
        self, tenant_id: str, *, user: str, merchant: str, order_ref: str, amount_fen: int
    ) -> None:
        """The order's stable points back to the buyer (cancelled or refunded)."""

    def record_payment(self, tenant_id: str, *, user: str, order_ref: str, amount_fen: int) -> int:
        """Money the gateway received for ``order_ref``, into escrow; the journal's id."""

    def preview_reversal(self, tenant_id: str, order_ref: str) -> dict[str, Any]:
        """What taking the order's booked rewards back would do now, as the ledger states it
        (its figures formatted by the ledger), changing nothing."""

    def commissions_of(self, tenant_id: str, order_ref: str) -> list[CommissionRow]:
        """The order's referral commissions."""


class Nested(Protocol):
    def savepoint(self) -> AbstractContextManager[Any]:
        """A savepoint: an exception leaving it undoes only what was done inside it."""


class TokenOrders(Protocol):
    def closed(self, order: Order, by: str, note: str | None, now: datetime) -> None:
        """A redemption's order (``order.redemption``) has just moved to received (its token
        is burned: ``redeemed``) or cancelled (its token is held again); ``by`` made the move.
        Refused (a domain error) when the token cannot follow, which undoes the move."""


class HolderRights(Protocol):
    def of_buyer(self, tenant_id: str, user_id: str, sku_ids: Sequence[str]) -> BuyerRights:
        """The collections whose ``may_buy`` names one of ``sku_ids``, those the buyer holds a
        token of (state ``held``), and the discounts of the buyer's held tokens."""
