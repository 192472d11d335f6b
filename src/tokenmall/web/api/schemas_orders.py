"""Request and response models of carts, orders and payments (see web/api/schemas.py's rules:
unknown fields refused, nothing coerced, money as decimal strings both ways)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from tokenmall.domain.mall.orders import (
    Order,
    OrderEvent,
    OrderLine,
    OrderSettings,
    ShippingAddress,
)
from tokenmall.domain.mall.payments import Payment
from tokenmall.domain.mall.refunds import Refund
from tokenmall.domain.money import format_money
from tokenmall.services.mall.cart import Cart, PricedLine
from tokenmall.services.mall.order_refunds import RefundPreview
from tokenmall.services.unit_of_work_orders import CallbackSeen
from tokenmall.web.api.schemas import MoneyText, Quantity, Request, Response

OrderStatus = Literal[
    "created", "paid", "shipped", "received", "completed", "cancelled", "refunded"
]
PaymentStatus = Literal["pending", "failed", "succeeded", "refunded", "closed"]
RefundStatus = Literal["requested", "processing", "succeeded", "failed", "abandoned", "rejected"]
SkuId = Annotated[str, Field(max_length=40)]
Note = Annotated[str, Field(max_length=500)]


def _money(fen: int | None) -> str | None:
    return None if fen is None else format_money(fen)


# --- cart ---


class CartLineIn(Request):
    sku_id: SkuId
    quantity: Quantity = Field(description="Units to add (1 to 9999 a line)")


class CartLinePatch(Request):
    quantity: Quantity = Field(description="The line's new quantity (1 to 9999)")


class CartLineOut(Response):
    sku_id: str
    product_id: str
    merchant_id: str
    title: str
    sku_name: str
    unit_price: str
    quantity: int
    line_total: str
    available: bool = Field(description="On sale and in stock for this quantity right now")
    added_at: datetime

    @classmethod
    def of(cls, line: PricedLine) -> CartLineOut:
        return cls(
            sku_id=line.sku.sku_id,
            product_id=line.product.product_id,
            merchant_id=line.product.merchant_id,
            title=line.product.title,
            sku_name=line.sku.name,
            unit_price=format_money(line.sku.price_fen),
            quantity=line.quantity,
            line_total=format_money(line.line_total_fen),
            available=line.available,
            added_at=line.added_at,
        )


class CartOut(Response):
    lines: list[CartLineOut]
    total: str

    @classmethod
    def of(cls, cart: Cart) -> CartOut:
        return cls(
            lines=[CartLineOut.of(line) for line in cart.lines], total=format_money(cart.total_fen)
        )


# --- checkout and orders ---


class CheckoutLineIn(Request):
    sku_id: SkuId
    quantity: Quantity


class CheckoutIn(Request):
    lines: Annotated[list[CheckoutLineIn] | None, Field(max_length=50)] = Field(
        default=None, description="What to buy; omitted: everything in the cart (then emptied)"
    )
    payment_method: Literal["money", "stable", "mixed"] = Field(
        default="money",
        description="money: all through the payment gateway; stable: all in stable points "
        "(恒定积分); mixed: stable_amount in stable points, the rest through the gateway",
    )
    stable_amount: MoneyText | None = Field(
        default=None,
        description="With mixed: how much of the checkout's total to pay in stable "
        "points (spread over its orders in merchant order)",
    )
    address_id: Annotated[str, Field(max_length=40)] | None = Field(
        default=None,
        description="Ship to this address of your address book (GET /me/addresses); omitted: "
        "your default address if you have one, else the orders carry no address",
    )


class OrderLineOut(Response):
    line_no: int
    sku_id: str
    product_id: str
    title: str
    sku_name: str
    unit_price: str
    quantity: int
    line_total: str
    pool_contribution: str | None = Field(description="Fixed contribution per unit, if any")

    @classmethod
    def of(cls, line: OrderLine) -> OrderLineOut:
        return cls(
            line_no=line.line_no,
            sku_id=line.sku_id,
            product_id=line.product_id,
            title=line.title,
            sku_name=line.sku_name,
            unit_price=format_money(line.unit_price_fen),
            quantity=line.quantity,
            line_total=format_money(line.line_total_fen),
            pool_contribution=_money(line.pool_contribution_fen),
        )


class RewardsOut(Response):
    booked: bool
    booked_at: datetime | None
    journal_id: int | None = Field(description="The ledger's purchase journal")
    points: str | None = Field(description="Equity points granted to the buyer")
    price: str | None = Field(description="The price they were granted at")
    contribution: str | None = Field(description="Money added to the backing pool")


class ShippingAddressOut(Response):
    recipient: str
    phone: str
    address: str = Field(description="Region, street and postal code as one text")

    @classmethod
    def of(cls, value: ShippingAddress | None) -> ShippingAddressOut | None:
        if value is None:
            return None
        return cls(recipient=value.recipient, phone=value.phone, address=value.address)


class OrderDiscountOut(Response):
    collection_id: str = Field(description="The NFG collection whose discount right applied")
    serial: int = Field(description="The serial of the buyer's held token")
    token: str = Field(description="The token, as collection/serial")
    rate_bps: int = Field(description="The discount rate in basis points (100 = 1 %)")
    amount: str = Field(description="Money off the order's goods (rounded down)")
    goods_total: str = Field(description="The lines' total before the discount")

    @classmethod
    def of(cls, order: Order) -> OrderDiscountOut | None:
        found = order.discount
        if found is None:
            return None
        return cls(
            collection_id=found.collection_id,
            serial=found.serial,
            token=f"{found.collection_id}/{found.serial}",
            rate_bps=found.discount_bps,
            amount=format_money(found.off_fen),
            goods_total=format_money(order.goods_fen),
        )


class OrderRedemptionOut(Response):
    redemption_id: str = Field(description="The NFG redemption (提货) this order ships")
    collection_id: str
    serial: int
    token: str = Field(description="The token redeemed, as collection/serial")
    paid_by: str = Field(
        description="Always 'nfg_redemption': the token pays; the order's total is 0 and no "
        "money or points move for it (no rewards, quota, dividends or commissions)"
    )

    @classmethod
    def of(cls, order: Order) -> OrderRedemptionOut | None:
        found = order.redemption
        if found is None:
            return None
        return cls(
            redemption_id=found.redemption_id,
            collection_id=found.collection_id,
            serial=found.serial,
            token=f"{found.collection_id}/{found.serial}",
            paid_by="nfg_redemption",
        )


class OrderOut(Response):
    order_id: str
    checkout_id: str
    user_id: str
    merchant_id: str
    status: OrderStatus
    total: str
    money_amount: str = Field(description="Paid through the gateway")
    stable_amount: str = Field(description="Paid in stable points (恒定积分)")
    created_at: datetime
    pay_by: datetime = Field(description="Cancelled automatically if not paid by then")
    paid_at: datetime | None
    shipped_at: datetime | None
    received_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    refunded_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    shipping_address: ShippingAddressOut | None = Field(
        description="A snapshot of the address chosen at checkout (later edits of the address "
        "book do not change it); null: checked out without an address"
    )
    lines: list[OrderLineOut]
    rewards: RewardsOut
    nfg_discount: OrderDiscountOut | None = Field(
        default=None,
        description="The held NFG token whose discount right lowered the order (at most one); "
        "``total`` is after it. Null: no discount",
    )
    nfg_redemption: OrderRedemptionOut | None = Field(
        default=None,
        description="The NFG token this order redeems (提货): paid by the token, total 0, "
        "never refunded; cancelled before it ships, the token is held again. Null: an "
        "ordinary order",
    )

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        return cls(
            order_id=order.order_id,
            checkout_id=order.checkout_id,
            user_id=order.user_id,
            merchant_id=order.merchant_id,
            status=order.status,  # type: ignore[arg-type]
            total=format_money(order.total_fen),
            money_amount=format_money(order.money_fen),
            stable_amount=format_money(order.stable_fen),
            created_at=order.created_at,
            pay_by=order.pay_by,
            paid_at=order.paid_at,
            shipped_at=order.shipped_at,
            received_at=order.received_at,
            completed_at=order.completed_at,
            cancelled_at=order.cancelled_at,
            refunded_at=order.refunded_at,
            carrier=order.carrier,
            tracking_number=order.tracking_number,
            shipping_address=ShippingAddressOut.of(order.shipping),
            lines=[OrderLineOut.of(line) for line in order.lines],
            rewards=RewardsOut(
                booked=order.rewards_booked,
                booked_at=order.rewards_booked_at,
                journal_id=order.rewards_journal_id,
                points=order.rewards_points,
                price=order.rewards_price,
                contribution=_money(order.rewards_contribution_fen),
            ),
            nfg_discount=OrderDiscountOut.of(order),
            nfg_redemption=OrderRedemptionOut.of(order),
        )


class OrderEventOut(Response):
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: str = Field(description="A user id, 'system', or 'gateway:<name>'")
    note: str | None
    at: datetime

    @classmethod
    def of(cls, event: OrderEvent) -> OrderEventOut:
        return cls(
            from_status=event.from_status,  # type: ignore[arg-type]
            to_status=event.to_status,  # type: ignore[arg-type]
            actor=event.actor,
            note=event.note,
            at=event.created_at,
        )


class PaymentOut(Response):
    payment_id: str
    order_id: str
    gateway: str
    status: PaymentStatus
    amount: str
    redirect_url: str = Field(description="Send the payer here (the gateway's payment page)")
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            payment_id=payment.payment_id,
            order_id=payment.order_id,
            gateway=payment.gateway,
            status=payment.status,  # type: ignore[arg-type]
            amount=format_money(payment.amount_fen),
            redirect_url=payment.redirect_url,
            failure_reason=payment.failure_reason,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
            succeeded_at=payment.succeeded_at,
        )


class CallbackOut(Response):
    callback_id: str
    event_id: str | None
    outcome: Literal["accepted", "refused"]
    reason: str
    received_at: datetime

    @classmethod
    def of(cls, seen: CallbackSeen) -> CallbackOut:
        return cls.model_validate(
            {
                "callback_id": seen.callback_id,
                "event_id": seen.event_id,
                "outcome": seen.outcome,
                "reason": seen.reason,
                "received_at": seen.received_at,
            }
        )


class PaymentDetailOut(PaymentOut):
    callbacks: list[CallbackOut]


class RefundOut(Response):
    refund_id: str
    order_id: str
    payment_id: str | None
    status: RefundStatus
    money_amount: str
    stable_amount: str
    reason: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    adjustment: bool = Field(
        description="The rewards were booked: an admin's audited adjustment (economy rule 9)"
    )
    attempt: int = Field(
        1, description="The try at the payment channel: a failed refund retried is the next"
    )
    failure_reason: str | None = Field(None, description="Why the channel failed the refund")

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        return cls(
            refund_id=refund.refund_id,
            order_id=refund.order_id,
            payment_id=refund.payment_id,
            status=refund.status,  # type: ignore[arg-type]
            money_amount=format_money(refund.money_fen),
            stable_amount=format_money(refund.stable_fen),
            reason=refund.reason,
            requested_by=refund.requested_by,
            requested_at=refund.requested_at,
            decided_by=refund.decided_by,
            decided_at=refund.decided_at,
            decision_note=refund.decision_note,
            adjustment=refund.adjustment,
            attempt=refund.attempt,
            failure_reason=refund.failure_reason,
        )


class OrderDetailOut(OrderOut):
    history: list[OrderEventOut]
    payments: list[PaymentOut]
    refunds: list[RefundOut]


class CheckoutOut(Response):
    checkout_id: str
    orders: list[OrderOut]
    payments: list[PaymentOut] = Field(description="One per order with a money part, to pay")


class OrderPage(Response):
    items: list[OrderOut]
    next_after: str | None


class CancelIn(Request):
    reason: Note | None = None


class ShipIn(Request):
    carrier: Annotated[str, Field(max_length=100)] | None = None
    tracking_number: Annotated[str, Field(max_length=100)] | None = None


class RefundRequestIn(Request):
    reason: Note


class RefundDecisionIn(Request):
    note: Note | None = None


class RefundAbandonIn(Request):
    reason: Note


class RefundDecidedOut(Response):
    order: OrderOut
    refund: RefundOut


# --- settings and the scheduler ---


class OrderSettingsIn(Request):
    return_window_days: int | None = Field(
        default=None, description="Days after receipt before an order completes (0 to 365)"
    )
    payment_timeout_minutes: int | None = Field(
        default=None, description="Minutes to pay before an order is cancelled (1 to 10080)"
    )
    auto_confirm_days: int | None = Field(
        default=None, description="Days after shipping before receipt is confirmed (1 to 365)"
    )


class OrderSettingsOut(Response):
    return_window_days: int
    payment_timeout_minutes: int
    auto_confirm_days: int

    @classmethod
    def of(cls, value: OrderSettings) -> OrderSettingsOut:
        return cls(
            return_window_days=value.return_window_days,
            payment_timeout_minutes=value.payment_timeout_minutes,
            auto_confirm_days=value.auto_confirm_days,
        )


class DueRunOut(Response):
    cancelled: int = Field(description="Unpaid orders cancelled: their payment time ran out")
    completed: int = Field(description="Orders completed: their return window is over")


class WebhookOut(Response):
    status: Literal["accepted"] = "accepted"
    event_id: str
    payment_id: str
    payment_status: PaymentStatus
    order_id: str
    order_status: OrderStatus
    outcome: str


def refund_preview(found: RefundPreview) -> dict[str, Any]:
    """What approving a refund would do, its money as decimal strings (the API's preview body
    and the console's page)."""
    return {
        "order_id": found.order_id,
        "refund_id": found.refund_id,
        "money": format_money(found.money_fen),
        "stable": format_money(found.stable_fen),
        "stock_back": found.stock_back,
        "rewards_booked": found.rewards_booked,
        "admin_only": found.admin_only,
        "rewards": found.rewards,
        "commissions": [
            {
                "beneficiary": claw.beneficiary,
                "level": claw.level,
                "amount": format_money(claw.amount_fen),
                "source": "frozen" if claw.frozen else "cash_or_debt",
            }
            for claw in found.commissions
        ],
    }
