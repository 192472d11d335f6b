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
from tokenmall.domain.economy.refund import Exit, OrderReversal, plan_order_reversal, take_back
from tokenmall.domain.economy.state import EconomyState, Holder, Rates
from tokenmall.domain.errors import InvalidAmount, InvalidParameter, RuleViolation


@dataclass(slots=True)
class Order:
    """An order paid with new money whose rewards wait for ``grant_on`` (rule 9)."""

    order_id: str
    buyer: str
    amount: int
    contribution: int | None
    status: str = "pending"  # pending → booked → refunded, or pending → refunded
    booked: PurchaseResult | None = None  # what booking did, kept to take it back
    booked_at: int = 0  # the engine's exit counter when the rewards were booked
    reversal: OrderReversal | None = None  # what a refund after booking took back


class Economy:
    def __init__(self, params: Params = DEFAULT) -> None:
        self.params = params
        self.rates = Rates(params)
        self.state = EconomyState.new(params)
        self.orders: dict[str, Order] = {}
        self.param_changes: list[tuple[int, dict[str, Any]]] = []  # (event seq, changes)
        self.days: dict[int, DayResult] = {}
        # Points that left (sold, converted, forced out) while a booked order could still be
        # refunded: (exit counter, exit) per holder the order rewarded. Rule 9 prices the
        # refunded order's points that are gone at the prices they left at.
        self.exits: dict[str, list[tuple[int, Exit]]] = {}
        self._exit_count = 0
        self._watched: dict[str, int] = {}  # holder -> booked orders that rewarded them
        # Fen each holder owes for rewards refunds took back that had already left (rule 9).
        self.debts: dict[str, int] = {}

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
        if state.minted > 0 and new.max_supply_units > self.params.max_supply_units:
            raise InvalidParameter(
                "max_supply",
                "is fixed once the first points are granted (发行数量恒定): it may be lowered to "
                "what has been minted, never raised",
            )
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
        result = market.sell(self.rates, self.state, self._known(user), units)
        self._left(user, units, result.price_num, result.price_den)
        return result

    def sell_to(self, user: str, payee: str, units: int) -> market.SellResult:
        """``sell`` with the payout to ``payee``'s cash (``market.sell_to``)."""
        receiver = self._known(payee)
        result = market.sell_to(self.rates, self.state, self._known(user), receiver, units)
        self.state.holders.setdefault(payee, receiver)
        self._left(user, units, result.price_num, result.price_den)
        return result

    def convert(self, user: str, units: int) -> market.ConvertResult:
        result = market.convert(self.rates, self.state, self._known(user), units)
        self._left(user, units, result.price_num, result.price_den)
        return result

    def _left(self, user: str, units: int, price_num: int, price_den: int) -> None:
        """Remember points that left a holder a booked order rewarded (rule 9's debts)."""
        if units > 0 and user in self._watched:
            self._exit_count += 1
            log = self.exits.setdefault(user, [])
            log.append((self._exit_count, Exit(units, price_num, price_den)))

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
        for exit_ in exits:
            self._left(exit_.holder, exit_.units, price_num, price_den)
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
            self._book(order)  # a refusal leaves no order behind
        self.orders[order_id] = order
        return order

    def book_order(self, order_id: str) -> PurchaseResult:
        order = self._order(order_id)
        if order.status != "pending":
            raise RuleViolation(f"order {order_id} is {order.status}, cannot book its rewards")
        return self._book(order)

    def purchase_order(
        self, order_id: str, user: str, amount: int, contribution: int | None = None
    ) -> PurchaseResult:
        """Record an order and book its rewards at once, whatever ``grant_on`` says (a
        purchase that can be refunded later: ``economy replay``)."""
        if order_id in self.orders:
            raise RuleViolation(f"order {order_id} already exists")
        order = Order(order_id, user, amount, contribution)
        result = self._book(order)
        self.orders[order_id] = order
        return result

    def _book(self, order: Order) -> PurchaseResult:
        result = self.purchase(order.buyer, order.amount, order.contribution)
        order.status = "booked"
        order.booked = result
        order.booked_at = self._exit_count
        for name in {order.buyer, *(g.holder for g in result.grants)}:
            self._watched[name] = self._watched.get(name, 0) + 1
        return result

    def refund_order(self, order_id: str, amount: int | None = None) -> Order:
        """Refund an order. Pending: nothing was booked, nothing to take back. Booked: rule 9
        takes back what it gave (``refund``, the arithmetic the ledger posts too):
        the granted points burned, the quota and spend removed, debts in money for points
        already gone (at the prices they left at) and dividends paid against the removed
        quota; the pool keeps the contribution. ``amount`` (fen, booked orders only): a
        partial refund takes back that share. The money returned to the buyer is the mall's
        (``cashflow``), not the economy's. Refunding twice is refused."""
        order = self._order(order_id)
        if order.status == "refunded":
            if order.booked is None and amount is None:
                return order
            raise RuleViolation(f"order {order_id} is already refunded")
        if amount is not None and not 0 < amount <= order.amount:
            raise InvalidAmount(
                "refund amount must be greater than zero and at most the order's amount"
            )
        booked = order.booked
        if booked is None:
            order.status = "refunded"
            return order
        part = (1, 1) if amount is None else (amount, order.amount)
        names = {order.buyer, *(g.holder for g in booked.grants)}
        exits = {
            name: [e for at, e in self.exits.get(name, ()) if at > order.booked_at]
            for name in names
        }
        plan = plan_order_reversal(
            self.state,
            order_ref=order_id,
            buyer=order.buyer,
            grants=[(g.holder, g.units, g.level) for g in booked.grants],
            quota_added=booked.quota_added,
            spend_added=booked.amount,
            exits=exits,
            part=part,
        )
        take_back(self.state, plan)
        for take in plan.takes:
            if take.debt:
                self.debts[take.holder] = self.debts.get(take.holder, 0) + take.debt
        for name in names:
            self._watched[name] -= 1
            if not self._watched[name]:
                del self._watched[name]
                self.exits.pop(name, None)
        order.status = "refunded"
        order.reversal = plan
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
