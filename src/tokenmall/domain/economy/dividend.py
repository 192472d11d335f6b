"""Rules 6 and 7: the daily dividend by exact water-filling, then forced exit at one price.

Water-filling: holder ``i`` is owed ``a_i = min(r_i, λ·w_i)`` with ``λ`` the largest level at
which ``Σ a_i <= D``. ``water_level`` finds ``λ`` exactly as a fraction by repeated passes: a
holder with ``r_i <= λ_k·w_i`` is capped at any level ``>= λ_k``; removing the capped raises the
level; at the fixpoint nobody else is capped. Each pass only sums, so the algorithm
(``water_level_by_sums``) is written once over a "capped sums at level num/den" callable: a
database answers it with one aggregate query, ``water_level`` with a scan of pairs in memory
or streamed. If passes keep finding a few more capped holders, the holders not yet capped are
sorted once by ``r/w`` and swept exactly.

Every payout is rounded down to the fen; what is left stays in the dividend pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tokenmall.domain.economy.market import burn, buyback_payout, fee_to_dividend
from tokenmall.domain.economy.state import EconomyState, Holder, Rates

# (weight, remaining quota) pairs; the source is called once per pass.
PairSource = Callable[[], Iterable[tuple[int, int]]]
# (num, den) -> (Σ weight, Σ remaining) of the holders capped at level num/den.
CappedSums = Callable[[int, int], tuple[int, int]]
# (num, den) -> the capped sums as above plus the (weight, remaining) pairs of the holders NOT
# capped at level num/den (the sweep's input; one scan in memory).
Split = Callable[[int, int], tuple[int, int, list[tuple[int, int]]]]

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
    """The water level over (weight, remaining) pairs: ``source()`` yields them, once a pass."""
    total_weight = 0
    total_remaining = 0
    for weight, remaining in source():
        total_weight += weight
        total_remaining += remaining

    capped, split = pair_sums(source)
    return water_level_by_sums(amount, total_weight, total_remaining, capped, split)


def pair_sums(source: PairSource) -> tuple[CappedSums, Split]:
    """``capped`` and ``split`` answered by one scan of ``source()`` per call."""

    def capped(num: int, den: int) -> tuple[int, int]:
        capped_weight = capped_remaining = 0
        for weight, remaining in source():
            if remaining * den <= num * weight:
                capped_weight += weight
                capped_remaining += remaining
        return capped_weight, capped_remaining

    def split(num: int, den: int) -> tuple[int, int, list[tuple[int, int]]]:
        capped_weight = capped_remaining = 0
        rest: list[tuple[int, int]] = []
        for weight, remaining in source():
            if remaining * den <= num * weight:
                capped_weight += weight
                capped_remaining += remaining
            else:
                rest.append((weight, remaining))
        return capped_weight, capped_remaining, rest

    return capped, split


def water_level_by_sums(
    amount: int,
    total_weight: int,
    total_remaining: int,
    capped: CappedSums,
    split: Split,
) -> WaterLevel:
    """The one water-level algorithm, over aggregates: the fixpoint passes, then the sweep.

    ``capped(num, den)`` is (Σ weight, Σ remaining) over the holders with
    ``remaining * den <= num * weight``; ``split(num, den)`` gives the same sums and the other
    holders' pairs (only called if the passes have not converged after ``FAST_PASSES``). A database
    answers both with aggregate queries; ``water_level`` answers them by scanning pairs."""
    if total_remaining <= amount:
        return WaterLevel(amount, max(total_weight, 1), everyone_capped=True)
    num, den = amount, total_weight
    for _ in range(FAST_PASSES):
        capped_weight, capped_remaining = capped(num, den)
        new_num, new_den = amount - capped_remaining, total_weight - capped_weight
        if new_num * den == num * new_den:
            return WaterLevel(num, den)
        num, den = new_num, new_den
    return _sweep(amount, total_weight, num, den, split)


def _sweep(amount: int, total_weight: int, num: int, den: int, split: Split) -> WaterLevel:
    """Exact water level by one sort of the holders not yet known to be capped."""
    capped_weight, capped_remaining, rest = split(num, den)
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
    fee: int = 0  # fen of the fee moved to the dividend pool (``sell_fee_to``)


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

    @property
    def exit_fee(self) -> int:
        """Fen the day's forced exits moved from the backing pool to the dividend pool."""
        return sum(exit_.fee for exit_ in self.exits)


