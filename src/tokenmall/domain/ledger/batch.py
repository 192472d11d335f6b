"""What a tenant's book hands its writer: rows and journals to write in one transaction.

``HOLDER_FIELDS`` and ``STATE_FIELDS`` fix the column order of a holder row and of the
aggregates of a tenant's ``economy_state`` row everywhere (book snapshots, store writes, store
reads). A ``Batch`` is everything changed since the book's last ``take_batch()``.

Pure: standard library only, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, TypeAlias

from tokenmall.domain.economy.state import Holder
from tokenmall.domain.ledger.journal import JournalDraft
from tokenmall.domain.ledger.results import StoredResult

# Column order of a holder row everywhere (book snapshots, store writes, store reads).
HOLDER_FIELDS = (
    "name",
    "points",
    "cash",
    "stable",
    "quota",
    "quota_used",
    "spend",
    "dividends",
    "exited",
    "merchant",
    "referrer",
    "points_seq",
)

# The cashflow aggregates of ``EconomyState`` (domain/economy/cashflow.py).
CASHFLOW_FIELDS = (
    "escrow",
    "commissions_frozen",
    "commissions_paid",
    "withdrawing",
    "withdrawn",
    "receivables",
    "cash_out",
)

# The market's money aggregates of ``EconomyState`` (domain/economy/market_cash.py).
MARKET_FIELDS = ("market_deposits", "market_escrow", "market_fees", "royalties")

# The aggregates of ``EconomyState`` kept in the tenant's economy_state row.
STATE_FIELDS = (
    "pool",
    "circulating",
    "minted",
    "burned",
    "treasury",
    "dividend_pool",
    "stable_outstanding",
    "money_in",
    "revenue",
    "dividends_paid",
    "buybacks_paid",
    *CASHFLOW_FIELDS,
    *MARKET_FIELDS,
    "last_price_num",
    "last_price_den",
    "seq",
    "last_day",
)


holder_row: Callable[[Holder], tuple[Any, ...]] = attrgetter(*HOLDER_FIELDS)
"""A holder as a row (HOLDER_FIELDS order)."""


def holder_from_row(row: Sequence[Any]) -> Holder:
    h = Holder(row[0])
    (
        _,
        h.points,
        h.cash,
        h.stable,
        h.quota,
        h.quota_used,
        h.spend,
        h.dividends,
        exited,
        merchant,
        h.referrer,
        h.points_seq,
    ) = row
    h.exited, h.merchant = bool(exited), bool(merchant)
    return h


@dataclass(frozen=True, slots=True)
class Applied:
    """What a command did: its result (the caller's answer) and the journal to write.

    ``journal`` is None when the command repeated a key already applied in this batch with the
    same request: the result is then the first one and nothing changed.
    """

    result: StoredResult
    journal: JournalDraft | None
    journal_id: int | None


@dataclass(frozen=True, slots=True)
class BookedJournal:
    journal_id: int
    draft: JournalDraft


@dataclass(frozen=True, slots=True)
class ParamsRow:
    version: int
    params: dict[str, Any]  # Params.to_public()
    journal_id: int
    changed_by: str


StateRow: TypeAlias = dict[str, int | None]
"""A tenant's ``economy_state`` row: ``STATE_FIELDS``, ``last_journal_id``, ``params_version``."""


@dataclass(slots=True)
class Batch:
    """Everything to write since the last ``take_batch()``: one transaction's worth."""

    tenant_id: str
    state: StateRow
    holders: list[tuple[Any, ...]] = field(default_factory=list)  # HOLDER_FIELDS order
    journals: list[BookedJournal] = field(default_factory=list)
    params: list[ParamsRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.journals
