"""The wallet's and the settlement's ports of the unit of work, and their typed answers.

* ``trades``: what backs the price (the solvency figures), the cash a member has asked to
  withdraw, and the wallet's ledger steps: a sell or a conversion tried on a throwaway book
  (a preview), or run as a balanced journal, and a merchant's redemption of stable points;
* ``settlement``: the tenant's settled business days, and the ledger's ``SettleDay``.

Every answer holds integers: fen, 1e-8 point units, the price as the exact fraction
``num/den`` (fen per point unit) or, as a journal records it, in 1e-8 yuan per point.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from tokenmall.adapters.db.uow_wallet import Exit, SettledDay
from tokenmall.domain.economy.health import Health
from tokenmall.domain.economy.params import Params
from tokenmall.domain.ledger import commands as c

__all__ = ["Exit", "Redeemed", "SettledDay", "Settlements", "Traded", "Trades"]


@dataclass(frozen=True, slots=True)
class Traded:
    """A sell or a conversion the ledger ran (or would run now): the points it took, the fen
    the holder received (sell: cash; conversion: stable points), the price it ran at, the
    parameters in force (their fee rates) and its journal (None: a preview)."""

    points: int
    received: int
    price: tuple[int, int]
    params: Params
    journal_id: int | None = None


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A merchant's redemption: the stable fen paid in, the points received, the price the
    journal recorded (1e-8 yuan per point) and the journal."""

    amount: int
    points: int
    price_e8: int
    journal_id: int


class Trades(Protocol):
    def solvency(self, tenant_id: str, now: datetime) -> Health:
        """What backs the price and what the quota is (the tenant's health figures)."""

    def window_days(self) -> int:
        """The days over which ``solvency`` measures the inflow."""

    def withdrawing(self, tenant_id: str, user_id: str) -> int:
        """The fen of the user's withdrawals still pending."""

    def preview(self, command: c.Sell | c.Convert) -> Traded:
        """Apply ``command`` to a freshly loaded book and throw the book away."""

    def trade(self, command: c.Sell | c.Convert) -> Traded:
        """Take the tenant's write lock, then run ``command`` as one balanced journal."""

    def redeem(self, command: c.RedeemStable) -> Redeemed:
        """Run the redemption as one balanced journal."""


class Settlements(Protocol):
    def is_settled(self, tenant_id: str, day: date) -> bool: ...

    def is_mall_tenant(self, tenant_id: str) -> bool:
        """Whether the tenant is a mall's (its events go to its webhook endpoints)."""

    def settle(self, tenant_id: str, day: date) -> SettledDay:
        """Run the ledger's ``SettleDay`` under the tenant's write lock (a settled day answers
        its first result)."""

    def exits(self, tenant_id: str, exit_journal_id: int) -> list[Exit]:
        """The forced exits booked by the exit journal, by holder name."""

    def settled(self, tenant_id: str, after: date | None, limit: int) -> list[SettledDay]:
        """The settled days after ``after``, oldest first."""
