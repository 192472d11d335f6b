"""Rules 1–5 and 7–9 of economy.md, one focused test each, with numbers computed by hand.

Units: money and stable points in fen, equity points in 1e-8 units; a price as fen per unit.
At 1.00 yuan per point the price is 100 fen per 1e8 units. Rule 6 is in test_dividend.py.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from tokenmall.domain.economy import SEED, Economy
from tokenmall.domain.economy.purchase import Grant
from tokenmall.domain.errors import (
    DomainError,
    InsufficientBalance,
    InvalidAmount,
    InvalidParameter,
    RuleViolation,
)

POINT = 10**8
NO_REFERRALS = SEED.updated({"referral_rates": []})


def price(economy: Economy) -> Fraction:
    return Fraction(*economy.price())


def two_buyers() -> Economy:
    """A and B each bought 100.00 (contribution 30.00): A 21 points, B 14.7, pool 60.00."""
    economy = Economy(NO_REFERRALS)
    economy.purchase("A", 100_00)
    economy.purchase("B", 100_00)
    assert economy.holder("A").points == 21 * POINT
    assert economy.holder("B").points == 1_470_000_000
    assert (economy.state.pool, economy.state.circulating) == (60_00, 3_570_000_000)
    return economy


# -- rule 1: purchase ------------------------------------------------------------------------


def test_purchase_grants_buyer_and_two_referral_levels() -> None:
    # Given A referred B and B referred C; referral rates 0.10 and 0.05; price 1.00
    economy = Economy(SEED.updated({"referral_rates": ["0.10", "0.05"]}))
    economy.join("B", "A")
    economy.join("C", "B")
    # When C pays 100.00
    result = economy.purchase("C", 100_00)
    # Then contribution 30.00; C gets 0.7 × 30 = 21 points, B 0.1 × 30 = 3, A 0.05 × 30 = 1.5
    assert result.contribution == 30_00
    assert result.grants == (
        Grant("C", 2_100_000_000, 0),
        Grant("B", 300_000_000, 1),
        Grant("A", 150_000_000, 2),
    )
    state = economy.state
    assert (state.pool, state.circulating, state.minted) == (30_00, 2_550_000_000, 2_550_000_000)
    assert state.dividend_pool == 10_00  # seed dividend rate 0.10
    assert result.revenue == 60_00
    c = economy.holder("C")
    assert (c.quota, c.spend) == (200_00, 100_00)
    assert economy.holder("B").quota == 0  # referrers get points, not quota
    assert price(economy) == Fraction(30_00, 2_550_000_000)  # 20/17 yuan per point

    # When C pays 77.77 at that price (20/17 yuan per point)
    economy.purchase("C", 77_77)
    # contribution floor(2333.1) = 2333 fen, dividend floor(777.7) = 777 fen;
    # grants 0.7 × 2333 / (3000 / 2.55e9) = 1_388_135_000 units,
    # 0.1 → 198_305_000 and 0.05 → 99_152_500
    assert economy.holder("C").points == 2_100_000_000 + 1_388_135_000
    assert economy.holder("B").points == 300_000_000 + 198_305_000
    assert economy.holder("A").points == 150_000_000 + 99_152_500
    assert (state.pool, state.circulating) == (5_333, 4_235_592_500)
    assert state.dividend_pool == 10_00 + 777

    # When C pays 50.00 at 5333 / 4_235_592_500 fen per unit, the grants round down:
    # 0.7 × 1500 / p = 833_934_394.337…, 0.1 → 119_133_484.905…, 0.05 → 59_566_742.452…
    result = economy.purchase("C", 50_00)
    assert [g.units for g in result.grants] == [833_934_394, 119_133_484, 59_566_742]
    assert economy.violations() == []


def test_max_supply_cap_grants_partially_then_mints_nothing() -> None:
    # Given a supply cap of 30 points; A (21 points) referred B
    economy = Economy(SEED.updated({"max_supply": "30"}))
    economy.purchase("A", 100_00)
    economy.join("B", "A")
    # When B pays 100.00 at 30/21: B would get 14.7 and A 2.1, only 9 are left
    result = economy.purchase("B", 100_00)
    # Then B gets the 9 left (the buyer first), A nothing; the whole contribution enters the pool
    assert result.grants == (Grant("B", 9 * POINT, 0),)
    assert economy.state.minted == 30 * POINT
    assert economy.state.pool == 60_00
    assert economy.holder("B").quota == 200_00
    # When C pays 100.00 after the cap
    result = economy.purchase("C", 100_00)
    # Then nothing is minted, the contribution still backs the 30 points: price 90 / 30 = 3.00
    assert result.grants == ()
    assert economy.state.minted == economy.state.circulating == 30 * POINT
    assert economy.state.pool == 90_00
    assert price(economy) == Fraction(300, POINT)
    assert economy.state.dividend_pool == 30_00
    assert economy.holder("C").quota == 200_00
    # And burning does not free room
    economy.sell("A", 1 * POINT)
    assert economy.purchase("D", 100_00).grants == ()
    assert economy.violations() == []


def test_fixed_contribution_of_a_product() -> None:
    economy = Economy(NO_REFERRALS)
    result = economy.purchase("A", 100_00, 20_00)
    assert result.contribution == 20_00
    assert result.grants == (Grant("A", 14 * POINT, 0),)  # 0.7 × 20 / 1.00
    assert result.dividend == 10_00
    assert result.revenue == 70_00


@pytest.mark.parametrize(
    ("amount", "contribution"),
    [(0, None), (-100, None), (100_00, 100_01), (100_00, 95_00), (100_00, -1)],
    ids=["zero", "negative", "contribution-above-amount", "with-dividend-above", "negative-fixed"],
)
def test_refused_purchase_by_a_known_buyer_changes_nothing(
    amount: int, contribution: int | None, snapshot: Any
) -> None:
    economy = two_buyers()
    before = snapshot(economy)
    with pytest.raises(InvalidAmount):
        economy.purchase("A", amount, contribution)
    assert snapshot(economy) == before


def test_refused_purchase_by_a_new_buyer_adds_no_one(snapshot: Any) -> None:
    economy = two_buyers()
    before = snapshot(economy)
    with pytest.raises(InvalidAmount):
        economy.purchase("newcomer", 0)
    assert snapshot(economy) == before


# -- rule 2: buyback -------------------------------------------------------------------------


def test_buyback_pays_after_fee_and_the_fee_goes_to_the_dividend_pool() -> None:
    # Given A 21 and B 14.7 points backed by 60.00: p = 6000 / 3.57e9 fen per unit; the
    # dividend pool holds 20.00 (10% of two orders); sell_fee_to = dividend_pool (the default)
    economy = two_buyers()
    assert economy.params.sell_fee_to == "dividend_pool"
    before = price(economy)
    # When A sells 10 points
    result = economy.sell("A", 10 * POINT)
    # Then the value is floor(10 × 60 / 35.7 yuan) = floor(1680.67…) = 1680 fen; the payout
    # floor(0.9 × 1680.67…) = 1512; the fee 1680 − 1512 = 168 goes to the dividend pool
    assert result.payout == 1512
    assert (result.fee_retained, result.fee_to_dividend, result.pool_out) == (168, 168, 1680)
    state = economy.state
    assert state.pool == 6000 - 1680  # the backing pool gave up the points' whole value
    assert state.dividend_pool == 20_00 + 168
    assert (state.circulating, state.burned) == (2_570_000_000, 10 * POINT)
    assert economy.holder("A").cash == 1512
    # The price after is the price before, up to the 0.67… fen the floor left in the pool:
    # 4320 − 2.57e9 × 6000 / 3.57e9 = 4320 − 4319.33… < 1
    assert price(economy) == Fraction(4320, 2_570_000_000)
    assert 0 <= state.pool - before * state.circulating < 1
    assert economy.violations() == []


def test_buyback_with_the_fee_to_the_backing_pool_keeps_the_fee_in_the_pool() -> None:
    # Given A 21 and B 14.7 points backed by 60.00: p = 6000 / 3.57e9 fen per unit, and the
    # fee kept in the backing pool (sell_fee_to = backing_pool, the old behaviour)
    economy = two_buyers()
    economy.set_params({"sell_fee_to": "backing_pool"})
    before = price(economy)
    # When A sells 10 points
    result = economy.sell("A", 10 * POINT)
    # Then gross = 10 × 60 / 35.7 = 16.8067… yuan; payout floor(0.9 × 1680.67…) = 1512 fen
    assert result.gross == (10 * POINT * 6000, 3_570_000_000)
    assert result.payout == 1512
    assert result.fee_retained == 168  # floor(1680.67) − 1512
    state = economy.state
    assert state.pool == 6000 - 1512  # the fee never left the pool
    assert (state.circulating, state.burned, state.minted) == (
        2_570_000_000,
        10 * POINT,
        3_570_000_000,
    )
    assert economy.holder("A").points == 11 * POINT
    assert economy.holder("A").cash == 1512
    assert economy.holder("A").quota_used == 0  # a voluntary sale uses no quota
    assert price(economy) == Fraction(4488, 2_570_000_000)
    assert price(economy) > before
    assert state.dividend_pool == 20_00  # untouched: 10% of the two orders
    assert economy.violations() == []


@pytest.mark.parametrize(
    ("user", "units", "error"),
    [
        ("A", 21 * POINT + 1, InsufficientBalance),
        ("nobody", 1, InsufficientBalance),
        ("A", 0, InvalidAmount),
        ("A", -1, InvalidAmount),
        ("A", 1, InvalidAmount),  # 1e-8 point is worth less than a fen
    ],
)
def test_refused_buyback_changes_nothing(
    user: str, units: int, error: type[DomainError], snapshot: Any
) -> None:
    economy = two_buyers()
    before = snapshot(economy)
    with pytest.raises(error):
        economy.sell(user, units)
    assert snapshot(economy) == before


# -- rule 3: convert to stable points --------------------------------------------------------


def test_convert_moves_points_to_the_treasury_and_issues_stable_points() -> None:
    economy = two_buyers()
    before = economy.price()
    # When A converts 10 points worth 16.8067… yuan, no fee
    result = economy.convert("A", 10 * POINT)
    # Then A gets floor(1680.67) = 1680 fen of stable points; the points still circulate
    assert result.value == 1680
    a = economy.holder("A")
    assert (a.points, a.stable, a.cash) == (11 * POINT, 1680, 0)
    state = economy.state
    assert (state.treasury, state.stable_outstanding) == (10 * POINT, 1680)
    assert (state.pool, state.circulating, state.burned) == (6000, 3_570_000_000, 0)
    assert economy.price() == before
    assert economy.violations() == []


def test_convert_fee_is_taken_from_the_value() -> None:
    economy = two_buyers()
    economy.set_params({"convert_fee_rate": "0.05"})
    assert economy.convert("A", 10 * POINT).value == 1596  # floor(1680.67… × 0.95)


def test_convert_more_than_held_changes_nothing(snapshot: Any) -> None:
    economy = two_buyers()
    before = snapshot(economy)
    with pytest.raises(InsufficientBalance):
        economy.convert("B", 1_470_000_001)
    assert snapshot(economy) == before


# -- rule 4: pay with stable points ----------------------------------------------------------


def test_pay_stable_moves_stable_points_and_adds_nothing_else() -> None:
    economy = two_buyers()
    economy.convert("A", 10 * POINT)  # A holds 16.80 stable points
    before_state = (economy.state.pool, economy.state.minted, economy.state.dividend_pool)
    # When A pays the wine shop 10.00 in stable points
    economy.pay_stable("A", "wine-shop", 10_00)
    # Then no new money: no contribution, grant, quota or spend
    a, shop = economy.holder("A"), economy.holder("wine-shop")
    assert (a.stable, shop.stable) == (680, 10_00)
    assert shop.merchant is True
    assert (a.quota, a.spend, shop.quota, shop.spend, shop.points) == (200_00, 100_00, 0, 0, 0)
    assert (economy.state.pool, economy.state.minted, economy.state.dividend_pool) == before_state
    assert economy.state.stable_outstanding == 1680
    assert economy.violations() == []


@pytest.mark.parametrize(
    ("payer", "payee", "amount", "error"),
    [
        ("A", "shop", 16_81, InsufficientBalance),  # pays with stable points A lacks
        ("B", "shop", 1, InsufficientBalance),  # B has none
        ("nobody", "shop", 1, InsufficientBalance),
        ("A", "shop", 0, InvalidAmount),
        ("A", "A", 1_00, RuleViolation),
    ],
)
def test_refused_pay_stable_changes_nothing(
    payer: str, payee: str, amount: int, error: type[DomainError], snapshot: Any
) -> None:
    economy = two_buyers()
    economy.convert("A", 10 * POINT)
    before = snapshot(economy)
    with pytest.raises(error):
        economy.pay_stable(payer, payee, amount)
    assert snapshot(economy) == before


# -- rule 5: merchant redemption -------------------------------------------------------------


def test_merchant_redeems_stable_points_for_treasury_points_at_the_price() -> None:
    economy = two_buyers()
    economy.convert("A", 10 * POINT)
    economy.pay_stable("A", "shop", 10_00)
    before = economy.price()
    # When the shop redeems 10.00 at 60 / 35.7 yuan per point
    result = economy.redeem_stable("shop", 10_00)
    # Then floor(10 × 35.7 / 60) = 5.95 points leave the treasury for the shop
    assert result.units == 595_000_000
    shop = economy.holder("shop")
    assert (shop.points, shop.stable) == (595_000_000, 0)
    state = economy.state
    assert (state.treasury, state.stable_outstanding) == (405_000_000, 680)
    assert (state.pool, state.circulating) == (6000, 3_570_000_000)
    assert economy.price() == before
    assert economy.violations() == []


def test_redeem_refusals_change_nothing(snapshot: Any) -> None:
    economy = two_buyers()
    economy.convert("A", 10 * POINT)  # treasury 10 points, A 16.80 stable
    economy.pay_stable("A", "shop", 16_80)
    before = snapshot(economy)
    with pytest.raises(RuleViolation, match="not a merchant"):
        economy.redeem_stable("A", 1)
    with pytest.raises(InsufficientBalance):
        economy.redeem_stable("shop", 16_81)
    with pytest.raises(InvalidAmount):
        economy.redeem_stable("shop", 0)
    assert snapshot(economy) == before
    # Redeeming all of it takes floor(16.80 × 35.7 / 60) = 9.996 points; the dust stays
    economy.redeem_stable("shop", 16_80)
    assert economy.state.treasury == 10 * POINT - 999_600_000
    assert economy.state.stable_outstanding == 0


# -- rule 7: forced exit ---------------------------------------------------------------------


def forced_exit_setup() -> Economy:
    """A, M (quota 10.00 each), B (quota 24.00), C (quota 200.00); no dividends.

    Four orders of 100.00 grant 21, 14.7, 12.495 and 11.2455 points: pool 120.00 backs
    59.4405 points, p0 = 12000 / 5_944_050_000 fen per unit (2.0188 yuan). C converts one
    point and pays M 1.00 in stable points, which makes M a merchant.
    """
    economy = Economy(NO_REFERRALS.updated({"dividend_rate": "0", "quota_multiple": "0.1"}))
    economy.purchase("A", 100_00)
    economy.purchase("M", 100_00)
    economy.set_params({"quota_multiple": "0.24"})
    economy.purchase("B", 100_00)
    economy.set_params({"quota_multiple": "2"})
    economy.purchase("C", 100_00)
    economy.convert("C", 1 * POINT)
    economy.pay_stable("C", "M", 1_00)
    return economy


def test_forced_exit_at_one_price_a_day_never_merchants() -> None:
    economy = forced_exit_setup()
    assert economy.price() == (12000, 5_944_050_000)
    # When the day is settled
    day = economy.settle_day(1)
    # Then A (21 points worth 42.39 >= 10.00 remaining) and B (12.495 worth 25.22 >= 24.00) are
    # bought back at p0, less the 10% fee: floor(3815.58…) and floor(2270.27…)
    assert [(e.holder, e.units, e.payout) for e in day.exits] == [
        ("A", 2_100_000_000, 3815),
        ("B", 1_249_500_000, 2270),
    ]
    assert (day.price_num, day.price_den) == (12000, 5_944_050_000)
    # B at the price after A's exit would have had floor(2394.…): one price for the day
    a, b, m, c = (economy.holder(n) for n in "ABMC")
    # The payout uses quota up to what remains; both have exited
    assert (a.points, a.cash, a.quota_used, a.exited) == (0, 3815, 10_00, True)
    assert (b.points, b.cash, b.quota_used, b.exited) == (0, 2270, 2270, True)
    # M holds points worth 29.68 >= its 10.00 of quota, but merchants are never forced out
    assert (m.points, m.exited) == (1_470_000_000, False)
    # C's 10.2455 points are worth 20.68 < 200.00
    assert (c.points, c.exited) == (1_024_550_000, False)
    # The fees go to the dividend pool (sell_fee_to = dividend_pool): the backing pool gives up
    # A's value floor(4239.53…) = 4239 and B's floor(2522.52…) = 2522; the fees are
    # 4239 − 3815 = 424 and 2522 − 2270 = 252
    assert [e.fee for e in day.exits] == [424, 252]
    state = economy.state
    assert (state.pool, state.circulating, state.burned) == (
        12000 - 4239 - 2522,
        2_594_550_000,
        3_349_500_000,
    )
    assert state.dividend_pool == 424 + 252  # for the next day (dividend_rate is 0 here)
    assert economy.violations() == []


def test_forced_exit_with_the_fee_to_the_backing_pool() -> None:
    economy = forced_exit_setup()
    economy.set_params({"sell_fee_to": "backing_pool"})
    assert economy.price() == (12000, 5_944_050_000)
    # When the day is settled
    day = economy.settle_day(1)
    # Then A (21 points worth 42.39 >= 10.00 remaining) and B (12.495 worth 25.22 >= 24.00) are
    # bought back at p0, less the 10% fee: floor(3815.58…) and floor(2270.27…)
    assert [(e.holder, e.units, e.payout) for e in day.exits] == [
        ("A", 2_100_000_000, 3815),
        ("B", 1_249_500_000, 2270),
    ]
    assert (day.price_num, day.price_den) == (12000, 5_944_050_000)
    # B at the price after A's exit would have had floor(2394.…): one price for the day
    a, b, m, c = (economy.holder(n) for n in "ABMC")
    # The payout uses quota up to what remains; both have exited
    assert (a.points, a.cash, a.quota_used, a.exited) == (0, 3815, 10_00, True)
    assert (b.points, b.cash, b.quota_used, b.exited) == (0, 2270, 2270, True)
    # M holds points worth 29.68 >= its 10.00 of quota, but merchants are never forced out
    assert (m.points, m.exited) == (1_470_000_000, False)
    # C's 10.2455 points are worth 20.68 < 200.00
    assert (c.points, c.exited) == (1_024_550_000, False)
    state = economy.state
    assert (state.pool, state.circulating, state.burned) == (5915, 2_594_550_000, 3_349_500_000)
    assert state.dividend_pool == 0  # dividend_rate 0, and the fees stayed in the backing pool
    assert economy.violations() == []


def test_forced_exit_off_leaves_everyone_in() -> None:
    economy = forced_exit_setup()
    economy.set_params({"forced_exit": False})
    day = economy.settle_day(1)
    assert day.exits == ()
    assert economy.holder("A").points == 21 * POINT


def test_settling_a_day_twice_changes_nothing(snapshot: Any) -> None:
    economy = forced_exit_setup()
    first = economy.settle_day(1)
    after_first = snapshot(economy)
    again = economy.settle_day(1)
    assert snapshot(economy) == after_first
    assert again.already_settled is True
    assert (again.distributed, again.exits) == (first.distributed, first.exits)


def test_settling_a_day_before_the_last_is_refused(snapshot: Any) -> None:
    economy = forced_exit_setup()
    economy.settle_day(5)
    before = snapshot(economy)
    with pytest.raises(RuleViolation):
        economy.settle_day(4)
    assert snapshot(economy) == before


# -- rule 8: shares, levels, leaderboard -----------------------------------------------------


def test_shares_and_levels_follow_cumulative_spend() -> None:
    economy = Economy(NO_REFERRALS)
    economy.purchase("A", 1_999_99)  # 9.99995 shares of 200.00
    assert (economy.shares("A"), economy.level("A")) == (9, "普通")
    economy.purchase("A", 1)  # 2000.00 spent
    assert (economy.shares("A"), economy.level("A")) == (10, "银牌")
    economy.purchase("A", 8_000_00)  # 10,000.00
    assert (economy.shares("A"), economy.level("A")) == (50, "金牌")
    economy.purchase("B", 40_000_00)
    assert (economy.shares("B"), economy.level("B")) == (200, "合伙人")


def test_paying_with_stable_points_earns_no_shares() -> None:
    economy = two_buyers()
    economy.convert("A", 10 * POINT)
    economy.pay_stable("A", "B", 16_80)
    assert economy.holder("B").spend == 100_00


def test_leaderboard_ranks_by_points_ties_to_who_got_there_first() -> None:
    economy = two_buyers()  # A 21, B 14.7 points
    economy.purchase("C", 100_00)  # C 12.495
    assert [(r.rank, r.holder) for r in economy.leaderboard()] == [(1, "A"), (2, "B"), (3, "C")]
    # When A sells down to exactly B's 14.7, A reached it later: B ranks first
    economy.sell("A", 630_000_000)
    board = economy.leaderboard()
    assert [(r.holder, r.units) for r in board] == [
        ("B", 1_470_000_000),
        ("A", 1_470_000_000),
        ("C", 1_249_500_000),
    ]
    # When B's balance changes and comes back to 14.7, A was there first now
    economy.convert("B", 1 * POINT)
    economy.pay_stable("B", "shop", 1_00)
    economy.redeem_stable("shop", 1_00)  # 'shop' gets points, B does not
    economy.sell("A", 1 * POINT)
    assert [r.holder for r in economy.leaderboard(limit=2)] == ["B", "A"]
    # Holders with nothing are not ranked
    assert "nobody" not in [r.holder for r in economy.leaderboard(limit=100)]


# -- rule 9: refunds -------------------------------------------------------------------------


def test_refund_before_booking_leaves_no_trace(snapshot: Any) -> None:
    economy = two_buyers()  # grant_on 'completed' (default): orders wait
    before = snapshot(economy)
    order = economy.place_order("o1", "C", 100_00)
    assert order.status == "pending"
    assert snapshot(economy)[:2] == before[:2]  # state and holders untouched while pending
    economy.refund_order("o1")
    assert economy.orders["o1"].status == "refunded"
    assert snapshot(economy)[:2] == before[:2]
    # A refunded order can never be booked
    after_refund = snapshot(economy)
    with pytest.raises(RuleViolation):
        economy.book_order("o1")
    assert snapshot(economy) == after_refund


def test_a_booked_order_refunded_gives_its_rewards_back(snapshot: Any) -> None:
    economy = two_buyers()
    economy.place_order("o1", "C", 100_00)
    result = economy.book_order("o1")
    assert result.grants == (Grant("C", 1_249_500_000, 0),)
    before_price = price(economy)
    order = economy.refund_order("o1")  # rule 9: the granted points burn, the quota goes
    assert order.status == "refunded"
    assert order.reversal is not None
    assert order.reversal.burned == 1_249_500_000
    c = economy.holder("C")
    assert (c.points, c.quota, c.spend) == (0, 0, 0)
    assert economy.debts == {}
    assert economy.state.pool == 90_00  # the pool keeps the contribution
    assert price(economy) >= before_price
    assert economy.violations() == []
    after = snapshot(economy)
    with pytest.raises(RuleViolation, match="already refunded"):
        economy.refund_order("o1")
    with pytest.raises(RuleViolation):
        economy.book_order("o1")
    with pytest.raises(RuleViolation, match="already exists"):
        economy.place_order("o1", "C", 100_00)
    assert snapshot(economy) == after


def test_grant_on_paid_books_at_once() -> None:
    economy = Economy(NO_REFERRALS.updated({"grant_on": "paid"}))
    order = economy.place_order("o1", "A", 100_00)
    assert order.status == "booked"
    assert economy.holder("A").points == 21 * POINT
    economy.refund_order("o1")
    assert economy.holder("A").points == 0
    assert economy.state.burned == 21 * POINT


# -- referrals -------------------------------------------------------------------------------


def test_referral_binding_refusals_change_nothing(snapshot: Any) -> None:
    economy = Economy(SEED)
    economy.join("B", "A")
    economy.join("C", "B")
    before = snapshot(economy)
    with pytest.raises(RuleViolation, match="cycle"):
        economy.join("A", "C")
    with pytest.raises(RuleViolation, match="already bound"):
        economy.join("C", "A")
    with pytest.raises(RuleViolation, match="themselves"):
        economy.join("D", "D")
    assert snapshot(economy) == before
    economy.join("C", "B")  # the same pair again is a no-op
    assert snapshot(economy) == before


def test_refused_order_at_grant_on_paid_leaves_no_order(snapshot: Any) -> None:
    economy = Economy(NO_REFERRALS.updated({"grant_on": "paid"}))
    economy.purchase("A", 100_00)
    before = snapshot(economy)
    with pytest.raises(InvalidAmount):
        economy.place_order("o1", "A", 100_00, 95_00)  # 95.00 + 10.00 dividend > 100.00
    assert snapshot(economy) == before


def test_max_supply_is_fixed_after_the_first_grant_lowered_never_raised() -> None:
    economy = Economy(SEED.updated({"max_supply": "30"}))
    economy.set_params({"max_supply": "40"})  # before any grant: free to set
    economy.purchase("A", 100_00)  # 21 points minted
    before = (economy.params, economy.state.seq)
    with pytest.raises(InvalidParameter, match="never raised"):
        economy.set_params({"max_supply": "40.00000001"})
    with pytest.raises(InvalidParameter, match="below the points already minted"):
        economy.set_params({"max_supply": "20.99999999"})
    assert (economy.params, economy.state.seq) == before
    economy.set_params({"max_supply": "21"})  # lowered to what has been minted
    assert economy.params.max_supply_units == 21 * POINT
    with pytest.raises(InvalidParameter, match="never raised"):
        economy.set_params({"max_supply": "30"})
