"""Referral commissions: frozen when an order is paid, released or clawed back later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CommissionStatus(StrEnum):
    FROZEN = "frozen"
    RELEASED = "released"
    CLAWED_BACK = "clawed_back"


@dataclass(frozen=True, slots=True)
class CommissionRow:
    order_ref: str
    level: int
    beneficiary: str
    buyer: str
    amount_fen: int
    status: CommissionStatus
    from_cash_fen: int | None
    debt_fen: int | None
    created_at: datetime
    updated_at: datetime
