"""A redemption (提货/核销): the good of a token shipped to its owner, paid by the token.

A redemption is a mall order (``Order.redemption``) of one unit of the SKU, with the token as
its payment: its status is the order's, read through ``status_of_order``: ``requested`` (the
order is paid by the token and waits to ship; the token is ``redeeming``) → ``shipped`` →
``delivered`` (received or completed: the token burned), or ``cancelled`` before it shipped
(the token held again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RedemptionStatus(StrEnum):
    REQUESTED = "requested"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class RedemptionKind(StrEnum):
    LINKED = "linked"  # the collection's linked SKU
    VOUCHER = "voucher"  # the SKU of the collection's voucher right


_BY_ORDER = {
    "paid": RedemptionStatus.REQUESTED,
    "shipped": RedemptionStatus.SHIPPED,
    "received": RedemptionStatus.DELIVERED,
    "completed": RedemptionStatus.DELIVERED,
    "cancelled": RedemptionStatus.CANCELLED,
}


def status_of_order(order_status: str) -> RedemptionStatus:
    """The redemption's status from its order's (an order paid by a token is created paid,
    and is never refunded)."""
    found = _BY_ORDER.get(order_status)
    if found is None:
        raise ValueError(f"a redemption's order cannot be {order_status!r}")
    return found


@dataclass(frozen=True, slots=True)
class Redemption:
    tenant_id: str
    redemption_id: str
    collection_id: str
    serial: int
    user_id: str
    sku_id: str
    merchant_id: str
    kind: RedemptionKind
    status: RedemptionStatus
    recipient: str
    phone: str
    address: str
    created_at: datetime
    order_id: str  # the mall order that ships it
    carrier: str | None = None
    tracking_number: str | None = None
    closed_by: str | None = None
    shipped_at: datetime | None = None
    closed_at: datetime | None = None
