"""Orders: carts, the order with its lines and status history, and a tenant's order settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    SHIPPED = "shipped"
    RECEIVED = "received"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class OrderSettings:
    return_window_days: int = 7
    payment_timeout_minutes: int = 30
    auto_confirm_days: int = 10


@dataclass(frozen=True, slots=True)
class CartLine:
    sku_id: str
    quantity: int
    added_at: datetime


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_no: int
    sku_id: str
    product_id: str
    title: str
    sku_name: str
    unit_price_fen: int
    quantity: int
    line_total_fen: int
    pool_contribution_fen: int | None


@dataclass(frozen=True, slots=True)
class OrderEvent:
    event_id: str
    from_status: str | None
    to_status: str
    actor: str
    note: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    """Where an order ships: a copy of the consumer's address when the order was placed."""

    recipient: str
    phone: str
    address: str  # region, detail and postal code as one text


@dataclass(frozen=True, slots=True)
class OrderDiscount:
    """The held token whose ``discount`` right lowered the order (at most one an order)."""

    collection_id: str
    serial: int
    discount_bps: int
    off_fen: int


@dataclass(frozen=True, slots=True)
class OrderRedemption:
    """The NFG token an order redeems (提货): the order is paid by the token, not by money or
    points, so its total is 0 and no ledger journal belongs to it; on receipt the token is
    burned, on cancellation it is held again."""

    redemption_id: str
    collection_id: str
    serial: int


@dataclass(frozen=True, slots=True)
class Order:
    tenant_id: str
    order_id: str
    checkout_id: str
    user_id: str
    merchant_id: str
    status: OrderStatus
    total_fen: int
    money_fen: int
    stable_fen: int
    created_at: datetime
    pay_by: datetime
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    received_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunded_at: datetime | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    rewards_journal_id: int | None = None
    rewards_points: str | None = None
    rewards_price: str | None = None
    rewards_contribution_fen: int | None = None
    rewards_booked_at: datetime | None = None
    lines: tuple[OrderLine, ...] = field(default=())
    shipping: ShippingAddress | None = None
    discount: OrderDiscount | None = None
    redemption: OrderRedemption | None = None

    @property
    def rewards_booked(self) -> bool:
        return self.rewards_journal_id is not None

    @property
    def goods_fen(self) -> int:
        """The lines' total before the discount (``total_fen`` is what the buyer pays)."""
        return self.total_fen + (0 if self.discount is None else self.discount.off_fen)
