"""A person's statement (流水): every journal that moved something of theirs, one line per
journal and account, newest first. Amounts are signed minor units of the account's asset
(fen of money or of stable points, 1e-8 of a point)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from tokenmall.domain.ledger.accounts import AccountKind, Asset
from tokenmall.domain.money import format_money, format_points


class Holding(StrEnum):
    """What of a person's a line moved: the same words as the wallet."""

    POINTS = "points"  # 增值积分 (equity points)
    CASH = "cash"  # 现金 (withdrawable money)
    STABLE = "stable"  # 恒定积分 (stable points)


HOLDING_OF: dict[str, Holding] = {
    AccountKind.USER_POINTS.value: Holding.POINTS,
    AccountKind.USER_CASH.value: Holding.CASH,
    AccountKind.USER_STABLE.value: Holding.STABLE,
}
ACCOUNT_OF: dict[Holding, str] = {h: a for a, h in HOLDING_OF.items()}
ASSET_OF_HOLDING: dict[Holding, Asset] = {
    Holding.POINTS: Asset.EQUITY,
    Holding.CASH: Asset.MONEY,
    Holding.STABLE: Asset.STABLE,
}

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Movement:
    journal_id: int
    code: str  # the journal's JournalCode value
    at: datetime
    business_date: date | None
    holding: Holding
    amount: int  # signed minor units: + in, - out

    @property
    def text(self) -> str:
        """The amount as a signed decimal string (money 2 places, points 8)."""
        if self.holding is Holding.POINTS:
            return format_points(self.amount)
        return format_money(self.amount)
