"""``Economy``: one tenant's economy in memory, the single entry point to rules 1–9.

Each method validates first and changes nothing when it refuses; then it applies one event and
returns what happened (the result objects are what a ledger turns into journals). The replay
command, the simulator, the benchmarks and the service all drive this class or its rule
functions; there is no second implementation of the arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenmall.domain.economy import dividend, market, standing
from tokenmall.domain.economy.dividend import DayResult
from tokenmall.domain.economy.invariants import violations
from tokenmall.domain.economy.params import DEFAULT, Params
from tokenmall.domain.economy.purchase import PurchaseResult, purchase
from tokenmall.domain.economy.state import EconomyState, Holder, Rates
from tokenmall.domain.errors import InvalidAmount, InvalidParameter, RuleViolation


@dataclass(slots=True)
class Order:
    """An order paid with new money whose rewards wait for ``grant_on`` (rule 9)."""

    order_id: str
    buyer: str
    amount: int
    contribution: int | None
    status: str = "pending"  # pending → booked | refunded


class Economy:
    def __init__(self, params: Params = DEFAULT) -> None:
        self.params = params
        self.rates = Rates(params)
        self.state = EconomyState.new(params)
        self.orders: dict[str, Order] = {}
        self.param_changes: list[tuple[int, dict[str, Any]]] = []  # (event seq, changes)
        self.days: dict[int, DayResult] = {}

    # -- parameters ---------------------------------------------------------------------------

    def set_params(self, changes: Mapping[str, Any]) -> Params:
        """Apply a parameter change from the next event on; it is recorded for audit."""
        new = self.params.updated(changes)
        state = self.state
        if new.initial_price != self.params.initial_price and state.minted > 0:
            raise InvalidParameter(
                "initial_price", "can only change before the first points are granted"
            )
        if new.max_supply_units < state.minted:
            raise InvalidParameter("max_supply", "cannot be below the points already minted")
        if state.minted == 0:
            price = new.initial_price_fen_per_unit
            state.last_price_num, state.last_price_den = price.numerator, price.denominator
        self.params = new
        self.rates = Rates(new)
        state.seq += 1
        self.param_changes.append((state.seq, dict(changes)))
        return new

    # -- people -------------------------------------------------------------------------------

    def holder(self, name: str) -> Holder:
        return self.state.holder(name)

    def join(self, user: str, referrer: str) -> None:
        """Bind ``user`` to ``referrer`` once; the tree is never silently rewritten."""
        if user == referrer:
            raise RuleViolation(f"{user} cannot refer themselves")
        existing = self.state.holders.get(user)
        if existing is not None and existing.referrer is not None:
            if existing.referrer == referrer:
                return
            raise RuleViolation(f"{user} is already bound to referrer {existing.referrer}")
        name: str | None = referrer
        while name is not None:
            if name == user:
                raise RuleViolation(f"binding {user} to {referrer} would make a referral cycle")
            above = self.state.holders.get(name)
            name = above.referrer if above is not None else None
        self.holder(referrer)
        self.holder(user).referrer = referrer
        self.state.seq += 1

    # -- rules --------------------------------------------------------------------------------

    def purchase(self, user: str, amount: int, contribution: int | None = None) -> PurchaseResult:
        holders = self.state.holders
        buyer = holders.get(user)
        if buyer is not None:
            return purchase(self.rates, self.state, buyer, amount, contribution)
        buyer = Holder(user)  # kept only if the purchase is booked
        result = purchase(self.rates, self.state, buyer, amount, contribution)
        holders[user] = buyer
        return result

    def sell(self, user: str, units: int) -> market.SellResult:
        return market.sell(self.rates, self.state, self._known(user), units)

    def convert(self, user: str, units: int) -> market.ConvertResult:
        return market.convert(self.rates, self.state, self._known(user), units)

    def pay_stable(self, user: str, merchant: str, amount: int) -> market.PayStableResult:
        payee = self._known(merchant)
        result = market.pay_stable(self.state, self._known(user), payee, amount)
        self.state.holders.setdefault(merchant, payee)
        return result

    def redeem_stable(self, merchant: str, amount: int) -> market.RedeemResult:
        return market.redeem_stable(self.state, self._known(merchant), amount)

    def _known(self, name: str) -> Holder:
        """The holder, or an empty stand-in that is not kept: a refused event adds no one."""
        return self.state.holders.get(name) or Holder(name)

    def settle_day(self, day: int) -> DayResult:
        """Rules 6 then 7 for one business day; settling the same day again changes nothing."""
        done = self.days.get(day)
        if done is not None:
            return DayResult(
                done.day,
                done.distributed,
                done.recipients,
                done.exits,
                done.price_num,
                done.price_den,
                already_settled=True,
            )
        state = self.state
        if state.last_day is not None and day < state.last_day:
            raise RuleViolation(f"day {day} is before the last settled day {state.last_day}")
        price_num, price_den = state.price()
        distributed, recipients, exits = dividend.settle(self.rates, state, self.params.forced_exit)
        state.seq += 1
        state.last_day = day
        result = DayResult(day, distributed, recipients, exits, price_num, price_den)
        self.days[day] = result
        return result

    # -- orders (rule 9) ----------------------------------------------------------------------

    def place_order(
        self, order_id: str, user: str, amount: int, contribution: int | None = None
    ) -> Order:
        """Record a paid order; its rewards are booked now if ``grant_on`` is ``paid``."""
        if order_id in self.orders:
            raise RuleViolation(f"order {order_id} already exists")
        if amount <= 0:
            raise InvalidAmount("amount must be greater than zero")
        order = Order(order_id, user, amount, contribution)
        if self.params.grant_on == "paid":
            self.purchase(user, amount, contribution)  # a refusal leaves no order behind
            order.status = "booked"
        self.orders[order_id] = order
        return order

    def book_order(self, order_id: str) -> PurchaseResult:
        order = self._order(order_id)
        if order.status != "pending":
            raise RuleViolation(f"order {order_id} is {order.status}, cannot book its rewards")
        result = self.purchase(order.buyer, order.amount, order.contribution)
        order.status = "booked"
        return result

    def refund_order(self, order_id: str) -> Order:
        order = self._order(order_id)
        if order.status == "booked":
            raise RuleViolation(
                f"order {order_id}'s rewards are booked and final; "
                "a refund now needs an operator's audited adjustment"
            )
        if order.status == "refunded":
            return order
        order.status = "refunded"
        return order

    def _order(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise RuleViolation(f"no order {order_id}")
        return order

    # -- reading ------------------------------------------------------------------------------

    def price(self) -> tuple[int, int]:
        return self.state.price()

    def shares(self, user: str) -> int:
        return standing.shares(self.params, self.holder(user))

    def level(self, user: str) -> str:
        return standing.level(self.params, self.holder(user))

    def leaderboard(self, limit: int = 10) -> list[standing.Rank]:
        return standing.leaderboard(self.state.holders.values(), limit)

    def violations(self) -> list[str]:
        return violations(self.state, self.params.max_supply_units)
