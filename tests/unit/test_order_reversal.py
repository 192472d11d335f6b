"""``domain.economy.refund.plan_order_reversal`` and ``domain.ledger.reversal``'s
``apply_order_reversal`` (economy.md rule 9): a booked order refunded takes back what it gave.
After a purchase and its refund the buyer and
the referrers hold nothing from the order; what already left is owed at the price it left at;
the price never falls; every journal balances per asset; the engine's invariants hold."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmall.domain.economy import Economy, Params
from tokenmall.domain.economy.purchase import PurchaseResult
from tokenmall.domain.economy.refund import Exit, OrderReversal, plan_order_reversal
from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.ledger.journal import balance_by_asset, build
from tokenmall.domain.ledger.results import RewardsReversal
from tokenmall.domain.ledger.reversal import apply_order_reversal

AMOUNTS = st.lists(st.integers(min_value=1_000, max_value=10**7), min_size=0, max_size=5)
ORDER = st.integers(min_value=1_000, max_value=10**7)


def _economy(before: list[int]) -> Economy:
    economy = Economy(Params(referral_rates=(Fraction(1, 10), Fraction(1, 20))))
    economy.join("amy", "bob")
    economy.join("bob", "cat")
    for i, amount in enumerate(before):
        economy.purchase(("amy", "bob", "cat", "dan")[i % 4], amount)
    return economy


def _snapshot(state: EconomyState, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        n: (h.points, h.quota, h.quota_used, h.spend)
        for n in names
        if (h := state.holders.get(n)) is not None
    }


def _plan(
    state: EconomyState, r: PurchaseResult, exits: dict[str, list[Exit]] | None = None
) -> OrderReversal:
    return plan_order_reversal(
        state,
        order_ref="o1",
        buyer=r.buyer,
        grants=[(g.holder, g.units, g.level) for g in r.grants],
        quota_added=r.quota_added,
        spend_added=r.amount,
        exits=exits or {},
    )


def _price_at_least(after: tuple[int, int], before: tuple[int, int]) -> bool:
    return after[0] * before[1] >= before[0] * after[1]


@settings(max_examples=150, deadline=None)
@given(before=AMOUNTS, amount=ORDER, after=AMOUNTS)
def test_purchase_then_refund_leaves_no_reward_and_never_lowers_the_price(
    before: list[int], amount: int, after: list[int]
) -> None:
    economy = _economy(before)
    state = economy.state
    names = ("amy", "bob", "cat")
    held = _snapshot(state, names)
    bought = economy.purchase("amy", amount)
    for i, more in enumerate(after):  # others buy later: the price rises meanwhile
        economy.purchase(("dan", "eve")[i % 2], more)
    pool, price = state.pool, state.price()
    plan = _plan(state, bought)
    lines = apply_order_reversal(state, plan)
    # The buyer and the referrers hold what they held before the order, none of its rewards.
    for name, (points, quota, used, spend) in _snapshot(state, names).items():
        was = held.get(name, (0, 0, 0, 0))
        assert (points, quota, used, spend) == was, name
    assert plan.debt == 0  # nothing had left
    assert state.pool == pool  # the pool keeps the contribution
    assert _price_at_least(state.price(), price)
    assert _price_at_least(plan.price_after, plan.price_before)
    result = RewardsReversal.of(plan).to_json()
    journal = build(JournalCode.REFUND_REVERSAL, "k", "f", result, lines)
    assert set(balance_by_asset(journal.postings).values()) <= {0}
    assert economy.violations() == []


@settings(max_examples=150, deadline=None)
@given(
    before=AMOUNTS,
    amount=ORDER,
    sold_percent=st.integers(min_value=1, max_value=100),
    convert=st.booleans(),
)
def test_points_already_sold_or_converted_become_a_debt_at_the_price_they_left_at(
    before: list[int], amount: int, sold_percent: int, convert: bool
) -> None:
    economy = _economy(before)
    state = economy.state
    bought = economy.purchase("amy", amount)
    units = state.holders["amy"].points * sold_percent // 100
    if units == 0:
        return
    try:
        left = economy.convert("amy", units) if convert else economy.sell("amy", units)
    except DomainError:  # worth less than 0.01: nothing left
        return
    exits = {"amy": [Exit(left.units, left.price_num, left.price_den)]}
    price = state.price()
    plan = _plan(state, bought, exits)
    (buyer,) = [t for t in plan.takes if t.holder == "amy"]
    assert buyer.burned + buyer.gone == buyer.granted
    gone_value = buyer.gone * left.price_num
    assert buyer.gone_debt * left.price_den >= gone_value  # rounded up, never less
    assert (buyer.gone_debt - 1) * left.price_den < gone_value
    receivables, revenue = state.receivables, state.revenue
    lines = apply_order_reversal(state, plan)
    assert state.receivables - receivables == plan.debt
    assert state.revenue - revenue == plan.debt
    assert state.holders["amy"].points >= 0
    assert _price_at_least(state.price(), price)
    result = RewardsReversal.of(plan).to_json()
    journal = build(JournalCode.REFUND_REVERSAL, "k", "f", result, lines)
    assert set(balance_by_asset(journal.postings).values()) <= {0}
    assert economy.violations() == []


@settings(max_examples=100, deadline=None)
@given(before=AMOUNTS, amount=ORDER, paid_percent=st.integers(min_value=0, max_value=100))
def test_dividends_paid_against_the_removed_quota_become_a_debt(
    before: list[int], amount: int, paid_percent: int
) -> None:
    economy = _economy(before)
    state = economy.state
    bought = economy.purchase("amy", amount)
    amy = state.holders["amy"]
    quota_before_order = amy.quota - bought.quota_added
    amy.quota_used = amy.quota * paid_percent // 100  # as if dividends had used it
    used = amy.quota_used
    plan = _plan(state, bought)
    (buyer,) = [t for t in plan.takes if t.holder == "amy"]
    assert buyer.overdrawn_debt == max(0, used - quota_before_order)
    apply_order_reversal(state, plan)
    assert amy.quota == quota_before_order
    assert 0 <= amy.quota_used <= amy.quota
    if buyer.overdrawn_debt:
        assert amy.exited


def test_refunding_every_point_keeps_the_last_price() -> None:
    economy = Economy(Params())
    bought = economy.purchase("amy", 10_000)
    price = economy.state.price()
    plan = _plan(economy.state, bought)
    apply_order_reversal(economy.state, plan)
    assert economy.state.circulating == 0
    assert economy.state.price() == price
    assert economy.state.pool == bought.contribution


@settings(max_examples=100, deadline=None)
@given(before=AMOUNTS, amount=ORDER, percent=st.integers(min_value=1, max_value=100))
def test_a_partial_refund_takes_back_its_share_rounded_up(
    before: list[int], amount: int, percent: int
) -> None:
    economy = _economy(before)
    state = economy.state
    bought = economy.purchase("amy", amount)
    refund = max(1, amount * percent // 100)
    price = state.price()
    plan = plan_order_reversal(
        state,
        order_ref="o1",
        buyer="amy",
        grants=[(g.holder, g.units, g.level) for g in bought.grants],
        quota_added=bought.quota_added,
        spend_added=bought.amount,
        exits={},
        part=(refund, amount),
    )
    for take, grant in zip(plan.takes, bought.grants, strict=False):
        assert take.granted * amount >= grant.units * refund
        assert (take.granted - 1) * amount < grant.units * refund
    (buyer,) = [t for t in plan.takes if t.holder == "amy"]
    assert buyer.spend_removed == refund
    lines = apply_order_reversal(state, plan)
    assert _price_at_least(state.price(), price)
    result = RewardsReversal.of(plan).to_json()
    journal = build(JournalCode.REFUND_REVERSAL, "k", "f", result, lines)
    assert set(balance_by_asset(journal.postings).values()) <= {0}
    assert economy.violations() == []
