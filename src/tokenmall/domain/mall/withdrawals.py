"""Withdrawals of cash, each approved by one or two admins, and a tenant's withdrawal rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class WithdrawalStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Settings:
    requires_kyc: bool
    min_amount_fen: int
    two_approver_threshold_fen: int
    updated_by: str | None
    updated_at: datetime | None


# A tenant that never changed its settings: KYC required, at least 1.00, and two approvers for
# any withdrawal above 5,000.00.
DEFAULT_SETTINGS = Settings(True, 100, 500_000, None, None)


@dataclass(frozen=True, slots=True)
class Withdrawal:
    tenant_id: str
    withdrawal_id: str
    user_id: str
    amount_fen: int
    debt_repaid_fen: int
    status: WithdrawalStatus
    approvals_required: int
    approved_by: tuple[str, ...]
    decided_by: str | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None
