"""Scenario outcomes that follow from the rules, run through the simulator and the engine."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from fractions import Fraction

import pytest

from tokenmall.domain.economy import Economy
from tokenmall.domain.economy.invariants import price_not_below
from tokenmall.domain.money import format_points, format_price
from tokenmall.sim.runner import DayRow, SimResult, run
from tokenmall.sim.scenario import BUILTIN, Phase, builtin, with_options

POINT = 10**8


def run_checked(name: str, days: int | None = None, seed: int = 5) -> SimResult:
    """Run a built-in scenario, checking economy.md's invariants after every day."""
    scenario = builtin(name)
    if days is not None:
        scenario = replace(scenario, days=days)

    def check(economy: Economy, day: int) -> None:
        assert economy.violations() == [], f"day {day}"

    return run(scenario, random.Random(seed), seed, check=check)


def reconciles(row: DayRow) -> bool:
    """Money in = backing pool + dividend pool + payouts (dividends, buybacks) + revenue."""
    return row.money_in_total == (
        row.pool
        + row.dividend_pool
        + row.dividends_paid_total
        + row.buybacks_total
        + row.revenue_total
    )


def test_the_seed_scenario_reproduces_the_seed_table() -> None:
    # Given the seed scenario: one order of 100.00 a day contributing 30.00, no referrers
    result = run_checked("seed")
    rows = result.rows
    # Then the seed's table, day by day
    granted = [rows[0].minted] + [b.minted - a.minted for a, b in itertools.pairwise(rows)]
    assert granted[:3] == [21 * POINT, 1_470_000_000, 1_249_500_000]  # 21, 14.7, 12.495
    assert format_points(rows[2].circulating) == "48.19500000"
    prices = [format_price(r.price_num, r.price_den, 4) for r in rows]
    assert prices[:4] == ["1.4286", "1.6807", "1.8674", "2.0188"]
    assert prices[99] == "5.1731"
    assert len(rows) == 100
    # and A's 21 points are worth 108.63 after the 100th order
    a = result.economy.holder(result.buyers[0])
    assert a.points == 21 * POINT
    assert a.points * rows[99].price_num // rows[99].price_den == 108_63


@pytest.mark.parametrize("name", list(BUILTIN))
def test_price_never_falls_and_totals_reconcile_every_day(name: str) -> None:
    # Given any built-in scenario, shortened to keep the suite fast
    result = run_checked(name, days=90)
    rows = result.rows
    assert [r.day for r in rows] == list(range(1, 91))
    # Then the price never falls from one day to the next (exact fractions)
    for before, after in itertools.pairwise(rows):
        assert price_not_below(
            (before.price_num, before.price_den), (after.price_num, after.price_den)
        ), f"day {after.day}"
    # and every day, money in = pools + payouts + revenue
    assert all(reconciles(r) for r in rows)
    assert rows[-1].money_in_total > 0


def test_the_price_never_falls_in_a_run_on_the_pool() -> None:
    # Given growth, then from day 81 holders selling everything at 20% a day
    rows = run_checked("run", days=200).rows
    assert sum(r.sells for r in rows) > 1000  # the run really happened
    assert all(
        price_not_below((a.price_num, a.price_den), (b.price_num, b.price_den))
        for a, b in itertools.pairwise(rows)
    )
    assert all(reconciles(r) for r in rows)


def test_with_zero_new_buyers_the_dividend_pool_stops_growing_and_quota_is_not_paid_down() -> None:
    # Given 30 days of buyers, then none at all and nobody selling or converting
    stall_day = 30
    scenario = replace(
        builtin("steady"),
        days=60,
        phases=(
            Phase(new_buyers=(20.0, 40.0), repeat_rate=0.02),
            Phase(start_day=stall_day + 1),
        ),
    )
    rows = run(scenario, random.Random(3), 3).rows
    stall, after = rows[stall_day - 1], rows[stall_day:]
    # Then no new money comes in and the dividend pool never grows again
    assert all(r.inflow == 0 and r.purchases == 0 for r in after)
    pools = [stall.dividend_pool] + [r.dividend_pool for r in after]
    assert all(b <= a for a, b in itertools.pairwise(pools))
    # and the quota outstanding is paid down by at most what was left in the dividend pool
    paid_after = sum(r.dividends_paid for r in after)
    assert paid_after <= stall.dividend_pool
    assert sum(r.exits for r in after) == 0
    assert after[-1].health.quota_outstanding == stall.health.quota_outstanding - paid_after
    # and more is still promised than all the money that ever came in
    assert after[-1].health.quota_outstanding > stall.money_in_total
    # so after the inflow window empties, the figures say it will never be paid
    assert all(r.health.days_to_pay_quota is None for r in after[7:])
    assert stall.health.days_to_pay_quota is not None


def test_the_builtin_stall_scenario_stops_all_sales_halfway() -> None:
    rows = run_checked("stall", days=60).rows
    assert all(r.inflow == 0 for r in rows[30:])
    assert all(r.inflow > 0 for r in rows[:30])
    assert rows[-1].health.days_to_pay_quota is None


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    def fingerprint(seed: int) -> list[tuple[int, ...]]:
        rows = run(replace(builtin("referral"), days=40), random.Random(seed), seed).rows
        return [(r.purchases, r.pool, r.circulating, r.dividends_paid, r.buybacks) for r in rows]

    assert fingerprint(11) == fingerprint(11)
    assert fingerprint(11) != fingerprint(12)


def test_cohorts_compare_the_first_tenth_of_buyers_with_the_last() -> None:
    result = run_checked("seed")
    first, last = result.cohorts()
    assert (first.buyers, last.buyers) == (10, 10)
    assert first.spent == last.spent == 10 * 100_00
    # Early buyers hold points bought cheaply and took the early dividends
    assert Fraction(first.received, first.spent) > Fraction(last.received, last.spent)
    assert first.received == first.dividends + first.buybacks + first.stable + first.points_value
    assert (
        first.multiple == f"{first.received * 10_000 // first.spent // 10_000}."
        f"{first.received * 10_000 // first.spent % 10_000:04d}"
    )


def test_total_purchases_spreads_an_exact_number_of_orders() -> None:
    scenario = replace(builtin("steady"), days=10, total_purchases=1234, arrival="fixed")
    result = run(scenario, random.Random(1), 1)
    assert result.purchases == 1234 == sum(r.purchases for r in result.rows)


@pytest.mark.parametrize("fee_to", ["dividend_pool", "backing_pool"])
def test_a_run_on_the_pool_moves_the_fees_where_sell_fee_to_says(fee_to: str) -> None:
    # Given the run on the pool (holders sell everything), with the sell fee to either pool
    scenario = with_options(builtin("run"), days=60, params={"sell_fee_to": fee_to})
    assert scenario.params.sell_fee_to == fee_to

    def check(economy: Economy, day: int) -> None:
        assert economy.violations() == [], f"day {day}"
        assert economy.params.sell_fee_to == fee_to

    result = run(scenario, random.Random(7), 7, check=check)
    # Then every day reconciles and the price never falls
    assert all(reconciles(row) for row in result.rows)
    for before, after in itertools.pairwise(result.rows):
        assert price_not_below(
            (before.price_num, before.price_den), (after.price_num, after.price_den)
        )
    assert result.rows[-1].buybacks_total > 0
