"""A SKU's fixed pool contribution must leave room for the dividend share and the commissions
of every order of it: ``purchase.fixed_contribution_limit``, the booking's own floors."""

from __future__ import annotations

from fractions import Fraction
from math import lcm

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmall.domain.economy import DEFAULT, SEED, Economy, Params
from tokenmall.domain.economy.purchase import (
    bookable,
    booking_take,
    check_fixed_contribution,
    fixed_contribution_limit,
)
from tokenmall.domain.errors import InvalidAmount


def test_the_seed_bottle_fits_and_the_limit_is_what_the_shares_leave() -> None:
    # 100.00 with a 30 % dividend share leaves 70.00; the seed (10 %) leaves 90.00
    assert fixed_contribution_limit(DEFAULT, 100_00) == 70_00
    assert fixed_contribution_limit(SEED, 100_00) == 90_00
    check_fixed_contribution(DEFAULT, 100_00, 30_00)
    with_commissions = DEFAULT.updated({"commission_rates": ["0.05", "0.02"]})
    assert fixed_contribution_limit(with_commissions, 100_00) == 63_00
    with pytest.raises(InvalidAmount, match=r"at most 63\.00"):
        check_fixed_contribution(with_commissions, 100_00, 63_01)


def test_one_unit_is_not_enough_the_floors_are_of_the_whole_order() -> None:
    # 0.01 at a 50 % dividend share: one unit takes no dividend, so a contribution of 0.01
    # books; three units take floor(0.015) = 0.01 and cannot carry 0.03 more
    params = DEFAULT.updated({"dividend_rate": "0.5", "pool_rate": "0.5"})
    assert bookable(params, 1, 1)
    assert not bookable(params, 3, 3)
    assert fixed_contribution_limit(params, 1) == 0


def test_an_order_above_the_limit_is_refused_at_booking() -> None:
    # The failure the limit prevents: the engine refuses to book 100.00 carrying 80.00 at 30 %
    economy = Economy(DEFAULT)
    with pytest.raises(InvalidAmount):
        economy.purchase("A", 100_00, 80_00)
    assert economy.violations() == []


RATE = st.fractions(0, 1, max_denominator=1000)


@st.composite
def params(draw: st.DrawFn) -> Params:
    dividend = draw(RATE)
    commissions = draw(st.lists(RATE, max_size=3))
    if dividend + sum(commissions) > 1:
        commissions = []
    if dividend > 1:
        dividend = Fraction(1)
    return Params(
        dividend_rate=dividend, pool_rate=Fraction(0), commission_rates=tuple(commissions)
    )


@settings(max_examples=400, deadline=None)
@given(
    p=params(),
    price=st.integers(1, 10**9),
    quantity=st.integers(1, 10**4),
    other=st.integers(0, 10**9),
)
def test_at_the_limit_every_quantity_books_and_above_it_some_quantity_does_not(
    p: Params, price: int, quantity: int, other: int
) -> None:
    limit = fixed_contribution_limit(p, price)
    assert 0 <= limit <= price
    # Every quantity, next to any amount of lines without a fixed contribution (pool_rate 0
    # here; the parameters' own check keeps pool_rate + the shares within 1)
    assert bookable(p, quantity * price + other, quantity * limit)
    if limit < price:
        # One fen more: at a quantity where every share is a whole number of fen (no floor
        # rounds anything away), the shares and the contributions exceed the amount
        q = lcm(*(r.denominator for r in (p.dividend_rate, *p.commission_rates)))
        assert not bookable(p, q * price, q * (limit + 1))
        with pytest.raises(InvalidAmount):
            check_fixed_contribution(p, price, limit + 1)
    assert booking_take(p, price) <= price
