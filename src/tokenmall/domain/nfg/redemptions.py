"""A redemption (提货/核销): the good of a token shipped to its owner, paid by the token.

Statuses: ``requested`` (the token is ``redeeming``) → ``shipped`` → ``delivered`` (the token
burned), or ``cancelled`` before delivery (the token held again).
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
    carrier: str | None = None
    tracking_number: str | None = None
    closed_by: str | None = None
    shipped_at: datetime | None = None
    closed_at: datetime | None = None
