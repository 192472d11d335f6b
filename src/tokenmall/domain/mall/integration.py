"""Orders pushed by an integrated shop: its users as ours, and each order's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class IntegrationState(StrEnum):
    PAID = "paid"
    COMPLETED = "completed"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class ExternalUser:
    external_id: str
    user_id: str
    referrer_user_id: str | None


@dataclass(frozen=True, slots=True)
class IntegrationOrder:
    tenant_id: str
    external_order_id: str
    order_ref: str
    user_id: str
    external_user_id: str
    amount_fen: int
    contribution_fen: int | None
    state: IntegrationState
    booked: bool
    refunded_fen: int
    rewards: dict[str, Any] | None
    paid_at: datetime
    booked_at: datetime | None
    completed_at: datetime | None
    refunded_at: datetime | None
