"""``Market``: the 文交所's rules as one deterministic state machine over a ``MarketState``.

Every action checks all its rules first (``guards``; a refusal raises ``MarketRefused`` and
changes nothing), then changes the state through one ``Tx`` and returns an ``Outcome`` whose
``effects`` say exactly what changed. Amounts are fen, days come from ``state.clock``. The
replay and the service both drive this class; no rule lives anywhere else.
"""

from __future__ import annotations

from tokenmall.domain.market import effects as fx
from tokenmall.domain.market import guards as g
from tokenmall.domain.market.calendar import Clock
from tokenmall.domain.market.effects import Outcome, Purse
from tokenmall.domain.market.profiles import CollectionRules
from tokenmall.domain.market.records import CollectionState, OrderStatus, Token
from tokenmall.domain.market.refusals import Code, MarketRefused
from tokenmall.domain.market.settle import Tx
from tokenmall.domain.market.trading import Trading
from tokenmall.domain.nfg.records import MAX_EDITION_SIZE


class Market(Trading):
    """The market of one tenant under ``profile`` (a ``Profile`` or its name): the trading
    actions of ``Trading`` and the operator's actions below."""

    # --- the operator's actions -------------------------------------------------------

    def add_collection(self, cid: str, issuer: str, editions: int, primary_price: int,
                       rules: CollectionRules) -> Outcome:  # fmt: skip
        """A collection on the market (``rules`` from ``profiles.collection_rules``)."""
        g.user_name(cid, "id")
        g.user_name(issuer, "issuer")
        if "/" in cid:
            raise MarketRefused(Code.INVALID_INPUT, "id must not contain '/'", "id")
        if cid in self.state.collections:
            raise MarketRefused(Code.INVALID_INPUT, f"collection {cid!r} exists", "id")
        g.positive(editions, "editions")
        if editions > MAX_EDITION_SIZE:
            raise MarketRefused(Code.INVALID_INPUT, f"at most {MAX_EDITION_SIZE}", "editions")
        g.positive(primary_price, "price")
        tx = self._tx()
        col = CollectionState(cid, issuer, editions, primary_price, rules)
        self.state.collections[cid] = col
        self.state.issuers.setdefault(issuer, 0)
        tx.collection_changed(col)
        return Outcome(tuple(tx.effects))

    def mint(self, cid: str, to: str, count: int = 1) -> Outcome:
        """The next ``count`` serials of ``cid`` to ``to`` (a primary sale made elsewhere)."""
        g.user_name(to, "to")
        col = g.collection(self.state, cid)
        g.positive(count, "count")
        if col.minted + count > col.editions:
            raise MarketRefused(
                Code.INVALID_INPUT, f"only {col.editions - col.minted} editions left", "count"
            )
        g.holder_room(col, to)
        tx = self._tx()
        clock = self.state.clock
        keys = []
        for serial in range(col.minted + 1, col.minted + count + 1):
            key = f"{cid}/{serial}"
            tok = Token(key, cid, serial, to, acquired_day=clock.calendar_day,
                        acquired_trading_day=clock.settlement_day)  # fmt: skip
            self.state.tokens[key] = tok
            tx.effects.append(fx.OwnerChanged(key, None, to, "mint", clock.calendar_day,
                                              clock.settlement_day))  # fmt: skip
            keys.append(key)
        col.minted += count
        tx.add_holder(col, to)
        tx.mark(to, col, "bought")
        tx.collection_changed(col)
        return Outcome(tuple(tx.effects), tokens=tuple(keys))

    def deposit(self, user: str, amount: int) -> Outcome:
        g.user_name(user)
        g.positive(amount, "amount")
        tx = self._tx()
        tx.move((Purse.OUTSIDE, ""), (Purse.CASH, user), amount, "deposit")
        return Outcome(tuple(tx.effects))

    def withdraw(self, user: str, amount: int) -> Outcome:
        g.user_name(user)
        g.positive(amount, "amount")
        g.funds(self.state, user, amount)
        tx = self._tx()
        tx.move((Purse.CASH, user), (Purse.OUTSIDE, ""), amount, "withdraw")
        return Outcome(tuple(tx.effects))

    def verify(self, user: str) -> Outcome:
        """Real-name verification (KYC) done for ``user``."""
        g.user_name(user)
        tx = self._tx()
        tx.account(user).kyc = True
        tx.effects.append(fx.KycVerified(user))
        return Outcome(tuple(tx.effects))

    def halt(self, cid: str, halted: bool = True) -> Outcome:
        """停牌 (or, with ``halted=False``, resume). Open orders stay; nothing trades."""
        col = g.collection(self.state, cid)
        tx = self._tx()
        col.halted = halted
        tx.collection_changed(col)
        return Outcome(tuple(tx.effects))

    def resume(self, cid: str) -> Outcome:
        return self.halt(cid, False)

    def day(self, trading: bool = True) -> Outcome:
        """The next calendar day: references become the last trade price; due orders expire."""
        return self.set_clock(self.state.clock.next_day(trading))

    def set_clock(self, clock: Clock) -> Outcome:
        """Move to ``clock`` (never backwards): as ``day``, for a service reading dates."""
        old = self.state.clock
        if clock.calendar_day < old.calendar_day or clock.trading_day < old.trading_day:
            raise MarketRefused(Code.INVALID_INPUT, "the clock never goes back", "day")
        tx = self._tx()
        self.state.clock = clock
        tx.effects.append(fx.DayStarted(clock.calendar_day, clock.trading_day, clock.trading))
        if clock.calendar_day > old.calendar_day:
            for col in self.state.collections.values():
                col.reference = col.last_price or col.primary_price
        self._expire(tx)
        return Outcome(tuple(tx.effects))

    def expire_due(self) -> Outcome:
        """Expire every open order whose day has come (returning reservations)."""
        tx = self._tx()
        self._expire(tx)
        return Outcome(tuple(tx.effects))

    def _expire(self, tx: Tx) -> None:
        today = self.state.clock.calendar_day
        for order in list(self.state.orders.values()):
            if (order.status is OrderStatus.OPEN and order.expires_day is not None
                    and today >= order.expires_day):  # fmt: skip
                tx.close_order(order, OrderStatus.EXPIRED, "expired")
