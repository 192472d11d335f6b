"""Payments of orders through a gateway, and the gateway's callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    REFUNDED = "refunded"
    CLOSED = "closed"


class CallbackOutcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Payment:
    tenant_id: str
    payment_id: str
    order_id: str
    gateway: str
    status: PaymentStatus
    amount_fen: int
    provider_ref: str
    redirect_url: str
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None
