"""The state of one tenant's economy: aggregates and holders, all integers of minor units.

Money and stable points are fen; equity points are 1e-8 units. The price is derived, never
stored: ``pool / circulating`` while anything circulates, else the last price there was.
``Rates`` is the parameter set compiled to integer numerator/denominator pairs, so the hot
paths do integer arithmetic only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from tokenmall.domain.economy.params import Params


class Holder:
    """One user's (consumer's or merchant's) balances in one tenant."""

    __slots__ = (
        "cash",
        "dividends",
        "exited",
        "merchant",
        "name",
        "points",
        "points_seq",
        "quota",
        "quota_used",
        "referrer",
        "spend",
        "stable",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.points = 0  # equity point units
        self.cash = 0  # fen, from buybacks and dividends
        self.stable = 0  # fen of stable points
        self.quota = 0  # fen, dividend quota ever granted
        self.quota_used = 0  # fen of quota used by dividends and forced exits
        self.spend = 0  # fen, cumulative spend with new money
        self.dividends = 0  # fen, dividends ever received
        self.exited = False  # 出局: receives nothing until a purchase adds quota
        self.merchant = False  # merchants are never forced out
        self.referrer: str | None = None
        self.points_seq = 0  # event number when ``points`` last changed (leaderboard ties)

    @property
    def remaining_quota(self) -> int:
        return self.quota - self.quota_used

    def __repr__(self) -> str:
        return f"Holder({self.name!r}, points={self.points}, cash={self.cash})"


@dataclass(slots=True)
class EconomyState:
    pool: int = 0  # backing pool, fen
    circulating: int = 0  # units held by users and the treasury
    minted: int = 0
    burned: int = 0
    treasury: int = 0  # units the platform holds from conversions
    dividend_pool: int = 0  # fen waiting to be shared out
    stable_outstanding: int = 0  # fen of stable points held by users
    money_in: int = 0  # fen of new money from booked purchases
    revenue: int = 0  # fen of booked purchases that went to merchants and the platform
    dividends_paid: int = 0  # fen
    buybacks_paid: int = 0  # fen
    # Money around the economy (cashflow.py): held for orders, commissions, withdrawals, debts.
    escrow: int = 0  # fen paid for orders whose rewards are not booked yet
    commissions_frozen: int = 0  # fen of commissions waiting for their orders to complete
    commissions_paid: int = 0  # fen of commissions released to users' cash
    withdrawing: int = 0  # fen of cash held for withdrawals awaiting approval
    withdrawn: int = 0  # fen of cash paid out to users' banks
    receivables: int = 0  # fen users owe (commissions clawed back beyond their cash)
    cash_out: int = 0  # fen taken out of users' cash (withdrawals, clawbacks, repayments)
    # The market's money (market_cash.py): deposits in, bids' reservations, fees, royalties.
    market_deposits: int = 0  # fen paid into users' cash through the gateway for the market
    market_escrow: int = 0  # fen reserved by open bids
    market_fees: int = 0  # fen of the platform's market fees
    royalties: int = 0  # fen of issuers' royalties
    last_price_num: int = 1  # the price while nothing circulates, fen per unit
    last_price_den: int = 1
    seq: int = 0  # events applied, for ordering ties
    last_day: int | None = None
    holders: dict[str, Holder] = field(default_factory=dict)

    @classmethod
    def new(cls, params: Params) -> EconomyState:
        price = params.initial_price_fen_per_unit
        return cls(last_price_num=price.numerator, last_price_den=price.denominator)

    def price(self) -> tuple[int, int]:
        """The current price as (numerator, denominator) in fen per point unit."""
        if self.circulating:
            return self.pool, self.circulating
        return self.last_price_num, self.last_price_den

    def holder(self, name: str) -> Holder:
        found = self.holders.get(name)
        if found is None:
            found = self.holders[name] = Holder(name)
        return found


class Rates:
    """A parameter set as integer pairs, compiled once per parameter change."""

    __slots__ = (
        "convert_keep",
        "dividend",
        "fee_to_dividend",
        "grant",
        "max_supply",
        "params",
        "pool",
        "quota",
        "referrals",
        "sell_keep",
        "share_unit",
    )

    def __init__(self, params: Params) -> None:
        self.params = params
        self.pool = _pair(params.pool_rate)
        self.grant = _pair(params.grant_rate)
        self.referrals = tuple(_pair(rate) for rate in params.referral_rates)
        self.dividend = _pair(params.dividend_rate)
        self.quota = _pair(params.quota_multiple)
        self.sell_keep = _pair(1 - params.sell_fee_rate)
        self.fee_to_dividend = params.sell_fee_to == "dividend_pool"
        self.convert_keep = _pair(1 - params.convert_fee_rate)
        self.max_supply = params.max_supply_units
        self.share_unit = params.share_unit_fen


def _pair(rate: Fraction) -> tuple[int, int]:
    return rate.numerator, rate.denominator
