"""The agent loop: each simulated day, buyers act through ``Economy``, then the day is settled.

Order within a day: new buyers arrive (some bound to a referrer, each places a first order),
known buyers buy again, some holders sell, some convert to stable points and spend them at the
one simulated merchant, the merchant redeems its stable points for treasury points, then
``settle_day`` runs rules 6 and 7. After that the day's row is recorded from the engine's state
and ``health.health``. Orders are booked at once (the return window is not simulated).

The loop is lean on purpose (bound methods in locals, draws made in batches) so that a million
purchases over a year run in seconds; all arithmetic is the engine's.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

from tokenmall.domain.economy import Economy
from tokenmall.domain.economy.health import Health, health
from tokenmall.domain.economy.market import buyback_payout
from tokenmall.domain.economy.purchase import purchase as book
from tokenmall.domain.errors import DomainError
from tokenmall.sim.scenario import Phase, Scenario

MERCHANT = "merchant"
INFLOW_WINDOW = 7  # days: "current daily inflow" is the mean of the last week's new money


@dataclass(frozen=True, slots=True)
class DayRow:
    day: int
    new_buyers: int
    purchases: int
    inflow: int  # fen of new money this day
    price_num: int
    price_den: int
    pool: int
    circulating: int
    minted: int
    burned: int
    treasury: int
    dividend_pool: int  # after the day's settlement
    dividends_paid: int  # fen paid this day
    exits: int  # forced exits this day
    sells: int
    buybacks: int  # fen paid for points bought back this day (sells and forced exits)
    converts: int
    holders: int  # buyers so far
    money_in_total: int
    revenue_total: int
    dividends_paid_total: int
    buybacks_total: int
    health: Health


@dataclass(frozen=True, slots=True)
class Cohort:
    label: str
    buyers: int
    spent: int  # fen of new money
    dividends: int  # fen received as dividends
    buybacks: int  # fen received for points sold or forced out
    stable: int  # fen of stable points still held
    points: int  # units still held
    points_value: int  # fen a buyback of those points would pay now (after the fee)

    @property
    def received(self) -> int:
        return self.dividends + self.buybacks + self.stable + self.points_value

    @property
    def multiple(self) -> str:
        """Received / spent, rounded down to 4 places ("" when nothing was spent)."""
        if self.spent == 0:
            return ""
        scaled = self.received * 10_000 // self.spent
        return f"{scaled // 10_000}.{scaled % 10_000:04d}"


@dataclass(slots=True)
class SimResult:
    scenario: Scenario
    seed: int
    economy: Economy
    rows: list[DayRow] = field(default_factory=list)
    buyers: list[str] = field(default_factory=list)
    purchases: int = 0

    def cohorts(self, share: int = 10) -> tuple[Cohort, Cohort]:
        """The first and the last ``share`` percent of buyers, by order of arrival."""
        size = max(1, len(self.buyers) * share // 100) if self.buyers else 0
        return (
            self._cohort(f"first {share}%", self.buyers[:size]),
            self._cohort(f"last {share}%", self.buyers[len(self.buyers) - size :]),
        )

    def _cohort(self, label: str, names: list[str]) -> Cohort:
        economy = self.economy
        num, den = economy.price()
        spent = dividends = buybacks = stable = points = value = 0
        for name in names:
            h = economy.state.holders[name]
            spent += h.spend
            dividends += h.dividends
            buybacks += h.cash - h.dividends
            stable += h.stable
            points += h.points
            value += buyback_payout(economy.rates, h.points, num, den)
        return Cohort(label, len(names), spent, dividends, buybacks, stable, points, value)


class _Counter:
    """Draws how many events happen in a day: Poisson, or the mean with fractions carried."""

    def __init__(self, rng: random.Random, fixed: bool) -> None:
        self.rng = rng
        self.fixed = fixed
        self.carry: dict[str, float] = {}

    def __call__(self, stream: str, mean: float) -> int:
        if mean <= 0:
            return 0
        if self.fixed:
            total = self.carry.get(stream, 0.0) + mean
            count = int(total + 1e-9)
            self.carry[stream] = total - count
            return count
        if mean >= 30:
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count


def _new_buyers_mean(phase: Phase, first: int, last: int, day: int) -> float:
    start, end = phase.new_buyers
    if last == first:
        return start
    return start + (end - start) * (day - first) / (last - first)


def run(
    scenario: Scenario,
    rng: random.Random,
    seed: int = 0,
    on_day: Callable[[int], None] | None = None,
    check: Callable[[Economy, int], None] | None = None,
) -> SimResult:
    """Run ``scenario`` with the draws of ``rng``; ``check`` is called after every day."""
    economy = Economy(scenario.params)
    state = economy.state
    holders = state.holders
    result = SimResult(scenario, seed, economy)
    buyers = result.buyers
    count = _Counter(rng, scenario.arrival == "fixed")
    amounts = [amount for amount, _ in scenario.basket]
    weights = list(accumulate(weight for _, weight in scenario.basket))
    contribution = scenario.contribution
    purchase, join = economy.purchase, economy.join
    choices, random_ = rng.choices, rng.random
    inflows: deque[int] = deque(maxlen=INFLOW_WINDOW)
    total = scenario.total_purchases
    schedule = [
        (day, first, last, phase)
        for first, last, phase in scenario.phase_bounds()
        for day in range(first, last + 1)
    ]

    for day, first, last, phase in schedule:
        money_before = state.money_in
        buybacks_before = state.buybacks_paid
        new = count("new", _new_buyers_mean(phase, first, last, day))
        if total is not None:
            today = total * day // scenario.days - total * (day - 1) // scenario.days
            new = min(new, today)
            repeat = today - new if buyers or new else 0
        else:
            repeat = count("repeat", phase.repeat_rate * len(buyers)) if buyers else 0
        basket = choices(amounts, cum_weights=weights, k=new + repeat)
        referral = scenario.referral_probability
        for i in range(new):
            name = f"b{len(buyers)}"
            if buyers and referral and random_() < referral:
                join(name, buyers[int(random_() * len(buyers))])
            buyers.append(name)
            purchase(name, basket[i], contribution)
        if repeat:
            # Known buyers: rule 1's function on the engine's own state and rates, skipping
            # only the facade's lookup of a holder that certainly exists.
            rates = economy.rates
            for name, amount in zip(choices(buyers, k=repeat), basket[new:], strict=True):
                book(rates, state, holders[name], amount, contribution)

        sells = _sell(economy, rng, buyers, count("sell", phase.sell_rate * len(buyers)), phase)
        converts = _convert(
            economy, rng, buyers, count("convert", phase.convert_rate * len(buyers)), phase
        )
        merchant = holders.get(MERCHANT)
        if merchant is not None and merchant.stable > 0:
            economy.redeem_stable(MERCHANT, merchant.stable)

        outcome = economy.settle_day(day)
        inflow = state.money_in - money_before
        inflows.append(inflow)
        figures = health(state, economy.params, sum(inflows) // len(inflows))
        num, den = state.price()
        result.purchases += new + repeat
        result.rows.append(
            DayRow(
                day=day,
                new_buyers=new,
                purchases=new + repeat,
                inflow=inflow,
                price_num=num,
                price_den=den,
                pool=state.pool,
                circulating=state.circulating,
                minted=state.minted,
                burned=state.burned,
                treasury=state.treasury,
                dividend_pool=state.dividend_pool,
                dividends_paid=outcome.distributed,
                exits=len(outcome.exits),
                sells=sells,
                buybacks=state.buybacks_paid - buybacks_before,
                converts=converts,
                holders=len(buyers),
                money_in_total=state.money_in,
                revenue_total=state.revenue,
                dividends_paid_total=state.dividends_paid,
                buybacks_total=state.buybacks_paid,
                health=figures,
            )
        )
        if check is not None:
            check(economy, day)
        if on_day is not None:
            on_day(day)
    return result


def _sell(economy: Economy, rng: random.Random, buyers: list[str], n: int, phase: Phase) -> int:
    if not n or not buyers:
        return 0
    holders = economy.state.holders
    share = phase.sell_fraction
    done = 0
    for name in dict.fromkeys(rng.choices(buyers, k=n)):  # once each, in draw order
        units = holders[name].points * share.numerator // share.denominator
        if units <= 0:
            continue
        try:
            economy.sell(name, units)
        except DomainError:  # worth less than a fen after the fee: refused, nothing changed
            continue
        done += 1
    return done


def _convert(economy: Economy, rng: random.Random, buyers: list[str], n: int, phase: Phase) -> int:
    if not n or not buyers:
        return 0
    holders = economy.state.holders
    share = phase.convert_fraction
    done = 0
    for name in dict.fromkeys(rng.choices(buyers, k=n)):  # once each, in draw order
        holder = holders[name]
        units = holder.points * share.numerator // share.denominator
        if units <= 0:
            continue
        try:
            economy.convert(name, units)
        except DomainError:
            continue
        done += 1
        if holder.stable > 0 and rng.random() < phase.spend_stable_rate:
            economy.pay_stable(name, MERCHANT, holder.stable)
    return done
