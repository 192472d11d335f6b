"""An order's money split, property-tested: parts add up, nothing negative, floors as before."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenmall.domain.mall import escrow
from tokenmall.domain.mall.orders import OrderLine

FEN = st.integers(min_value=0, max_value=10**12)
POSITIVE = st.integers(min_value=1, max_value=10**12)


@given(POSITIVE, st.data())
def test_a_plan_adds_up_and_is_never_negative(total: int, data: st.DataObject) -> None:
    stable = data.draw(st.integers(min_value=0, max_value=total))
    plan = escrow.plan(total, stable)
    assert plan.money_fen >= 0
    assert plan.stable_fen >= 0
    assert plan.money_fen + plan.stable_fen == plan.total_fen == total


@given(POSITIVE, st.integers(min_value=1, max_value=10**12))
def test_a_plan_refuses_more_stable_than_the_total(total: int, extra: int) -> None:
    with pytest.raises(ValueError, match="cannot pay"):
        escrow.plan(total, total + extra)
    with pytest.raises(ValueError, match="cannot pay"):
        escrow.plan(total, -extra)


@given(FEN, st.lists(POSITIVE, min_size=1, max_size=12))
def test_stable_points_fill_the_orders_in_turn(stable: int, totals: list[int]) -> None:
    plans = escrow.fill_stable(stable, totals)
    assert [p.total_fen for p in plans] == totals
    assert all(p.money_fen >= 0 and p.stable_fen >= 0 for p in plans)
    assert sum(p.stable_fen for p in plans) == min(stable, sum(totals))
    # an order takes stable points only once every earlier order is paid in them whole
    for i, p in enumerate(plans):
        if p.stable_fen and i:
            assert all(q.money_fen == 0 for q in plans[:i])


@given(FEN, st.data())
def test_the_money_part_contribution_is_the_floor_of_its_share(
    contribution: int, data: st.DataObject
) -> None:
    total = data.draw(POSITIVE)
    money = data.draw(st.integers(min_value=0, max_value=total))
    got = escrow.money_part_contribution(contribution, money, total)
    assert got == contribution * money // total
    assert 0 <= got <= contribution
    assert got * total <= contribution * money < (got + 1) * total
    assert escrow.money_part_contribution(contribution, total, total) == contribution
    assert escrow.money_part_contribution(contribution, 0, total) == 0


def _line(n: int, price: int, quantity: int, pool: int | None) -> OrderLine:
    return OrderLine(n, f"sku_{n}", f"prd_{n}", "t", "s", price, quantity, price * quantity, pool)


LINES = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=10**8),
        st.integers(min_value=1, max_value=100),
        st.one_of(st.none(), st.integers(min_value=0, max_value=10**8)),
    ),
    min_size=1,
    max_size=10,
)


@given(LINES)
def test_fixed_contributions_sum_the_fixed_lines_and_total_the_others(
    drawn: list[tuple[int, int, int | None]],
) -> None:
    lines = [_line(n, price, qty, pool) for n, (price, qty, pool) in enumerate(drawn, start=1)]
    found = escrow.fixed_contributions(lines)
    if all(pool is None for _, _, pool in drawn):
        assert found is None
        return
    assert found is not None
    fixed, rest = found
    assert fixed == sum(pool * qty for _, qty, pool in drawn if pool is not None)
    assert rest == sum(price * qty for price, qty, pool in drawn if pool is None)
    assert fixed >= 0
    assert rest >= 0
