"""economy.md's worked example, reproduced exactly through ``Economy`` with the seed preset.

Every order is 100.00 with a contribution of 30.00, grant rate 0.70, no referrers.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from tokenmall.domain.economy import SEED, Economy
from tokenmall.domain.money import format_money, format_points, format_price

POINT = 10**8


def run_orders(economy: Economy, count: int, contribution: int | None) -> list[tuple[int, str]]:
    """(points granted, price after to 4 places) for each of ``count`` orders of 100.00."""
    rows = []
    for i in range(1, count + 1):
        result = economy.purchase(f"buyer{i}", 100_00, contribution)
        rows.append((result.minted, format_price(*economy.price(), 4)))
    return rows


@pytest.mark.parametrize("contribution", [30_00, None], ids=["fixed-30", "pool-rate-0.30"])
def test_seed_table_exactly(contribution: int | None) -> None:
    # Given the seed preset (its referral rate pays nobody: no one was referred)
    economy = Economy(SEED)
    # When 100 orders of 100.00 each contribute 30.00
    rows = run_orders(economy, 100, contribution)
    # Then the seed's table
    assert rows[0] == (21 * POINT, "1.4286")  # A
    assert rows[1] == (1_470_000_000, "1.6807")  # B: 14.7
    assert rows[2] == (1_249_500_000, "1.8674")  # C: 12.495
    assert rows[3][1] == "2.0188"  # D
    assert rows[99][1] == "5.1731"  # the 100th
    assert format_points(sum(units for units, _ in rows[:3])) == "48.19500000"
    assert economy.state.pool == 100 * 30_00
    assert economy.violations() == []


def test_seed_first_three_prices_are_exact_fractions() -> None:
    economy = Economy(SEED)
    prices = []
    for name in "ABC":
        economy.purchase(name, 100_00)
        prices.append(Fraction(*economy.price()) * POINT / 100)  # yuan per point
    # 30 / 21, 60 / 35.7 and 90 / 48.195 yuan per point, exactly
    assert prices == [Fraction(30, 21), Fraction(600, 357), Fraction(90_000, 48_195)]


def test_a_s_21_points_after_the_100th_order() -> None:
    economy = Economy(SEED)
    run_orders(economy, 100, 30_00)
    holder = economy.holder("buyer1")
    assert holder.points == 21 * POINT
    num, den = economy.price()
    worth_fen = holder.points * num // den
    assert format_money(worth_fen) == "108.63"  # economy.md: 21 × 5.1731 ≈ 108.63


def test_the_price_rises_with_every_order() -> None:
    economy = Economy(SEED)
    previous = Fraction(*economy.price())
    for i in range(100):
        economy.purchase(f"b{i}", 100_00)
        now = Fraction(*economy.price())
        assert now > previous
        previous = now
