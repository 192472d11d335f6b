"""Refunds of orders: requested by the buyer (or made by an admin), then decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Refund:
    tenant_id: str
    refund_id: str
    order_id: str
    payment_id: str | None
    status: RefundStatus
    money_fen: int
    stable_fen: int
    reason: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    adjustment: bool
    provider_ref: str | None
