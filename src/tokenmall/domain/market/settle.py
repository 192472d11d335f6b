"""The one place the market's state changes: ``Tx`` applies a change and records its effect.

A ``Market`` action first checks every rule (``guards``), then changes the state through a
``Tx`` only; a refusal therefore leaves nothing changed. ``Tx.trade`` is settlement: the buyer's
cash to the seller, the fee to the platform, the royalty to the issuer, the token to the buyer,
and every other open order of the token cancelled, all in one step.
"""

from __future__ import annotations

from tokenmall.domain.market import effects as fx
from tokenmall.domain.market.effects import Purse
from tokenmall.domain.market.fees import split
from tokenmall.domain.market.profiles import HoldScope, Profile
from tokenmall.domain.market.records import (
    Account,
    CollectionState,
    HoldMarks,
    MarketState,
    Order,
    OrderKind,
    OrderStatus,
    Token,
    Trade,
)
from tokenmall.domain.nfg.records import TokenState


class Tx:
    """Changes to ``state`` with their effects, in order."""

    __slots__ = ("effects", "profile", "state")

    def __init__(self, state: MarketState, profile: Profile) -> None:
        self.state = state
        self.profile = profile
        self.effects: list[fx.Effect] = []

    def account(self, user: str) -> Account:
        acc = self.state.accounts.get(user)
        if acc is None:
            acc = self.state.accounts[user] = Account()
        return acc

    def move(
        self, source: tuple[Purse, str], dest: tuple[Purse, str], amount: int, why: str
    ) -> None:
        if amount == 0:
            return
        self._book(source, -amount)
        self._book(dest, amount)
        self.effects.append(fx.Money(source, dest, amount, why))

    def _book(self, purse: tuple[Purse, str], delta: int) -> None:
        kind, owner = purse
        if kind is Purse.CASH:
            self.account(owner).cash += delta
        elif kind is Purse.RESERVED:
            self.account(owner).reserved += delta
        elif kind is Purse.PLATFORM:
            self.state.platform += delta
        elif kind is Purse.ISSUER:
            self.state.issuers[owner] = self.state.issuers.get(owner, 0) + delta

    def open_order(self, order: Order) -> None:
        self.state.next_order_id = max(self.state.next_order_id, order.id + 1)
        self.state.add_order(order)
        self.effects.append(fx.OrderOpened.of(order))
        if order.kind is OrderKind.LISTING and order.token is not None:
            self.set_token_state(self.state.tokens[order.token], TokenState.LISTED)
        elif order.kind is OrderKind.BID:
            self.move(
                (Purse.CASH, order.user), (Purse.RESERVED, order.user), order.price, "reserve"
            )

    def close_order(self, order: Order, status: OrderStatus, reason: str) -> None:
        """Close an open order: a listing frees its token, a bid not filled returns its cash."""
        order.status = status
        self.effects.append(fx.OrderClosed(order.id, status, reason))
        if order.kind is OrderKind.LISTING and order.token is not None:
            token = self.state.tokens.get(order.token)
            if token is not None and token.state is TokenState.LISTED:
                self.set_token_state(token, TokenState.HELD)
        elif order.kind is OrderKind.BID and status is not OrderStatus.FILLED:
            self.move(
                (Purse.RESERVED, order.user), (Purse.CASH, order.user), order.price, "release"
            )

    def set_token_state(self, token: Token, state: TokenState) -> None:
        token.state = state
        self.effects.append(fx.TokenStateChanged(token.key, state))

    def add_holder(self, col: CollectionState, user: str) -> None:
        if user not in col.holders:
            col.holders.add(user)
            self.effects.append(fx.HolderAdded(col.id, user))

    def mark(self, user: str, col: CollectionState, side: str) -> None:
        """A T+N mark (only under a per-collection hold)."""
        if self.profile.hold_scope is not HoldScope.COLLECTION:
            return
        day = self.state.clock.settlement_day
        marks = self.state.holds.setdefault((user, col.id), HoldMarks())
        setattr(marks, side, day)
        self.effects.append(fx.HoldMarked(user, col.id, side, day))

    def change_owner(self, token: Token, owner: str, via: str) -> None:
        """The token to ``owner``; its other open listings and offers cancelled (same step)."""
        for order_id in self.state.by_token.pop(token.key, []):
            order = self.state.orders.get(order_id)
            if order is not None and order.status is OrderStatus.OPEN:
                self.close_order(order, OrderStatus.CANCELLED, "owner_changed")
        clock = self.state.clock
        previous = token.owner
        token.owner = owner
        token.acquired_day = clock.calendar_day
        if via != "gift":
            token.acquired_trading_day = clock.settlement_day
        self.effects.append(
            fx.OwnerChanged(
                token.key, previous, owner, via, clock.calendar_day, token.acquired_trading_day
            )
        )
        self.add_holder(self.state.collections[token.collection], owner)

    def collection_changed(self, col: CollectionState) -> None:
        self.effects.append(fx.CollectionChanged(col.id, col.halted, col.last_price, col.minted))

    def trade(
        self,
        resting: Order,
        token: Token,
        seller: str,
        buyer: str,
        price: int,
        *,
        from_reserve: bool,
    ) -> Trade:
        """Settle one trade at ``price``: ``resting`` is filled; the buyer pays from cash (or,
        for a resting bid, from its reservation, exactly ``price``)."""
        col = self.state.collections[token.collection]
        parts = split(price, col.rules.fee_rate, col.rules.royalty_rate)
        payer = (Purse.RESERVED if from_reserve else Purse.CASH, buyer)
        self.close_order(resting, OrderStatus.FILLED, "filled")
        self.move(payer, (Purse.CASH, seller), parts.proceeds, "trade")
        self.move(payer, (Purse.PLATFORM, ""), parts.fee, "fee")
        self.move(payer, (Purse.ISSUER, col.issuer), parts.royalty, "royalty")
        if token.state is TokenState.LISTED:
            self.set_token_state(token, TokenState.HELD)
        self.change_owner(token, buyer, "trade")
        self.mark(seller, col, "sold")
        self.mark(buyer, col, "bought")
        col.last_price = price
        self.collection_changed(col)
        done = Trade(
            token.key,
            seller,
            buyer,
            price,
            parts.fee,
            parts.royalty,
            resting.id,
            col.id,
            col.issuer,
        )
        self.effects.append(fx.Traded(done))
        return done

    def filled_at_once(self, order: Order) -> None:
        """An incoming order that traded on arrival: recorded, opened and filled in one step
        (nothing reserved, nothing rests)."""
        order.status = OrderStatus.FILLED
        self.state.orders[order.id] = order
        self.state.next_order_id = max(self.state.next_order_id, order.id + 1)
        self.effects.append(fx.OrderOpened.of(order))
        self.effects.append(fx.OrderClosed(order.id, OrderStatus.FILLED, "filled"))
