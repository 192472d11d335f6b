"""Assets and account kinds. A user's account is (kind, holder name); a pool's has no holder.

Sign convention: a posting adds its signed amount to its account's balance. Users' and pools'
balances are what they hold (never negative). The issuance and clearing accounts are the other
side: ``supply`` is minus the equity points in circulation (mints post negative, burns
positive), ``stable_supply`` is minus the stable points outstanding, ``gateway_clearing`` is
minus the new money received from payment gateways, ``receivables`` minus what users owe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class Asset(StrEnum):
    MONEY = "money"  # fen
    EQUITY = "equity"  # 1e-8 equity point units
    STABLE = "stable"  # fen of stable points (pegged 1:1 to money)


class AccountKind(StrEnum):
    USER_POINTS = "user_points"  # EQUITY held by a user
    USER_CASH = "user_cash"  # MONEY a user may withdraw (buybacks, dividends)
    USER_STABLE = "user_stable"  # STABLE held by a user or merchant
    BACKING_POOL = "backing_pool"  # MONEY backing every circulating point (底池)
    DIVIDEND_POOL = "dividend_pool"  # MONEY waiting to be shared out (分红池)
    TREASURY = "treasury"  # EQUITY the platform holds from conversions (平台库存)
    SUPPLY = "supply"  # EQUITY issuance: minus what circulates
    STABLE_SUPPLY = "stable_supply"  # STABLE issuance: minus what is outstanding
    REVENUE = "revenue"  # MONEY of booked orders due to merchants and the platform
    FEES = "fees"  # MONEY fees taken out of the pools (none: a buyback fee goes to a pool)
    GATEWAY_CLEARING = "gateway_clearing"  # MONEY: minus new money received from gateways
    WITHDRAWALS = "withdrawals"  # MONEY paid out of users' cash balances to their banks
    ORDER_ESCROW = "order_escrow"  # MONEY paid for orders whose rewards are not booked yet
    COMMISSIONS_FROZEN = "commissions_frozen"  # MONEY of commissions until orders complete
    WITHDRAWAL_HOLD = "withdrawal_hold"  # MONEY of cash held for withdrawals being approved
    RECEIVABLES = "receivables"  # MONEY: minus what users owe (clawbacks beyond their cash)
    MARKET_ESCROW = "market_escrow"  # MONEY reserved by open market bids (求购)
    MARKET_FEES = "market_fees"  # MONEY: the platform's market fees
    ROYALTIES = "royalties"  # MONEY: issuers' royalties (per issuer: the market's trades)


USER_KINDS = frozenset({AccountKind.USER_POINTS, AccountKind.USER_CASH, AccountKind.USER_STABLE})

# The one asset each account kind may hold.
ASSET_OF: dict[AccountKind, Asset] = {
    AccountKind.USER_POINTS: Asset.EQUITY,
    AccountKind.USER_CASH: Asset.MONEY,
    AccountKind.USER_STABLE: Asset.STABLE,
    AccountKind.BACKING_POOL: Asset.MONEY,
    AccountKind.DIVIDEND_POOL: Asset.MONEY,
    AccountKind.TREASURY: Asset.EQUITY,
    AccountKind.SUPPLY: Asset.EQUITY,
    AccountKind.STABLE_SUPPLY: Asset.STABLE,
    AccountKind.REVENUE: Asset.MONEY,
    AccountKind.FEES: Asset.MONEY,
    AccountKind.GATEWAY_CLEARING: Asset.MONEY,
    AccountKind.WITHDRAWALS: Asset.MONEY,
    AccountKind.ORDER_ESCROW: Asset.MONEY,
    AccountKind.COMMISSIONS_FROZEN: Asset.MONEY,
    AccountKind.WITHDRAWAL_HOLD: Asset.MONEY,
    AccountKind.RECEIVABLES: Asset.MONEY,
    AccountKind.MARKET_ESCROW: Asset.MONEY,
    AccountKind.MARKET_FEES: Asset.MONEY,
    AccountKind.ROYALTIES: Asset.MONEY,
}


@dataclass(frozen=True, slots=True)
class Account:
    kind: AccountKind
    holder: str = ""  # a user's name for USER_* kinds, empty for the platform's accounts

    def __post_init__(self) -> None:
        assert (self.kind in USER_KINDS) == bool(self.holder), f"bad account {self!r}"

    @property
    def asset(self) -> Asset:
        return ASSET_OF[self.kind]

    def __str__(self) -> str:
        return f"{self.kind}:{self.holder}" if self.holder else str(self.kind)


# A user's accounts are immutable values: the recent ones are shared, not made again for each
# posting (a purchase names its buyer's and referrers' points accounts).
_RECENT_USERS = 1 << 16


@lru_cache(maxsize=_RECENT_USERS)
def points(holder: str) -> Account:
    return Account(AccountKind.USER_POINTS, holder)


@lru_cache(maxsize=_RECENT_USERS)
def cash(holder: str) -> Account:
    return Account(AccountKind.USER_CASH, holder)


@lru_cache(maxsize=_RECENT_USERS)
def stable(holder: str) -> Account:
    return Account(AccountKind.USER_STABLE, holder)


BACKING_POOL = Account(AccountKind.BACKING_POOL)
DIVIDEND_POOL = Account(AccountKind.DIVIDEND_POOL)
TREASURY = Account(AccountKind.TREASURY)
SUPPLY = Account(AccountKind.SUPPLY)
STABLE_SUPPLY = Account(AccountKind.STABLE_SUPPLY)
REVENUE = Account(AccountKind.REVENUE)
FEES = Account(AccountKind.FEES)
GATEWAY_CLEARING = Account(AccountKind.GATEWAY_CLEARING)
WITHDRAWALS = Account(AccountKind.WITHDRAWALS)
ORDER_ESCROW = Account(AccountKind.ORDER_ESCROW)
COMMISSIONS_FROZEN = Account(AccountKind.COMMISSIONS_FROZEN)
WITHDRAWAL_HOLD = Account(AccountKind.WITHDRAWAL_HOLD)
RECEIVABLES = Account(AccountKind.RECEIVABLES)
MARKET_ESCROW = Account(AccountKind.MARKET_ESCROW)
MARKET_FEES = Account(AccountKind.MARKET_FEES)
ROYALTIES = Account(AccountKind.ROYALTIES)
