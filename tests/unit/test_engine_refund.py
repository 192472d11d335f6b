"""The engine refunds a booked order by economy.md rule 9 with the ledger's arithmetic
(``domain.economy.refund``): granted points burned, quota removed, debts for points already
gone at the price they left at and for dividends paid against the removed quota."""

from __future__ import annotations

from fractions import Fraction

from tokenmall.domain.economy import SEED, Economy
from tokenmall.domain.economy.refund import Exit, plan_order_reversal
from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.ledger.reversal import apply_order_reversal

POINT = 100_000_000


def _history() -> tuple[Economy, Exit]:
    economy = Economy(SEED)
    economy.join("B", "R")
    economy.purchase("R", 100_00)
    economy.purchase_order("o1", "B", 100_00)
    sold = economy.sell("B", 5 * POINT)
    economy.settle_day(1)
    return economy, Exit(5 * POINT, sold.price_num, sold.price_den)


def _figures(state: EconomyState) -> tuple[object, ...]:
    holders = {n: (h.points, h.quota, h.quota_used, h.spend) for n, h in state.holders.items()}
    return (holders, state.pool, state.circulating, state.burned, state.receivables, state.price())


def test_engine_takes_back_what_the_ledger_arithmetic_takes_back() -> None:
    economy, exit_ = _history()
    mirror, _ = _history()
    booked = mirror.orders["o1"].booked
    assert booked is not None
    plan = plan_order_reversal(
        mirror.state,
        order_ref="o1",
        buyer="B",
        grants=[(g.holder, g.units, g.level) for g in booked.grants],
        quota_added=booked.quota_added,
        spend_added=booked.amount,
        exits={"B": [exit_]},
    )
    apply_order_reversal(mirror.state, plan)

    price_before = Fraction(*economy.price())
    order = economy.refund_order("o1")
    assert order.reversal == plan
    assert _figures(economy.state) == _figures(mirror.state)
    assert economy.debts.get("B", 0) + economy.debts.get("R", 0) == plan.debt
    assert Fraction(*economy.price()) >= price_before
    assert economy.violations() == []


def test_refund_after_a_sale_and_a_dividend() -> None:
    economy, exit_ = _history()
    b = economy.holder("B")
    granted = economy.orders["o1"].booked
    assert granted is not None
    b_units = next(g.units for g in granted.grants if g.holder == "B")
    r_units = next(g.units for g in granted.grants if g.holder == "R")
    dividends = b.quota_used
    assert dividends > 0
    pool, price_before = economy.state.pool, Fraction(*economy.price())
    r_points = economy.holder("R").points
    economy.refund_order("o1")
    assert b.points == 0  # what was left of the grant burned
    assert economy.holder("R").points == r_points - r_units  # the referrer's grant too
    assert economy.state.burned == b_units + r_units  # 5 sold earlier, the rest now
    assert (b.quota, b.quota_used, b.spend) == (0, 0, 0)
    sold_debt = -(-5 * POINT * exit_.price_num // exit_.price_den)
    assert economy.debts["B"] == sold_debt + dividends
    assert economy.state.receivables == economy.debts["B"]
    assert economy.state.pool == pool  # the pool keeps the contribution
    assert Fraction(*economy.price()) >= price_before
    assert economy.violations() == []


def test_partial_refund_takes_back_its_share() -> None:
    economy = Economy(SEED.updated({"referral_rates": []}))
    economy.purchase("A", 100_00)
    economy.purchase_order("o1", "B", 100_00)
    granted = economy.holder("B").points
    economy.refund_order("o1", 25_00)
    assert economy.holder("B").points == granted - (-(-granted // 4))
    assert economy.holder("B").quota == 200_00 - 50_00
    assert economy.violations() == []


def test_exits_before_the_booking_are_not_charged() -> None:
    economy = Economy(SEED.updated({"referral_rates": []}))
    economy.purchase_order("o0", "A", 100_00)
    economy.sell("A", 1 * POINT)  # before o1: not o1's points
    economy.purchase_order("o1", "A", 100_00)
    economy.refund_order("o1")
    assert economy.debts.get("A", 0) == 0
    assert economy.violations() == []
