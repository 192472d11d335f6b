"""Payouts of approved withdrawals to a payee account, and the channels' daily bills.

A person registers one payee account: a channel (``wechat``: the openid the shop's WeChat Pay
app knows them by; ``alipay``: their Alipay login) and the real name the channel checks, which
must be the name of their verified real-name (KYC) submission. An approved withdrawal is paid
to it through the ``Payouts`` port, once per payout id (the channel's idempotency key); a
manual payout is marked paid with the reference of the transfer made outside the platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

PAYOUT_CHANNELS = ("wechat", "alipay")
MANUAL = "manual"  # a payout made outside the platform, marked paid with its reference


class PayoutStatus(StrEnum):
    PROCESSING = "processing"  # sent (or about to be): the channel has not said it is done
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the money went back to the person's cash


@dataclass(frozen=True, slots=True)
class PayeeAccount:
    """Where a person's withdrawals are paid: ``account`` and ``real_name`` in clear only
    inside the unit that opened them (stored sealed); pages show ``masked``."""

    tenant_id: str
    user_id: str
    channel: str
    account: str
    real_name: str
    updated_at: datetime

    @property
    def masked(self) -> str:
        return mask_account(self.account)


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """A channel's answer to a transfer: ``succeeded``, ``processing`` or ``failed`` (with
    ``reason``); ``channel_ref`` is the channel's own id of the transfer."""

    status: PayoutStatus
    channel_ref: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Payout:
    tenant_id: str
    payout_id: str
    withdrawal_id: str
    user_id: str  # the payee: the withdrawal's requester
    channel: str  # "wechat", "alipay", or "manual"
    account_masked: str | None
    amount_fen: int
    status: PayoutStatus
    channel_ref: str | None
    reference: str | None  # a manual payout's reference
    reason: str | None  # why it failed
    attempts: int
    created_at: datetime
    updated_at: datetime


def mask_account(account: str) -> str:
    """An account shown on pages: its first 3 and last 4 characters (fewer when short)."""
    if len(account) <= 4:
        return "*" * len(account)
    if len(account) <= 8:
        return account[:1] + "*" * (len(account) - 3) + account[-2:]
    return account[:3] + "*" * min(len(account) - 7, 8) + account[-4:]


def names_match(given: str, verified: str) -> bool:
    """A payee's real name against the verified one: equal after trimming spaces (a full-width
    space too) and case (Latin names)."""

    def norm(text: str) -> str:
        return "".join(text.replace("\u3000", " ").split()).casefold()

    return norm(given) == norm(verified) and bool(norm(given))


# -- the channels' bills, for the daily reconciliation ------------------------------------------


class BillKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True, slots=True)
class BillLine:
    """One line of a channel's daily bill (or of the ledger's side of it): ``reference`` is
    the shop's own id the channel was given (a payment's id, a refund's id)."""

    kind: BillKind
    reference: str
    amount_fen: int
    channel_ref: str | None = None


class Outcome(StrEnum):
    """How one line of a day's reconciliation came out; the mismatches sort first."""

    MISSING_IN_LEDGER = "missing_in_ledger"  # the channel has it, the shop did not book it
    MISSING_AT_CHANNEL = "missing_at_channel"  # the shop booked it, the channel has no line
    AMOUNT_DIFFERS = "amount_differs"
    MATCHED = "matched"


@dataclass(frozen=True, slots=True)
class ReconLine:
    kind: BillKind
    reference: str
    outcome: Outcome
    bill_fen: int | None
    ledger_fen: int | None
    channel_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ReconReport:
    """A tenant's day through one channel: the counts of each outcome and the totals."""

    tenant_id: str
    day: date
    channel: str
    matched: int
    missing_in_ledger: int
    missing_at_channel: int
    amount_differs: int
    bill_total_fen: int
    ledger_total_fen: int
    run_at: datetime

    @property
    def mismatches(self) -> int:
        return self.missing_in_ledger + self.missing_at_channel + self.amount_differs

    @property
    def clean(self) -> bool:
        return self.mismatches == 0
