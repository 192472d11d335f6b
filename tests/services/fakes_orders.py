"""The in-memory ports of the mall's own orders: orders, payments, refunds, their money, and a
payment gateway that needs no network.

``FakeOrderMoney`` keeps the stable points (恒定积分) of buyers and merchants as integers of fen
and refuses a payment larger than the buyer holds, as the ledger does; each step runs once per
key. ``FakeNested`` restores every port of its unit when its savepoint is left by an exception.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tokenmall.domain.errors import DomainError, ErrorKind, InsufficientBalance
from tokenmall.domain.mall.commissions import CommissionRow
from tokenmall.domain.mall.gateway import (
    CallbackEvent,
    CallbackRefused,
    CreatedPayment,
    GatewayRefund,
)
from tokenmall.domain.mall.orders import Order, OrderEvent, OrderSettings, OrderStatus
from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.domain.mall.refunds import Refund, RefundStatus
from tokenmall.domain.nfg.holders import BuyerRights
from tokenmall.services.unit_of_work_orders import Callback, CallbackSeen


@dataclass
class FakeOrders:
    """Orders by (tenant, id); their history in order; settings by tenant."""

    rows: dict[tuple[str, str], Order] = field(default_factory=dict)
    events: list[tuple[str, str, OrderEvent]] = field(default_factory=list)
    saved_settings: dict[str, OrderSettings] = field(default_factory=dict)
    locks: list[str] = field(default_factory=list)

    def lock(self, tenant_id: str, order_id: str) -> None:
        self.locks.append(order_id)

    def try_lock(self, tenant_id: str, order_id: str) -> bool:
        self.locks.append(order_id)
        return (tenant_id, order_id) in self.rows

    def get(self, tenant_id: str, order_id: str) -> Order | None:
        return self.rows.get((tenant_id, order_id))

    def get_many(self, tenant_id: str, order_ids: list[str]) -> dict[str, Order]:
        return {i: self.rows[(tenant_id, i)] for i in order_ids if (tenant_id, i) in self.rows}

    def status_of(self, tenant_id: str, order_id: str) -> OrderStatus | None:
        found = self.rows.get((tenant_id, order_id))
        return None if found is None else found.status

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
        found = [
            o
            for (t, _), o in self.rows.items()
            if t == tenant_id
            and (user_id is None or o.user_id == user_id)
            and (merchant_id is None or o.merchant_id == merchant_id)
            and (status is None or o.status == status)
            and (checkout_id is None or o.checkout_id == checkout_id)
            and (after is None or o.order_id < after)
        ]
        return sorted(found, key=lambda o: o.order_id, reverse=True)[:limit]

    def due_ids(
        self, tenant_id: str, status: str, column: str, before: datetime, limit: int
    ) -> list[str]:
        due = [
            (getattr(o, column), o.order_id)
            for (t, _), o in self.rows.items()
            if t == tenant_id and o.status == status and getattr(o, column) <= before
        ]
        return [order_id for _, order_id in sorted(due)][:limit]

    def add(self, order: Order) -> None:
        where = (order.tenant_id, order.order_id)
        assert where not in self.rows, "an order is added once"
        self.rows[where] = order

    def move(
        self,
        tenant_id: str,
        order_id: str,
        from_status: str,
        to_status: str,
        values: Mapping[str, object],
    ) -> bool:
        order = self.rows.get((tenant_id, order_id))
        if order is None or order.status != from_status:
            return False
        moved = replace(order, status=OrderStatus(to_status), **values)  # type: ignore[arg-type]
        self.rows[(tenant_id, order_id)] = moved
        return True

    def set_fields(self, tenant_id: str, order_id: str, values: Mapping[str, object]) -> None:
        assert "status" not in values
        where = (tenant_id, order_id)
        self.rows[where] = replace(self.rows[where], **values)  # type: ignore[arg-type]

    def add_event(self, tenant_id: str, order_id: str, event: OrderEvent) -> None:
        self.events.append((tenant_id, order_id, event))

    def history(self, tenant_id: str, order_id: str) -> list[OrderEvent]:
        return [e for t, o, e in self.events if (t, o) == (tenant_id, order_id)]

    def settings(self, tenant_id: str) -> OrderSettings:
        return self.saved_settings.get(tenant_id, OrderSettings())

    def put_settings(self, tenant_id: str, settings: OrderSettings, by: str, now: datetime) -> None:
        self.saved_settings[tenant_id] = settings


@dataclass
class FakePayments:
    rows: dict[tuple[str, str], Payment] = field(default_factory=dict)
    orders: FakeOrders | None = None  # for the page's payment-and-order read
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    callbacks: list[Callback] = field(default_factory=list)
    approved: dict[tuple[str, str], datetime] = field(default_factory=dict)  # the sandbox's

    def add(self, payment: Payment) -> None:
        self.rows[(payment.tenant_id, payment.payment_id)] = payment

    def get(self, tenant_id: str, payment_id: str) -> Payment | None:
        return self.rows.get((tenant_id, payment_id))

    def locking_orders(
        self, tenant_id: str, payment_ids: list[str]
    ) -> tuple[dict[str, tuple[Payment, Order]], int | None]:
        assert self.orders is not None
        # One process: no other holds a lock.
        found = {
            payment_id: (payment, self.orders.rows[(tenant_id, payment.order_id)])
            for payment_id, payment in self.get_many(tenant_id, payment_ids).items()
        }
        return found, 0 if found else None

    def locking_orders_later(
        self, tenant_id: str, payment_ids: list[str]
    ) -> Callable[[], tuple[dict[str, tuple[Payment, Order]], int | None]]:
        found = self.locking_orders(tenant_id, payment_ids)
        return lambda: found

    def get_many(self, tenant_id: str, payment_ids: list[str]) -> dict[str, Payment]:
        return {i: self.rows[(tenant_id, i)] for i in payment_ids if (tenant_id, i) in self.rows}

    def with_order_status(self, tenant_id: str, payment_id: str) -> tuple[Payment, str] | None:
        payment = self.rows.get((tenant_id, payment_id))
        if payment is None or self.orders is None:
            return None
        return payment, self.orders.rows[(tenant_id, payment.order_id)].status

    def approve_payable(
        self,
        tenant_id: str,
        payment_id: str,
        ref: str,
        open_statuses: Sequence[str],
        order_status: str,
        now: datetime,
    ) -> tuple[Payment, str] | None:
        found = self.with_order_status(tenant_id, payment_id)
        if found is not None:
            payment, status = found
            payable = payment.status in open_statuses and status == order_status
            if payable and payment.provider_ref == ref:
                self.approved.setdefault((tenant_id, payment_id), now)
        return found

    def of_order(self, tenant_id: str, order_id: str) -> list[Payment]:
        mine = [p for (t, _), p in self.rows.items() if t == tenant_id and p.order_id == order_id]
        return sorted(mine, key=lambda p: (p.created_at, p.payment_id))

    def open_before(
        self, statuses: Sequence[str], gateways: Sequence[str], before: datetime, limit: int
    ) -> list[Payment]:
        mine = [
            p
            for p in self.rows.values()
            if p.status in statuses and p.gateway in gateways and p.created_at < before
        ]
        return sorted(mine, key=lambda p: (p.created_at, p.payment_id))[:limit]

    def move(
        self,
        tenant_id: str,
        payment_id: str,
        from_statuses: Sequence[str],
        to_status: str,
        values: Mapping[str, object],
    ) -> bool:
        payment = self.rows.get((tenant_id, payment_id))
        if payment is None or payment.status not in from_statuses:
            return False
        moved = replace(payment, status=PaymentStatus(to_status), **values)  # type: ignore[arg-type]
        self.rows[(tenant_id, payment_id)] = moved
        return True

    def event_seen(self, tenant_id: str, gateway: str, event_id: str) -> bool:
        return (tenant_id, gateway, event_id) in self.seen

    def add_event(
        self,
        tenant_id: str,
        gateway: str,
        event_id: str,
        payment_id: str,
        event_type: str,
        now: datetime,
    ) -> None:
        assert (tenant_id, gateway, event_id) not in self.seen, "an event id is processed once"
        self.seen.add((tenant_id, gateway, event_id))

    def add_callback(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def callbacks_of(self, tenant_id: str, payment_id: str) -> list[CallbackSeen]:
        return [
            CallbackSeen(c.callback_id, c.event_id, c.outcome, c.reason, c.received_at)
            for c in self.callbacks
            if (c.tenant_id, c.payment_id) == (tenant_id, payment_id)
        ]


@dataclass
class FakeRefunds:
    rows: dict[tuple[str, str], Refund] = field(default_factory=dict)

    def add(self, refund: Refund) -> None:
        self.rows[(refund.tenant_id, refund.refund_id)] = refund

    def get(self, tenant_id: str, refund_id: str, *, lock: bool = False) -> Refund | None:
        return self.rows.get((tenant_id, refund_id))

    def of_order(self, tenant_id: str, order_id: str) -> list[Refund]:
        mine = [r for (t, _), r in self.rows.items() if t == tenant_id and r.order_id == order_id]
        return sorted(mine, key=lambda r: (r.requested_at, r.refund_id))

    def processing_before(self, before: datetime, limit: int) -> list[Refund]:
        waiting = [
            r
            for r in self.rows.values()
            if r.status == RefundStatus.PROCESSING
            and r.submitted_at is not None
            and r.submitted_at < before
        ]
        return sorted(waiting, key=lambda r: (r.submitted_at, r.tenant_id, r.refund_id))[:limit]

    def decide(
        self,
        tenant_id: str,
        refund_id: str,
        to_status: str,
        values: Mapping[str, object],
        *,
        from_status: str = RefundStatus.REQUESTED,
    ) -> bool:
        refund = self.rows.get((tenant_id, refund_id))
        if refund is None or refund.status != from_status:
            return False
        decided = replace(refund, status=RefundStatus(to_status), **values)  # type: ignore[arg-type]
        self.rows[(tenant_id, refund_id)] = decided
        return True


@dataclass
class FakeOrderMoney:
    """Stable points by (tenant, holder) in fen; ``escrow`` by order ref; ``steps`` the keys
    run (each once)."""

    stable: dict[tuple[str, str], int] = field(default_factory=dict)
    escrow: dict[str, int] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    commissions: list[CommissionRow] = field(default_factory=list)

    def _once(self, key: str) -> bool:
        if key in self.steps:
            return False
        self.steps.append(key)
        return True

    def pay_stable(
        self, tenant_id: str, *, user: str, merchant: str, order_ref: str, amount_fen: int
    ) -> None:
        held = self.stable.get((tenant_id, user), 0)
        if amount_fen > held:
            raise InsufficientBalance(f"{user} holds {held} fen of stable points")
        if self._once(f"order:{order_ref}:stable"):
            self.stable[(tenant_id, user)] = held - amount_fen
            where = (tenant_id, merchant)
            self.stable[where] = self.stable.get(where, 0) + amount_fen

    def return_stable(
        self, tenant_id: str, *, user: str, merchant: str, order_ref: str, amount_fen: int
    ) -> None:
        if self._once(f"order:{order_ref}:stable-refund"):
            self.stable[(tenant_id, merchant)] -= amount_fen
            where = (tenant_id, user)
            self.stable[where] = self.stable.get(where, 0) + amount_fen

    def record_payment(self, tenant_id: str, *, user: str, order_ref: str, amount_fen: int) -> int:
        if self._once(f"order:{order_ref}:payment"):
            self.escrow[order_ref] = amount_fen
        return len(self.steps)

    def preview_reversal(self, tenant_id: str, order_ref: str) -> dict[str, Any]:
        return {"order_ref": order_ref, "holders": []}

    def commissions_of(self, tenant_id: str, order_ref: str) -> list[CommissionRow]:
        return [c for c in self.commissions if c.order_ref == order_ref]


PORTS = (
    "integration",
    "addresses",
    "catalogue",
    "carts",
    "people",
    "params",
    "answers",
    "outbox",
    "ledger",
    "withdrawals",
    "audit",
    "cash",
    "orders",
    "payments",
    "refunds",
    "order_money",
)


class FakeNested:
    """Savepoints of a fake unit: its ports put back if the block raises."""

    def __init__(self, unit: Any) -> None:
        self.unit = unit

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        saved = {name: copy.deepcopy(getattr(self.unit, name)) for name in PORTS}
        try:
            yield
        except BaseException:
            for name, value in saved.items():
                setattr(self.unit, name, value)
            raise


class FakeGateway:
    """A gateway whose payment page and webhook are in memory: ``event`` makes a callback's
    body, ``verify_callback`` accepts the ones whose ``signature`` header is ``good``."""

    name = "fake"

    def __init__(self) -> None:
        self.refunds: list[tuple[str, str, int]] = []

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        return CreatedPayment(f"ref-{payment_id}", f"https://pay.example/{payment_id}")

    def event(self, payment: Payment, event_id: str, kind: str = "payment.succeeded") -> bytes:
        return json.dumps(
            {
                "event_id": event_id,
                "type": kind,
                "tenant_id": payment.tenant_id,
                "payment_id": payment.payment_id,
                "provider_ref": payment.provider_ref,
                "amount_fen": payment.amount_fen,
            }
        ).encode()

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        if headers.get("signature") != "good":
            raise CallbackRefused("bad_signature", "the signature differs", ErrorKind.INVALID)
        data = json.loads(body)
        return CallbackEvent(
            self.name,
            data["event_id"],
            data["type"],
            data["provider_ref"],
            data["tenant_id"],
            data["payment_id"],
            data["amount_fen"],
            None,
        )

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        self.refunds.append((provider_ref, refund_id, amount_fen))
        return GatewayRefund(f"gw-{refund_id}", "succeeded")

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        return None

    def close_payment(self, *, provider_ref: str) -> None:
        return None


class FakeUnits:
    """Where a callback's units come from: the one fake unit, each time."""

    def __init__(self, unit: Any) -> None:
        self.unit_of_work = unit

    def unit(self) -> Any:
        return self.unit_of_work

    @contextmanager
    def reading(self) -> Iterator[Any]:
        yield self.unit_of_work

    @contextmanager
    def reading_one(self) -> Iterator[Any]:
        yield self.unit_of_work


class FakeHolderRights:
    """What buyers' tokens allow at checkout: ``rights`` by user id (none by default)."""

    def __init__(self) -> None:
        self.rights: dict[str, BuyerRights] = {}

    def of_buyer(self, tenant_id: str, user_id: str, sku_ids: Sequence[str]) -> BuyerRights:
        return self.rights.get(user_id, BuyerRights())


@dataclass
class FakeTokenOrders:
    """The token's side of a redemption's order: each call recorded as (order id, status,
    by, note); ``refuse`` set makes the calls refuse (as a token that cannot follow)."""

    calls: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    refuse: DomainError | None = None

    def closed(self, order: Order, by: str, note: str | None, now: datetime) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.calls.append((order.order_id, str(order.status), by, note))
