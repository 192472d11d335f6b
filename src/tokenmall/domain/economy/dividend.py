"""Rules 6 and 7: the daily dividend by exact water-filling, then forced exit at one price.

Water-filling: holder ``i`` is owed ``a_i = min(r_i, λ·w_i)`` with ``λ`` the largest level at
which ``Σ a_i <= D``. ``water_level`` finds ``λ`` exactly as a fraction by repeated passes: a
holder with ``r_i <= λ_k·w_i`` is capped at any level ``>= λ_k``; removing the capped raises the
level; at the fixpoint nobody else is capped. Each pass only sums, so the same function works
over a list in memory or a stream from a database. If passes keep finding a few more capped
holders, the remainder is sorted once by ``r/w`` and swept exactly.

Every payout is rounded down to the fen; what is left stays in the dividend pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tokenmall.domain.economy.market import buyback_payout, burn
from tokenmall.domain.economy.state import EconomyState, Holder, Rates

# (weight, remaining quota) pairs; the source is called once per pass.
PairSource = Callable[[], Iterable[tuple[int, int]]]

FAST_PASSES = 4


@dataclass(frozen=True, slots=True)
class WaterLevel:
    """λ = num / den; ``everyone_capped`` when the pool covers every remaining quota."""

    num: int
    den: int
    everyone_capped: bool = False

    def allocation(self, weight: int, remaining: int) -> int:
        """What a holder with this weight and remaining quota receives, in whole fen."""
        if self.everyone_capped or remaining * self.den <= self.num * weight:
            return remaining
        return self.num * weight // self.den


def water_level(amount: int, source: PairSource) -> WaterLevel:
    total_weight = 0
    total_remaining = 0
    for weight, remaining in source():
        total_weight += weight
        total_remaining += remaining
    if total_remaining <= amount:
        return WaterLevel(amount, max(total_weight, 1), everyone_capped=True)
    num, den = amount, total_weight
    for _ in range(FAST_PASSES):
        capped_weight = capped_remaining = 0
        for weight, remaining in source():
            if remaining * den <= num * weight:
                capped_weight += weight
                capped_remaining += remaining
        new_num, new_den = amount - capped_remaining, total_weight - capped_weight
        if new_num * den == num * new_den:
            return WaterLevel(num, den)
        num, den = new_num, new_den
    return _sweep(amount, total_weight, num, den, source)


def _sweep(amount: int, total_weight: int, num: int, den: int, source: PairSource) -> WaterLevel:
    """Exact water level by one sort of the holders not yet known to be capped."""
    capped_weight = capped_remaining = 0
    rest: list[tuple[int, int]] = []
    for weight, remaining in source():
        if remaining * den <= num * weight:
            capped_weight += weight
            capped_remaining += remaining
        else:
            rest.append((weight, remaining))
    # Order by r/w; the integer key can tie distinct ratios, so each step re-tests exactly.
    rest.sort(key=lambda pair: (pair[1] << 64) // pair[0])
    num, den = amount - capped_remaining, total_weight - capped_weight
    changed = True
    while changed:
        changed = False
        keep: list[tuple[int, int]] = []
        for weight, remaining in rest:
            if remaining * den <= num * weight:
                num -= remaining
                den -= weight
                changed = True
            else:
                keep.append((weight, remaining))
        rest = keep
    return WaterLevel(num, den)


@dataclass(frozen=True, slots=True)
class Exit:
    holder: str
    units: int
    payout: int


@dataclass(frozen=True, slots=True)
class DayResult:
    day: int
    distributed: int  # fen paid as dividends
    recipients: int
    exits: tuple[Exit, ...]
    price_num: int  # the price forced exits were executed at
    price_den: int
    already_settled: bool = False

    @property
    def exit_payout(self) -> int:
        return sum(exit_.payout for exit_ in self.exits)


def weight_of(rates: Rates, holder: Holder) -> int:
    if rates.params.dividend_weight == "shares":
        return holder.spend // rates.share_unit
    return holder.points


def eligible(rates: Rates, holders: Iterable[Holder]) -> tuple[list[Holder], list[int], list[int]]:
    chosen: list[Holder] = []
    weights: list[int] = []
    remainders: list[int] = []
    by_shares = rates.params.dividend_weight == "shares"
    share_unit = rates.share_unit
    for holder in holders:
        if holder.exited:
            continue
        remaining = holder.quota - holder.quota_used
        if remaining <= 0:
            continue
        weight = holder.spend // share_unit if by_shares else holder.points
        if weight <= 0:
            continue
        chosen.append(holder)
        weights.append(weight)
        remainders.append(remaining)
    return chosen, weights, remainders


def pay_dividend(rates: Rates, state: EconomyState) -> tuple[int, int]:
    """Rule 6 over the holders in memory; returns (fen distributed, recipients)."""
    amount = state.dividend_pool
    if amount <= 0:
        return 0, 0
    chosen, weights, remainders = eligible(rates, state.holders.values())
    if not chosen:
        return 0, 0
    pairs = list(zip(weights, remainders, strict=True))
    level = water_level(amount, lambda: pairs)
    paid = recipients = 0
    for holder, weight, remaining in zip(chosen, weights, remainders, strict=True):
        share = level.allocation(weight, remaining)
        if share <= 0:
            continue
        holder.cash += share
        holder.dividends += share
        holder.quota_used += share
        if share == remaining:
            holder.exited = True
        paid += share
        recipients += 1
    state.dividend_pool -= paid
    state.dividends_paid += paid
    return paid, recipients


def must_exit(holder: Holder, price_num: int, price_den: int) -> bool:
    """Rule 7's test: a consumer whose points are worth at least their remaining quota."""
    return (
        not holder.merchant
        and holder.points > 0
        and holder.quota > 0
        and holder.points * price_num >= (holder.quota - holder.quota_used) * price_den
    )


def forced_exits(rates: Rates, state: EconomyState) -> tuple[Exit, ...]:
    """Rule 7: every forced buyback of the day at the price when the step begins."""
    price_num, price_den = state.price()
    leaving = [h for h in state.holders.values() if must_exit(h, price_num, price_den)]
    exits: list[Exit] = []
    for holder in leaving:
        units = holder.points
        payout = buyback_payout(rates, units, price_num, price_den)
        state.seq += 1
        burn(state, holder, units, payout, state.seq)
        used = min(payout, holder.quota - holder.quota_used)
        holder.quota_used += used
        holder.exited = True
        exits.append(Exit(holder.name, units, payout))
    return tuple(exits)
