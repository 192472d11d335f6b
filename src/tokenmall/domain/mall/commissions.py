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


@dataclass(frozen=True, slots=True)
class CommissionTotals:
    """Fen of a referrer's commissions by status, and of the clawed-back ones what came out
    of their cash and what was left as their debt."""

    frozen: int
    released: int
    clawed_back: int
    from_cash: int
    debt: int
    count: int


@dataclass(frozen=True, slots=True)
class RewardRow:
    """A referral point grant (level >= 1) of a purchase journal, as the mall indexes it."""

    order_ref: str
    level: int
    beneficiary: str
    buyer: str
    points_units: int
    journal_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewCommission:
    """A commission as it is frozen at booking."""

    order_ref: str
    level: int
    beneficiary: str
    buyer: str
    amount_fen: int
    status: CommissionStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TakenBack:
    """A released commission taken back: what came out of the referrer's cash, and what
    their cash could not cover (their debt), in fen."""

    holder: str
    from_cash_fen: int
    debt_fen: int
