"""domain.economy.health: the figures the simulator and the live solvency report share."""

from __future__ import annotations

import pytest

from tokenmall.domain.economy import DEFAULT, SEED, Economy
from tokenmall.domain.economy.health import figures, health, quota_outstanding
from tokenmall.domain.errors import InvalidAmount

POINT = 10**8


def test_days_to_pay_is_the_unfunded_quota_over_the_daily_dividend_inflow_rounded_up() -> None:
    # Given 1,000.00 of quota outstanding, 100.00 already in the dividend pool, and 1,000.00 of
    # sales a day of which dividend_rate 0.30 (300.00) reaches the dividend pool
    h = figures(
        DEFAULT,
        pool=300_00,
        circulating=100 * POINT,
        price=(300_00, 100 * POINT),
        dividend_pool=100_00,
        quota_outstanding=1_000_00,
        daily_inflow=1_000_00,
        stable_outstanding=0,
        treasury=0,
    )
    # Then 900.00 is unfunded and takes ceil(900 / 300) = 3 days
    assert h.unfunded_quota == 900_00
    assert h.daily_dividend_inflow == 300_00
    assert h.days_to_pay_quota == 3
    # and one fen more unfunded takes a fourth day
    h = figures(
        DEFAULT,
        pool=300_00,
        circulating=100 * POINT,
        price=(300_00, 100 * POINT),
        dividend_pool=100_00 - 1,
        quota_outstanding=1_000_00,
        daily_inflow=1_000_00,
        stable_outstanding=0,
        treasury=0,
    )
    assert h.days_to_pay_quota == 4


def test_with_no_inflow_the_quota_is_never_paid_and_the_statement_says_so() -> None:
    h = figures(
        DEFAULT,
        pool=300_00,
        circulating=100 * POINT,
        price=(300_00, 100 * POINT),
        dividend_pool=0,
        quota_outstanding=500_00,
        daily_inflow=0,
        stable_outstanding=0,
        treasury=0,
    )
    assert h.days_to_pay_quota is None
    public = h.to_public()
    assert public["days_to_pay_quota"] is None
    assert public["quota_outstanding"] == "500.00"
    text = " ".join(public["statement"])
    assert "never paid" in text
    assert "永远付不完" in text
    assert "promises no returns" in text


def test_a_dividend_pool_that_covers_the_quota_needs_zero_days() -> None:
    h = figures(
        DEFAULT,
        pool=0,
        circulating=0,
        price=(1, 1),
        dividend_pool=500_00,
        quota_outstanding=500_00,
        daily_inflow=0,
        stable_outstanding=0,
        treasury=0,
    )
    assert (h.unfunded_quota, h.days_to_pay_quota) == (0, 0)


def test_stable_cover_is_treasury_value_over_stable_outstanding_rounded_down() -> None:
    # Given 3 treasury points at 1.00 each against 2.00 of stable points: cover 1.5
    h = figures(
        DEFAULT,
        pool=3_00,
        circulating=3 * POINT,
        price=(3_00, 3 * POINT),
        dividend_pool=0,
        quota_outstanding=0,
        daily_inflow=0,
        stable_outstanding=2_00,
        treasury=3 * POINT,
    )
    assert h.treasury_value == 3_00
    assert h.stable_cover == "1.5000"
    # and against 3.00 of stable points, 1 point at a price of 1/3: cover rounds down
    h = figures(
        DEFAULT,
        pool=1_00,
        circulating=3 * POINT,
        price=(1_00, 3 * POINT),
        dividend_pool=0,
        quota_outstanding=0,
        daily_inflow=0,
        stable_outstanding=3_00,
        treasury=7 * POINT,
    )
    assert h.stable_cover == "0.7777"
    assert (
        figures(
            DEFAULT,
            pool=0,
            circulating=0,
            price=(1, 1),
            dividend_pool=0,
            quota_outstanding=0,
            daily_inflow=0,
            stable_outstanding=0,
            treasury=0,
        ).stable_cover
        is None
    )


def test_negative_inflow_is_refused() -> None:
    with pytest.raises(InvalidAmount, match="daily inflow"):
        figures(
            DEFAULT,
            pool=0,
            circulating=0,
            price=(1, 1),
            dividend_pool=0,
            quota_outstanding=0,
            daily_inflow=-1,
            stable_outstanding=0,
            treasury=0,
        )


def test_health_of_an_economy_counts_only_holders_who_have_not_exited() -> None:
    # Given two buyers of 100.00 with the seed's parameters (quota 200.00 each)
    economy = Economy(SEED.updated({"referral_rates": []}))
    economy.purchase("a", 100_00, 30_00)
    economy.purchase("b", 100_00, 30_00)
    assert quota_outstanding(economy.state) == 400_00
    # When b has exited (as rule 6 or 7 would leave them)
    economy.holder("b").exited = True
    # Then only a's remaining quota is outstanding, and the figures match the state
    h = health(economy.state, economy.params, daily_inflow=200_00)
    assert h.quota_outstanding == 200_00
    assert h.pool == 60_00
    assert h.dividend_pool == 20_00
    assert h.daily_dividend_inflow == 20_00  # seed dividend_rate 0.10
    assert h.days_to_pay_quota == 9  # (200.00 - 20.00) / 20.00
    assert (h.price_num, h.price_den) == economy.price()
    assert h.to_public()["price"] == "1.68067227"


def test_the_statement_names_what_is_backed_and_what_is_a_promise() -> None:
    economy = Economy(SEED)
    economy.purchase("a", 100_00, 30_00)
    lines = health(economy.state, economy.params, daily_inflow=100_00).to_public()["statement"]
    assert lines[0].startswith("有保障")
    assert "Backed: all 21.00000000 circulating equity points" in lines[0]
    assert "backing pool of 30.00" in lines[0]
    assert lines[1].startswith("是承诺")
    assert "quota outstanding of 200.00" in lines[1]
    assert "takes 19 days" in lines[2]  # (200.00 - 10.00) / 10.00
    assert "adds 2 of quota and only 0.1 of dividend funding" in lines[3]


@pytest.mark.parametrize(
    ("fee_to", "pool", "dividend_pool", "says"),
    [
        # A sells all 210 of 224.7 points: worth 308.41, paid 277.57, fee 30.84
        ("dividend_pool", 330_00 - 308_41, 110_00 + 30_84, "go to the dividend pool"),
        ("backing_pool", 330_00 - 277_57, 110_00, "stay in the backing pool"),
    ],
)
def test_the_figures_follow_where_the_sell_fee_goes(
    fee_to: str, pool: int, dividend_pool: int, says: str
) -> None:
    economy = Economy(SEED.updated({"sell_fee_to": fee_to}))
    economy.purchase("A", 1000_00)
    economy.purchase("B", 100_00)
    economy.sell("A", 210 * POINT)
    h = health(economy.state, economy.params, daily_inflow=0)
    public = h.to_public()
    assert (h.pool, h.dividend_pool) == (pool, dividend_pool)
    assert h.sell_fee_to == fee_to
    assert any(says in line for line in public["statement"])
    # with the fee in the dividend pool, B's points are backed at the price before the sale
    # (330.00 / 224.7 = 1.46862…), up to the 0.12 fen the floor left: 21.59 / 14.7 = 1.46870…
    if fee_to == "dividend_pool":
        assert public["price"] == "1.46870748"