def must_exit(holder: Holder, price_num: int, price_den: int) -> bool:
    """Rule 7's test: a consumer whose points are worth at least their remaining quota."""
    return (
        not holder.merchant
        and holder.points > 0
        and holder.quota > 0
        and holder.points * price_num >= (holder.quota - holder.quota_used) * price_den
    )


def settle(
    rates: Rates, state: EconomyState, forced_exit: bool
) -> tuple[int, int, tuple[Exit, ...]]:
    """Rule 6 then rule 7 over the holders in memory, in one scan of them.

    Returns (fen distributed, recipients, exits). Dividends do not move the price, so the
    price when the exit step begins is the price now; the exit test for a dividend recipient
    is made right after its payout, and for everyone else during the scan.
    """
    price_num, price_den = state.price()
    by_shares = rates.params.dividend_weight == "shares"
    share_unit = rates.share_unit
    chosen: list[Holder] = []
    weights: list[int] = []
    remainders: list[int] = []
    leaving: list[Holder] = []
    for holder in state.holders.values():
        remaining = holder.quota - holder.quota_used
        weight = holder.spend // share_unit if by_shares else holder.points
        if holder.exited or remaining <= 0 or weight <= 0:
            if forced_exit and must_exit(holder, price_num, price_den):
                leaving.append(holder)
            continue
        chosen.append(holder)
        weights.append(weight)
        remainders.append(remaining)

    distributed = recipients = 0
    amount = state.dividend_pool
    if amount > 0 and chosen:
        level = water_level(amount, lambda: zip(weights, remainders, strict=True))
        num, den, everyone = level.num, level.den, level.everyone_capped
        for holder, weight, remaining in zip(chosen, weights, remainders, strict=True):
            if everyone or remaining * den <= num * weight:
                share = remaining
                holder.exited = True
            else:
                share = num * weight // den
                if share <= 0:
                    if forced_exit and must_exit(holder, price_num, price_den):
                        leaving.append(holder)
                    continue
            holder.cash += share
            holder.dividends += share
            holder.quota_used += share
            distributed += share
            recipients += 1
            # must_exit inlined: a recipient has quota; this loop runs once per holder.
            points = holder.points
            if (
                forced_exit
                and points > 0
                and not holder.merchant
                and points * price_num >= (remaining - share) * price_den
            ):
                leaving.append(holder)
        state.dividend_pool -= distributed
        state.dividends_paid += distributed
    elif forced_exit:
        leaving.extend(h for h in chosen if must_exit(h, price_num, price_den))
    exits = _execute_exits(rates, state, leaving, price_num, price_den)
    return distributed, recipients, exits


def _execute_exits(
    rates: Rates, state: EconomyState, leaving: list[Holder], price_num: int, price_den: int
) -> tuple[Exit, ...]:
    """Rule 7: every forced buyback of the day at the price when the step began; each fee goes
    where ``sell_fee_to`` says (after the day's dividend: it is shared out the next day)."""
    exits: list[Exit] = []
    for holder in leaving:
        units = holder.points
        payout = buyback_payout(rates, units, price_num, price_den)
        fee = fee_to_dividend(rates, units, price_num, price_den, payout)
        state.seq += 1
        burn(state, holder, units, payout, state.seq, fee)
        holder.quota_used += min(payout, holder.quota - holder.quota_used)
        holder.exited = True
        exits.append(Exit(holder.name, units, payout, fee))
    if leaving and state.circulating == 0:
        # All of the day's exits ran at one price; if they emptied the circulation, that is
        # the price kept, whatever order the holders were taken in.
        state.last_price_num, state.last_price_den = price_num, price_den
    return tuple(exits)
