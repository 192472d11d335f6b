"""Withdrawals of cash, each approved by one or two admins, and a tenant's withdrawal rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class WithdrawalStatus(StrEnum):
    PENDING = "pending"
    PAYING = "paying"  # approved; its payout through a channel has not finished
    PAID = "paid"
    REJECTED = "rejected"
    FAILED = "failed"  # its payout failed: the held cash went back to the person


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
    # A store's withdrawal: its owner (``user_id``) asks for the merchant's cash (its paid
    # royalties); None: the member's own cash.
    merchant_id: str | None = None

    @property
    def holder(self) -> str:
        """Whose cash the withdrawal holds and pays out: the store's, or the member's."""
        return self.user_id if self.merchant_id is None else self.merchant_id


# A raised threshold (fewer withdrawals needing two approvers) takes effect only after this long:
# until then the lowest threshold in force during the window applies. A lowered one applies at
# once.
THRESHOLD_COOLING = timedelta(hours=24)


def approvals_needed(amount_fen: int, threshold_fen: int) -> int:
    return 2 if amount_fen > threshold_fen else 1


def effective_threshold(current_fen: int, in_force_recently: Iterable[int]) -> int:
    """The threshold that applies: the strictest of the current one and those in force during
    the cooling window (so raising it just before asking does not help)."""
    return min([current_fen, *in_force_recently])


@dataclass(frozen=True, slots=True)
class AdminHistory:
    """What the audit trail says about an admin, for the two-person rule."""

    user_id: str
    sponsors: frozenset[str]  # who created this user or made them admin
    admin_since: datetime | None  # when they last became admin; None if before the trail


def approver_refusal(
    *,
    requester: str,
    requested_at: datetime,
    approver: AdminHistory,
) -> str | None:
    """Why ``approver`` may not approve a withdrawal of ``requester`` (None if they may).

    Two-person control means another person: not the requester, nor an admin the requester
    created or promoted, nor one who became admin after the request.
    """
    if approver.user_id == requester:
        return "you cannot approve your own withdrawal; another admin must"
    if requester in approver.sponsors:
        return "an admin the requester created or made admin may not approve their withdrawal"
    if approver.admin_since is not None and approver.admin_since > requested_at:
        return "an admin who became admin after the withdrawal was requested may not approve it"
    return None
