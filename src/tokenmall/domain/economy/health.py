"""A tenant's health figures: what is backed, what is a promise, how long inflow takes to pay.

One pure function for the simulator (``health`` over an ``EconomyState``) and for the live
solvency report (``tokenmall report`` and the admin console's endpoint), which sums the same
aggregates from the ledger and calls ``figures`` directly. Nothing here is stored; every figure
is derived from balances, exactly, in integers.

- Backed: every circulating equity point, by the backing pool, exactly (``pool = circulating ×
  price`` by definition of the price). The stable points outstanding, by the treasury's points
  at the current price (the cover ratio), never assumed.
- A promise: the dividend quota outstanding, ``Σ remaining quota`` of holders who have not
  exited. Only the dividend pool and future sales pay it; nothing backs it.
- Days to pay: the unfunded part of the promise (quota outstanding less the dividend pool)
  divided by what the current daily sales put into the dividend pool, rounded up; ``None``
  (never) when sales have stopped. New sales also add new quota (``quota_multiple`` per unit of
  money against ``dividend_rate`` of funding), so this figure is a floor, not a forecast.
- Where buyback fees go (``sell_fee_to``): to the dividend pool, where they fund dividends and
  the price stays; or to the backing pool, where they raise the price. Fees come only when
  holders sell, so they are not counted in the daily inflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokenmall.domain.economy.market import value_at_price
from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.errors import InvalidAmount
from tokenmall.domain.money import (
    format_money,
    format_points,
    format_price,
    format_rate,
)

RATIO_PLACES = 4
# How many days of sales define the "current daily inflow" of a live tenant's report.
DEFAULT_WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class Health:
    pool: int  # fen: the backing pool, the exact value of every circulating point
    circulating: int  # point units
    price_num: int  # fen per unit, exact
    price_den: int
    dividend_pool: int  # fen waiting to be shared out
    quota_outstanding: int  # fen: Σ remaining quota of holders not exited (a promise)
    daily_inflow: int  # fen of new money a day, as given by the caller
    daily_dividend_inflow: int  # fen a day that inflow adds to the dividend pool
    unfunded_quota: int  # fen: quota outstanding not covered by the dividend pool
    days_to_pay_quota: int | None  # None: never, at the current inflow
    stable_outstanding: int  # fen of stable points held by users
    treasury: int  # point units the platform holds
    treasury_value: int  # fen, treasury × price rounded down
    quota_multiple: str  # the parameters that make the promise, as decimal strings
    dividend_rate: str
    sell_fee_to: str = "dividend_pool"  # where buyback fees go

    @property
    def stable_cover(self) -> str | None:
        """Treasury value / stable points outstanding to 4 places, rounded down; None if none."""
        if self.stable_outstanding == 0:
            return None
        scaled = (
            self.treasury
            * self.price_num
            * 10**RATIO_PLACES
            // (self.price_den * self.stable_outstanding)
        )
        return _fixed(scaled, RATIO_PLACES)

    @property
    def price(self) -> str:
        return format_price(self.price_num, self.price_den, 4)

    def to_public(self) -> dict[str, Any]:
        """Decimal strings for JSON, CSV and the API; never a float."""
        return {
            "price": format_price(self.price_num, self.price_den),
            "pool": format_money(self.pool),
            "circulating": format_points(self.circulating),
            "dividend_pool": format_money(self.dividend_pool),
            "quota_outstanding": format_money(self.quota_outstanding),
            "daily_inflow": format_money(self.daily_inflow),
            "daily_dividend_inflow": format_money(self.daily_dividend_inflow),
            "unfunded_quota": format_money(self.unfunded_quota),
            "days_to_pay_quota": (
                None if self.days_to_pay_quota is None else str(self.days_to_pay_quota)
            ),
            "stable_outstanding": format_money(self.stable_outstanding),
            "treasury": format_points(self.treasury),
            "treasury_value": format_money(self.treasury_value),
            "stable_cover": self.stable_cover,
            "statement": statement(self),
        }


def quota_outstanding(state: EconomyState) -> int:
    """Σ remaining quota of holders who have not exited, in fen."""
    return sum(h.quota - h.quota_used for h in state.holders.values() if not h.exited)


def health(
    state: EconomyState, params: Params, daily_inflow: int, quota: int | None = None
) -> Health:
    """The figures for an economy's aggregates; ``daily_inflow`` is the caller's fen a day.

    ``quota`` is the quota outstanding when the holders are not in memory (a ledger sums it);
    by default it is summed over ``state.holders``."""
    return figures(
        params,
        pool=state.pool,
        circulating=state.circulating,
        price=state.price(),
        dividend_pool=state.dividend_pool,
        quota_outstanding=quota_outstanding(state) if quota is None else quota,
        daily_inflow=daily_inflow,
        stable_outstanding=state.stable_outstanding,
        treasury=state.treasury,
    )


def figures(
    params: Params,
    *,
    pool: int,
    circulating: int,
    price: tuple[int, int],
    dividend_pool: int,
    quota_outstanding: int,
    daily_inflow: int,
    stable_outstanding: int,
    treasury: int,
) -> Health:
    """The figures from aggregates (what a ledger can sum in one query each)."""
    if daily_inflow < 0:
        raise InvalidAmount("daily inflow must not be negative")
    rate = params.dividend_rate
    daily_dividend = daily_inflow * rate.numerator // rate.denominator
    unfunded = max(quota_outstanding - dividend_pool, 0)
    days: int | None
    if unfunded == 0:
        days = 0
    elif daily_dividend == 0:
        days = None
    else:
        days = -(-unfunded // daily_dividend)
    price_num, price_den = price
    return Health(
        pool=pool,
        circulating=circulating,
        price_num=price_num,
        price_den=price_den,
        dividend_pool=dividend_pool,
        quota_outstanding=quota_outstanding,
        daily_inflow=daily_inflow,
        daily_dividend_inflow=daily_dividend,
        unfunded_quota=unfunded,
        days_to_pay_quota=days,
        stable_outstanding=stable_outstanding,
        treasury=treasury,
        treasury_value=value_at_price(treasury, price_num, price_den),
        quota_multiple=format_rate(params.quota_multiple),
        dividend_rate=format_rate(params.dividend_rate),
        sell_fee_to=params.sell_fee_to,
    )


def statement(h: Health) -> list[str]:
    """What is backed and what is a promise, in plain words (Chinese, then English)."""
    lines = [
        f"有保障：流通中的 {format_points(h.circulating)} 个增值积分，全部由底池 "
        f"{format_money(h.pool)} 元按现价 {h.price} 精确对应。"
        f" Backed: all {format_points(h.circulating)} circulating equity points, exactly, by "
        f"the backing pool of {format_money(h.pool)} at the price {h.price}.",
        f"是承诺，不是保障：未付分红额度 {format_money(h.quota_outstanding)} 元，"
        f"只能由分红池（现有 {format_money(h.dividend_pool)} 元）和将来的销售支付。"
        f" A promise, not backed: dividend quota outstanding of "
        f"{format_money(h.quota_outstanding)}, payable only from the dividend pool "
        f"({format_money(h.dividend_pool)} now) and from future sales.",
    ]
    if h.days_to_pay_quota is None:
        lines.append(
            f"按当前每日流入（{format_money(h.daily_inflow)} 元），未付额度永远付不完。"
            f" At the current daily inflow ({format_money(h.daily_inflow)}), the unfunded "
            f"quota of {format_money(h.unfunded_quota)} is never paid."
        )
    else:
        lines.append(
            f"按当前每日流入 {format_money(h.daily_inflow)} 元（其中 "
            f"{format_money(h.daily_dividend_inflow)} 元进入分红池），付清现有额度需 "
            f"{h.days_to_pay_quota} 天，且期间的新销售还会产生新的额度。"
            f" At the current daily inflow of {format_money(h.daily_inflow)} "
            f"({format_money(h.daily_dividend_inflow)} of it to the dividend pool), paying the "
            f"quota outstanding takes {h.days_to_pay_quota} days, while new sales add new quota."
        )
    lines.append(
        f"每消费 1.00 元增加 {h.quota_multiple} 元额度，只有 {h.dividend_rate} 元进入分红池。"
        f"本平台不承诺任何收益。"
        f" Each 1.00 spent adds {h.quota_multiple} of quota and only {h.dividend_rate} of "
        f"dividend funding. This platform promises no returns."
    )
    if h.sell_fee_to == "dividend_pool":
        lines.append(
            "卖出积分的手续费进入分红池，不抬高价格。"
            " Fees on points sold back go to the dividend pool; they do not raise the price."
        )
    else:
        lines.append(
            "卖出积分的手续费留在底池，抬高其余积分的价格。"
            " Fees on points sold back stay in the backing pool and raise the price of the rest."
        )
    if h.stable_outstanding:
        lines.append(
            f"恒定积分 {format_money(h.stable_outstanding)} 由平台库存积分（价值 "
            f"{format_money(h.treasury_value)} 元）覆盖，覆盖率 {h.stable_cover}。"
            f" Stable points outstanding {format_money(h.stable_outstanding)} are covered by "
            f"treasury points worth {format_money(h.treasury_value)} (cover {h.stable_cover})."
        )
    return lines


def _fixed(scaled: int, places: int) -> str:
    whole, frac = divmod(scaled, 10**places)
    return f"{whole}.{frac:0{places}d}"
