"""Random histories of every event type, with economy.md's invariants checked after every step.

A hypothesis ``RuleBasedStateMachine`` drives one ``Economy``: joins, purchases with and without
a fixed contribution, sells, conversions, stable payments and redemptions, orders (place, book,
refund), business days (and the same day again), and parameter changes — including a
``max_supply`` just above what is minted, ``forced_exit`` on and off and ``dividend_weight``
points or shares. Amounts are drawn so that many events are refused; a refused event must
change nothing. After every step: ``Economy.violations()`` is empty, the price has not fallen
(exact fraction compare), no one has more dividend than quota. Each day's payouts are checked
against an exact Fraction water-filling and each day's forced exits against rule 7 at the
day's one price.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, fields
from fractions import Fraction
from math import floor
from typing import Any, TypeVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tokenmall.domain.economy import SEED, Economy
from tokenmall.domain.economy.state import EconomyState, Holder
from tokenmall.domain.errors import DomainError
from tokenmall.domain.money import format_points

T = TypeVar("T")
POINT = 10**8
USERS = ("u0", "u1", "u2", "u3", "u4")
MERCHANTS = ("m0", "m1")
NAMES = USERS + MERCHANTS

RATE = st.sampled_from(["0", "0.05", "0.1", "0.3", "0.5", "0.7", "0.9", "1"])
PARAM_CHANGES = st.one_of(
    st.fixed_dictionaries({"grant_rate": RATE}),
    st.fixed_dictionaries(
        {"referral_rates": st.lists(st.sampled_from(["0", "0.05", "0.1", "0.2"]), max_size=3)}
    ),
    st.fixed_dictionaries({"pool_rate": RATE}),
    st.fixed_dictionaries({"dividend_rate": RATE}),
    st.fixed_dictionaries({"quota_multiple": st.sampled_from(["0", "0.1", "0.5", "2", "3"])}),
    st.fixed_dictionaries({"sell_fee_rate": RATE}),
    st.fixed_dictionaries({"sell_fee_to": st.sampled_from(["dividend_pool", "backing_pool"])}),
    st.fixed_dictionaries({"convert_fee_rate": RATE}),
    st.fixed_dictionaries({"forced_exit": st.booleans()}),
    st.fixed_dictionaries({"dividend_weight": st.sampled_from(["points", "shares"])}),
    st.fixed_dictionaries({"share_unit": st.sampled_from(["0.50", "1.00", "200.00"])}),
    st.fixed_dictionaries({"initial_price": st.sampled_from(["0.50", "1", "2.00"])}),
    st.fixed_dictionaries({"grant_on": st.sampled_from(["paid", "completed"])}),
    st.fixed_dictionaries({"pool_rate": RATE, "dividend_rate": RATE, "grant_rate": RATE}),
)
# A share of a balance to act on: mostly within it, sometimes above (refused) or zero.
SHARE = st.one_of(st.fractions(0, 1), st.just(Fraction(1)), st.fractions(1, 2))
AMOUNT = st.one_of(st.integers(1, 500_00), st.integers(-100, 0), st.integers(1, 100))


def snapshot(economy: Economy) -> Any:
    state = economy.state
    aggregates = {
        f.name: getattr(state, f.name) for f in fields(EconomyState) if f.name != "holders"
    }
    holders = {
        name: {slot: getattr(h, slot) for slot in Holder.__slots__}
        for name, h in state.holders.items()
    }
    orders = {key: astuple(order) for key, order in economy.orders.items()}
    return (
        aggregates,
        holders,
        orders,
        dict(economy.days),
        economy.params,
        len(economy.param_changes),
    )


def water_filling(amount: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Exact reference for rule 6: floor(min(r, λ·w)) with λ the largest level that fits."""
    if sum(r for _, r in pairs) <= amount:
        return [r for _, r in pairs]
    total_weight = sum(w for w, _ in pairs)
    capped_r = capped_w = 0
    level = Fraction(amount, total_weight)
    for w, r in sorted(pairs, key=lambda pair: Fraction(pair[1], pair[0])):
        if Fraction(r, w) > level:
            break
        capped_r, capped_w = capped_r + r, capped_w + w
        level = Fraction(amount - capped_r, total_weight - capped_w)
    return [floor(min(Fraction(r), level * w)) for w, r in pairs]


class EconomyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.economy = Economy(SEED.updated({"referral_rates": ["0.10", "0.05"]}))
        self.price = Fraction(*self.economy.price())
        self.day = 0
        self.orders: list[str] = []

    @initialize(
        quota_multiple=st.sampled_from(["0.1", "0.5", "2"]),
        dividend_rate=st.sampled_from(["0.1", "0.3", "0.5"]),
        max_supply=st.sampled_from(["100000000", "500", "60"]),
        forced_exit=st.sampled_from([True, True, False]),
        dividend_weight=st.sampled_from(["points", "shares"]),
    )
    def start(
        self,
        quota_multiple: str,
        dividend_rate: str,
        max_supply: str,
        forced_exit: bool,
        dividend_weight: str,
    ) -> None:
        params = SEED.updated(
            {
                "referral_rates": ["0.10", "0.05"],
                "quota_multiple": quota_multiple,
                "dividend_rate": dividend_rate,
                "max_supply": max_supply,
                "forced_exit": forced_exit,
                "dividend_weight": dividend_weight,
                "share_unit": "50.00",
            }
        )
        self.economy = Economy(params)
        self.price = Fraction(*self.economy.price())

    # -- helpers ------------------------------------------------------------------------------

    def attempt(self, action: Callable[[], T]) -> T | None:
        """Run an event; if the rules refuse it, nothing may have changed."""
        before = snapshot(self.economy)
        try:
            result = action()
        except DomainError as exc:
            event(f"refused: {type(exc).__name__}")
            assert snapshot(self.economy) == before
            return None
        event(f"applied: {type(result).__name__}")
        return result

    def pick(self, index: int, has: Callable[[Holder], bool]) -> str:
        """Mostly someone who ``has`` something to act on; otherwise any name."""
        found = sorted(h.name for h in self.economy.state.holders.values() if has(h))
        choices = found if found and index % 4 else list(NAMES)
        return choices[index % len(choices)]

    def points(self, name: str) -> int:
        holder = self.economy.state.holders.get(name)
        return holder.points if holder else 0

    def stable(self, name: str) -> int:
        holder = self.economy.state.holders.get(name)
        return holder.stable if holder else 0

    # -- events -------------------------------------------------------------------------------

    @rule(user=st.sampled_from(USERS), referrer=st.sampled_from(NAMES))
    def join(self, user: str, referrer: str) -> None:
        self.attempt(lambda: self.economy.join(user, referrer))

    @rule(
        user=st.sampled_from(NAMES),
        amount=AMOUNT,
        fixed=st.one_of(st.none(), st.fractions(0, 1), st.just(Fraction(1))),
    )
    def purchase(self, user: str, amount: int, fixed: Fraction | None) -> None:
        contribution = None if fixed is None else floor(fixed * max(amount, 0))
        self.checked_purchase(user, amount, contribution)

    @rule(user=st.sampled_from(NAMES), amount=st.integers(1_00, 1_000_00))
    def purchase_plain(self, user: str, amount: int) -> None:
        # Most purchases in life are plain ones; this keeps histories full of points and quota.
        self.checked_purchase(user, amount, None)

    @rule(
        merchant=st.sampled_from(MERCHANTS),
        buyer=st.sampled_from(USERS),
        amount=st.integers(1_00, 1_000_00),
    )
    def merchant_sale(self, merchant: str, buyer: str, amount: int) -> None:
        # A shop that also buys, then takes stable points: a merchant with points and quota,
        # whom rule 7 must never force out.
        self.checked_purchase(merchant, amount, None)
        self.checked_purchase(buyer, amount, None)
        units = self.points(buyer) // 2
        self.attempt(lambda: self.economy.convert(buyer, units))
        stable = self.stable(buyer)
        self.attempt(lambda: self.economy.pay_stable(buyer, merchant, stable))

    def checked_purchase(self, user: str, amount: int, contribution: int | None) -> None:
        """Rule 1 with every figure predicted from the state before it."""
        economy, state = self.economy, self.economy.state
        params = economy.params
        p = Fraction(*state.price())
        c = floor(amount * params.pool_rate) if contribution is None else contribution
        chain: list[str] = []
        above = state.holders[user].referrer if user in state.holders else None
        while above is not None and len(chain) < len(params.referral_rates):
            chain.append(above)
            above = state.holders[above].referrer
        room = params.max_supply_units - state.minted
        expected = []
        rates = [params.grant_rate, *params.referral_rates][: len(chain) + 1]
        for name, rate in zip([user, *chain], rates, strict=True):
            units = min(floor(rate * c / p), room) if p else 0
            room -= units
            if units > 0:
                expected.append((name, units))
        pool, dividend_pool, minted = state.pool, state.dividend_pool, state.minted
        quota = state.holders[user].quota if user in state.holders else 0
        held = {name: self.points(name) for name in NAMES}
        result = self.attempt(lambda: economy.purchase(user, amount, contribution))
        if result is None:
            return
        assert [(g.holder, g.units) for g in result.grants] == expected
        granted = dict.fromkeys(NAMES, 0)
        for name, units in expected:
            granted[name] += units
        assert {name: self.points(name) - held[name] for name in NAMES} == granted
        assert state.minted == minted + sum(granted.values())
        assert state.pool == pool + c
        assert state.dividend_pool == dividend_pool + floor(amount * params.dividend_rate)
        assert state.holders[user].quota == quota + floor(amount * params.quota_multiple)

    @rule(who=st.integers(0, 1000), share=SHARE)
    def sell(self, who: int, share: Fraction) -> None:
        user = self.pick(who, lambda h: h.points > 0)
        units = floor(share * self.points(user))
        p = Fraction(*self.economy.price())
        keep = 1 - self.economy.params.sell_fee_rate
        to_dividend = self.economy.params.sell_fee_to == "dividend_pool"
        state = self.economy.state
        pool, dividend_pool = state.pool, state.dividend_pool
        result = self.attempt(lambda: self.economy.sell(user, units))
        if result is not None:
            assert result.payout == floor(units * p * keep)
            # Rule 2: the backing pool gives up floor(q × p) and the fee goes to the dividend
            # pool, or (backing_pool) it gives up only the payout
            fee = floor(units * p) - result.payout if to_dividend else 0
            assert state.pool == pool - result.payout - fee
            assert state.dividend_pool == dividend_pool + fee
            if to_dividend and state.circulating:
                assert state.pool - p * state.circulating < 1  # the price stays, up to a fen

    @rule(who=st.integers(0, 1000), share=SHARE)
    def convert(self, who: int, share: Fraction) -> None:
        user = self.pick(who, lambda h: h.points > 0)
        units = floor(share * self.points(user))
        p = Fraction(*self.economy.price())
        keep = 1 - self.economy.params.convert_fee_rate
        result = self.attempt(lambda: self.economy.convert(user, units))
        if result is not None:
            assert result.value == floor(units * p * keep)

    @rule(who=st.integers(0, 1000), merchant=st.sampled_from((*MERCHANTS, *NAMES)), share=SHARE)
    def pay_stable(self, who: int, merchant: str, share: Fraction) -> None:
        user = self.pick(who, lambda h: h.stable > 0)
        amount = floor(share * self.stable(user)) or 1
        self.attempt(lambda: self.economy.pay_stable(user, merchant, amount))

    @rule(who=st.integers(0, 1000), share=SHARE)
    def redeem_stable(self, who: int, share: Fraction) -> None:
        merchant = self.pick(who, lambda h: h.merchant and h.stable > 0)
        amount = floor(share * self.stable(merchant)) or 1
        p = Fraction(*self.economy.price())
        result = self.attempt(lambda: self.economy.redeem_stable(merchant, amount))
        if result is not None:
            assert result.units == floor(amount / p)

    @rule(user=st.sampled_from(NAMES), amount=st.integers(1, 500_00))
    def place_order(self, user: str, amount: int) -> None:
        # Only orders whose booking cannot be refused: a refused booking at grant_on=paid
        # leaves a pending order behind (engine.py bug, xfail in test_rules.py).
        order_id = f"o{len(self.orders)}"
        if self.attempt(lambda: self.economy.place_order(order_id, user, amount)) is not None:
            self.orders.append(order_id)

    @rule(index=st.integers(0, 1000))
    def book_order(self, index: int) -> None:
        if self.orders:
            order_id = self.orders[index % len(self.orders)]
            self.attempt(lambda: self.economy.book_order(order_id))

    @rule(index=st.integers(0, 1000), share=st.one_of(st.none(), SHARE))
    def refund_order(self, index: int, share: Fraction | None) -> None:
        # A booked order refunded takes back what it gave (rule 9), in full or a share of it.
        if self.orders:
            order_id = self.orders[index % len(self.orders)]
            order = self.economy.orders[order_id]
            amount = None if share is None else max(1, floor(share * order.amount))
            self.attempt(lambda: self.economy.refund_order(order_id, amount))

    @rule(changes=PARAM_CHANGES)
    def change_params(self, changes: dict[str, Any]) -> None:
        minted_before = self.economy.state.minted
        applied = self.attempt(lambda: self.economy.set_params(changes)) is not None
        if applied and "initial_price" in changes and minted_before == 0:
            # Before the first grant the operator may set the starting price (economy.md);
            # it is the one event allowed to move the price, to a new baseline.
            self.price = Fraction(*self.economy.price())

    @rule(extra=st.integers(-3 * POINT, 30 * POINT))
    def change_max_supply(self, extra: int) -> None:
        # Small caps, so that histories run into them; below what is minted is refused.
        cap = format_points(self.economy.state.minted + extra)
        self.attempt(lambda: self.economy.set_params({"max_supply": cap}))

    @rule()
    def settle_day(self) -> None:
        economy, state = self.economy, self.economy.state
        params = economy.params
        price_num, price_den = state.price()
        dividend_pool = state.dividend_pool
        holders = list(state.holders.values())
        before = {h.name: (h.points, h.cash, h.quota_used, h.dividends) for h in holders}

        def weight(h: Holder) -> int:
            if params.dividend_weight == "shares":
                return h.spend // params.share_unit_fen
            return h.points

        eligible = [h for h in holders if not h.exited and h.remaining_quota > 0 and weight(h) > 0]
        owed = dict.fromkeys(before, 0)
        if state.dividend_pool > 0 and eligible:
            pairs = [(weight(h), h.remaining_quota) for h in eligible]
            for h, share in zip(eligible, water_filling(state.dividend_pool, pairs), strict=True):
                owed[h.name] = share
        # Rule 7 after rule 6, at the one price of the day.
        expected_exits = {
            h.name
            for h in holders
            if params.forced_exit
            and not h.merchant
            and h.quota > 0
            and h.points > 0
            and h.points * price_num >= (h.remaining_quota - owed[h.name]) * price_den
        }
        keep = 1 - params.sell_fee_rate

        self.day += 1
        day = economy.settle_day(self.day)

        assert not day.already_settled
        event("day with dividends" if day.distributed else "day without dividends")
        if day.exits:
            event("day with forced exits")
        if day.recipients and any(h.exited and h.points == 0 for h in holders):
            event("day where someone exited")
        if state.minted == params.max_supply_units:
            event("supply cap reached")
        assert day.distributed == sum(owed.values())
        assert state.dividend_pool == dividend_pool - day.distributed + day.exit_fee
        assert {e.holder for e in day.exits} == expected_exits
        for exit_ in day.exits:
            assert exit_.units == before[exit_.holder][0]
            assert exit_.payout == floor(exit_.units * Fraction(price_num, price_den) * keep)
            value = floor(exit_.units * Fraction(price_num, price_den))
            assert exit_.fee == (
                value - exit_.payout if params.sell_fee_to == "dividend_pool" else 0
            )
        payouts = {e.holder: e.payout for e in day.exits}
        for h in holders:
            points, cash, quota_used, dividends = before[h.name]
            remaining_after = h.quota - quota_used - owed[h.name]
            payout = payouts.get(h.name, 0)
            assert h.dividends == dividends + owed[h.name]
            assert h.cash == cash + owed[h.name] + payout
            assert h.quota_used == quota_used + owed[h.name] + min(payout, remaining_after)
            if h.name in payouts:
                assert (h.points, h.exited) == (0, True)
            else:
                assert h.points == points
                # Nobody left behind who rule 7 should have taken out
                assert not (
                    params.forced_exit
                    and not h.merchant
                    and h.quota > 0
                    and h.points * price_num >= h.remaining_quota * price_den
                    and h.points > 0
                )
        # Settling the same day again changes nothing.
        settled = snapshot(economy)
        again = economy.settle_day(self.day)
        assert again.already_settled
        assert (again.distributed, again.exits) == (day.distributed, day.exits)
        assert snapshot(economy) == settled

    @rule()
    def settle_the_last_day_again(self) -> None:
        if self.day:
            before = snapshot(self.economy)
            assert self.economy.settle_day(self.day).already_settled
            assert snapshot(self.economy) == before

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        assert self.economy.violations() == []

    @invariant()
    def price_never_falls(self) -> None:
        now = Fraction(*self.economy.price())
        assert now >= self.price
        self.price = now

    @invariant()
    def no_dividend_beyond_quota(self) -> None:
        for h in self.economy.state.holders.values():
            assert 0 <= h.dividends <= h.quota
            assert 0 <= h.quota_used <= h.quota


EconomyMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEconomyHistories = EconomyMachine.TestCase
