"""Request and response models of the integration API, outgoing webhooks and settlements.

As in ``schemas.py``: requests refuse unknown fields and coerce nothing; money is a decimal
string both ways (parsed by ``domain.money`` in the services).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from tokenmall.domain.ledger.results import Purchased
from tokenmall.domain.mall.integration import IntegrationOrder
from tokenmall.domain.mall.webhooks import Attempt, Delivery, Endpoint
from tokenmall.domain.money import format_money, format_points
from tokenmall.web.api.schemas import MoneyText, Request, Response

ExternalId = Annotated[
    str,
    Field(
        max_length=64,
        description="The shop's own id: 1-64 of A-Z a-z 0-9 . _ : @ -",
        examples=["U1001"],
    ),
]
EventType = Literal[
    "order.paid",
    "order.completed",
    "order.refunded",
    "points.granted",
    "dividend.paid",
    "holder.exited",
    "integration.cap_exceeded",
]
PointsText = Annotated[str, Field(description='Points, 8 places, such as "21.00000000"')]

# --- the integration API ---


class ExternalUserIn(Request):
    external_id: ExternalId
    display_name: Annotated[str, Field(max_length=100)] = ""
    referrer_external_id: ExternalId | None = Field(
        default=None, description="Who referred this user, bound once (the ledger's Join)"
    )


class OrderPaidIn(Request):
    user: ExternalUserIn
    amount: MoneyText
    contribution: MoneyText | None = Field(
        default=None,
        description="Fixed money to the backing pool instead of amount × pool_rate",
    )


class BatchPaidOrderIn(OrderPaidIn):
    external_order_id: ExternalId


class BatchPaidIn(Request):
    orders: Annotated[
        list[BatchPaidOrderIn],
        Field(
            min_length=1,
            max_length=100,
            description="1-100 paid orders, each as the single paid event's body with its "
            "external_order_id; ids unique in the batch",
        ),
    ]


class OrderCompletedIn(Request):
    """No fields: completing an order carries no data (an empty object or no body)."""


class OrderRefundedIn(Request):
    amount: MoneyText | None = Field(
        default=None, description="Defaults to the whole order; partial only once booked"
    )
    adjustment: bool = Field(
        default=False,
        description="Required (true) to refund an order whose rewards are booked: an admin's "
        "audited adjustment out of revenue that takes the order's rewards back (rule 9)",
    )


class GrantOut(Response):
    user_id: str
    external_id: str | None
    level: int = Field(description="0 the buyer, 1.. the referrers above")
    points: PointsText


class RewardsOut(Response):
    points_granted: list[GrantOut]
    buyer_points: PointsText
    price: str = Field(description="The equity point's price after the purchase")
    quota_added: MoneyText
    pool_contribution: MoneyText
    dividend_contribution: MoneyText
    revenue: MoneyText


class IntegrationUserOut(Response):
    external_id: str
    user_id: str


class IntegrationOrderOut(Response):
    external_order_id: str
    order_ref: str = Field(description="The ledger's reference of the order")
    event: Literal["paid", "completed", "refunded"] | None
    state: Literal["paid", "completed", "refunded"]
    user: IntegrationUserOut
    amount: MoneyText
    contribution: MoneyText | None
    refunded: MoneyText
    rewards_booked: bool
    rewards: RewardsOut | None
    paid_at: datetime
    booked_at: datetime | None
    completed_at: datetime | None
    refunded_at: datetime | None


class IntegrationViews:
    """An integrated order and its rewards as JSON (``IntegrationOrderOut``,
    ``RewardsOut``): the one place their integers become text. The use cases are handed it
    (``services/mall/integration.py``'s ``OrderViews``): the answers they store, which a
    replay sends again, and their outgoing events are its text."""

    @staticmethod
    def order(order: IntegrationOrder, event: str | None) -> dict[str, Any]:
        return {
            "external_order_id": order.external_order_id,
            "order_ref": order.order_ref,
            "event": event,
            "state": order.state,
            "user": {"external_id": order.external_user_id, "user_id": order.user_id},
            "amount": format_money(order.amount_fen),
            "contribution": None
            if order.contribution_fen is None
            else format_money(order.contribution_fen),
            "refunded": format_money(order.refunded_fen),
            "rewards_booked": order.booked,
            "rewards": order.rewards,
            "paid_at": order.paid_at.isoformat(),
            "booked_at": _time(order.booked_at),
            "completed_at": _time(order.completed_at),
            "refunded_at": _time(order.refunded_at),
        }

    @staticmethod
    def rewards(purchase: Purchased, external_ids: dict[str, str]) -> dict[str, Any]:
        return {
            "points_granted": [
                {
                    "user_id": g.holder,
                    "external_id": external_ids.get(g.holder),
                    "level": g.level,
                    "points": format_points(g.points),
                }
                for g in purchase.grants
            ],
            "buyer_points": format_points(purchase.buyer_points),
            "price": format_points(purchase.price),  # yuan per point, 8 places
            "quota_added": format_money(purchase.quota_added),
            "pool_contribution": format_money(purchase.contribution),
            "dividend_contribution": format_money(purchase.dividend),
            "revenue": format_money(purchase.revenue),
        }


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


VIEWS = IntegrationViews()


class BatchErrorOut(Response):
    code: str
    message: str
    field: str | None = None


class BatchItemOut(Response):
    external_order_id: str
    status: int = Field(
        description="201 written now, 200 replayed (the first answer to the same event), or "
        "the error's status (409 a conflict, 422 refused by the economy…)"
    )
    replayed: bool
    order: IntegrationOrderOut | None
    error: BatchErrorOut | None


class BatchPaidOut(Response):
    results: list[BatchItemOut] = Field(description="One result per order, in the request's order")


# --- webhooks ---


class WebhookEndpointIn(Request):
    url: Annotated[str, Field(max_length=2000, examples=["https://shop.example/hooks/tokenmall"])]
    event_types: Annotated[list[EventType], Field(min_length=1, max_length=6)]
    description: Annotated[str, Field(max_length=200)] = ""


class WebhookEndpointOut(Response):
    endpoint_id: str
    url: str
    event_types: list[EventType]
    description: str
    created_by: str
    created_at: datetime
    deleted_at: datetime | None

    @classmethod
    def of(cls, e: Endpoint) -> WebhookEndpointOut:
        return cls(
            endpoint_id=e.endpoint_id,
            url=e.url,
            event_types=list(e.event_types),  # type: ignore[arg-type]
            description=e.description,
            created_by=e.created_by,
            created_at=e.created_at,
            deleted_at=e.deleted_at,
        )


class WebhookEndpointCreatedOut(Response):
    endpoint: WebhookEndpointOut
    secret: str | None = Field(
        description="The signing secret, shown once; null when this is a replay"
    )


class WebhookEndpointPage(Response):
    items: list[WebhookEndpointOut]
    next_after: str | None


class AttemptOut(Response):
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, a: Attempt) -> AttemptOut:
        return cls(
            attempt=a.attempt,
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            error=a.error,
            duration_ms=a.duration_ms,
        )


class DeliveryOut(Response):
    delivery_id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: Literal["pending", "delivered", "failed"]
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, d: Delivery, attempts: list[Attempt]) -> DeliveryOut:
        return cls(
            delivery_id=d.delivery_id,
            event_id=d.event_id,
            event_type=d.event_type,
            endpoint_id=d.endpoint_id,
            status=d.status,  # type: ignore[arg-type]
            attempt_count=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
            attempts=[AttemptOut.of(a) for a in attempts],
        )


class DeliveryPage(Response):
    items: list[DeliveryOut]
    next_after: str | None


class EventOut(Response):
    event_id: str
    event_type: str
    created_at: datetime
    data: dict[str, object]


class EventPage(Response):
    items: list[EventOut]
    next_after: str | None


# --- settlements ---


class SettlementIn(Request):
    business_date: Annotated[
        str, Field(max_length=10, description="YYYY-MM-DD", examples=["2026-11-29"])
    ]


class SettlementOut(Response):
    business_date: str
    dividend_journal_id: int
    distributed: MoneyText
    recipients: int
    dividend_pool_left: MoneyText
    exits: int
    exit_points: PointsText
    exit_payout: MoneyText
    price: str
    settled_now: bool | None = Field(
        description="On POST: false when the day was already settled (nothing changed); "
        "null in listings"
    )


class SettlementPage(Response):
    items: list[SettlementOut]
    next_after: str | None
