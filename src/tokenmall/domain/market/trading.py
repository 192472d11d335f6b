"""The users' actions on the market. Each checks every rule first, in a fixed order (the
profile, the day, the input, what it names, the halt, ownership, locks, KYC, self-trade, the
band, the holds, the holder limit, the cash), then settles through one ``Tx``."""

from __future__ import annotations

from tokenmall.domain.market import guards as g
from tokenmall.domain.market.effects import Outcome
from tokenmall.domain.market.profiles import Profile, profile
from tokenmall.domain.market.records import MarketState, Order, OrderKind, OrderStatus
from tokenmall.domain.market.refusals import Code, MarketRefused
from tokenmall.domain.market.settle import Tx

MAX_VALID_DAYS = 3_650


class Trading:
    """The users' actions: list, bid, take, cancel, offer, accept, decline, gift."""

    def __init__(self, prof: Profile | str = "open", state: MarketState | None = None) -> None:
        self.profile = profile(prof) if isinstance(prof, str) else prof
        self.state = state if state is not None else MarketState()

    def _tx(self) -> Tx:
        return Tx(self.state, self.profile)

    def _new_order(self, kind: OrderKind, user: str, cid: str, price: int, *,
                   token: str | None = None, to: str | None = None,
                   valid_days: int | None = None) -> Order:  # fmt: skip
        expires = None
        if valid_days is not None:
            expires = self.state.clock.calendar_day + valid_days
        return Order(self.state.next_order_id, kind, user, cid, price, token, to,
                     expires_day=expires)  # fmt: skip

    @staticmethod
    def _valid_days(valid_days: int | None) -> None:
        if valid_days is not None and (
            isinstance(valid_days, bool) or not 1 <= valid_days <= MAX_VALID_DAYS
        ):
            raise MarketRefused(
                Code.INVALID_INPUT, f"valid_days must be 1 to {MAX_VALID_DAYS}", "valid_days"
            )

    # --- the users' actions ---------------------------------------------------------

    def list(self, user: str, token: str, price: int, valid_days: int | None = None) -> Outcome:
        """挂单: offer ``token`` at ``price``. It trades at once with the highest bid at or above
        ``price`` (at the bid's price); else it rests and locks the token."""
        prof, state = self.profile, self.state
        g.allowed(prof, "list")
        g.open_today(prof, state)
        g.user_name(user)
        g.positive(price, "price")
        self._valid_days(valid_days)
        tok, col = g.token(state, token)
        g.trading(col)
        g.owns(tok, user)
        g.free(tok)
        g.verified(prof, state, user)
        g.in_band(col, price)
        g.may_sell(prof, state, user, tok, col)
        best = state.book(col.id).best_bid()
        if best is not None and price <= best.price:
            g.not_self(best.user, user)
            g.in_band(col, best.price)
            g.verified(prof, state, best.user)
            g.may_buy(prof, state, best.user, col)
            g.holder_room(col, best.user)
        order = self._new_order(OrderKind.LISTING, user, col.id, price, token=token,
                                valid_days=valid_days)  # fmt: skip
        tx = self._tx()
        if best is not None and price <= best.price:
            tx.filled_at_once(order)
            trade = tx.trade(best, tok, user, best.user, best.price, from_reserve=True)
            return Outcome(tuple(tx.effects), order.id, (trade,))
        tx.open_order(order)
        return Outcome(tuple(tx.effects), order.id)

    def bid(self, user: str, collection: str, price: int, valid_days: int | None = None) -> Outcome:
        """求购: buy any one token of ``collection`` for at most ``price``. It trades at once
        with the lowest listing at or below ``price`` (at the listing's price); else it rests
        and reserves ``price`` of the bidder's cash."""
        prof, state = self.profile, self.state
        g.allowed(prof, "bid")
        g.open_today(prof, state)
        g.user_name(user)
        g.positive(price, "price")
        self._valid_days(valid_days)
        col = g.collection(state, collection)
        g.trading(col)
        g.verified(prof, state, user)
        g.in_band(col, price)
        g.may_buy(prof, state, user, col)
        g.holder_room(col, user)
        g.funds(state, user, price)
        best = state.book(col.id).best_ask()
        if best is not None and best.price <= price:
            assert best.token is not None
            tok = state.tokens[best.token]
            g.not_self(best.user, user)
            g.in_band(col, best.price)
            g.verified(prof, state, best.user)
            g.may_sell(prof, state, best.user, tok, col)
        order = self._new_order(OrderKind.BID, user, col.id, price, valid_days=valid_days)
        tx = self._tx()
        if best is not None and best.price <= price:
            tx.filled_at_once(order)
            trade = tx.trade(best, tok, best.user, user, best.price, from_reserve=False)
            return Outcome(tuple(tx.effects), order.id, (trade,))
        tx.open_order(order)
        return Outcome(tuple(tx.effects), order.id)

    def take(self, user: str, order_id: int) -> Outcome:
        """摘牌: buy the listing ``order_id`` at its price."""
        prof, state = self.profile, self.state
        g.allowed(prof, "take")
        g.open_today(prof, state)
        g.user_name(user)
        listing = g.order(state, order_id)
        if listing.kind is not OrderKind.LISTING or listing.token is None:
            raise MarketRefused(Code.NOT_FOUND, f"order {order_id} is not a listing", "order")
        return self._settle(user, listing)

    def offer(self, user: str, token: str, to: str, price: int,
              valid_days: int | None = None) -> Outcome:  # fmt: skip
        """协议转让: offer ``token`` to the named buyer ``to`` at ``price``; ``to`` accepts."""
        prof, state = self.profile, self.state
        g.allowed(prof, "offer")
        g.open_today(prof, state)
        g.user_name(user)
        g.user_name(to, "to")
        g.positive(price, "price")
        self._valid_days(valid_days)
        tok, col = g.token(state, token)
        g.trading(col)
        g.owns(tok, user)
        g.free(tok)
        g.not_self(user, to)
        g.verified(prof, state, user)
        g.in_band(col, price)
        g.may_sell(prof, state, user, tok, col)
        order = self._new_order(OrderKind.OFFER, user, col.id, price, token=token, to=to,
                                valid_days=valid_days)  # fmt: skip
        tx = self._tx()
        tx.open_order(order)
        return Outcome(tuple(tx.effects), order.id)

    def accept(self, user: str, order_id: int) -> Outcome:
        """The named buyer accepts the agreement ``order_id``: it settles at once. Anyone else
        finds no such agreement (``not_found``)."""
        prof, state = self.profile, self.state
        g.allowed(prof, "accept")
        g.open_today(prof, state)
        g.user_name(user)
        offer = g.order(state, order_id)
        if offer.kind is not OrderKind.OFFER or offer.to != user or offer.token is None:
            raise MarketRefused(Code.NOT_FOUND, f"no agreement {order_id} for {user}", "order")
        return self._settle(user, offer)

    def _settle(self, buyer: str, order: Order) -> Outcome:
        """A listing taken or an agreement accepted by ``buyer`` at the order's price."""
        prof, state = self.profile, self.state
        assert order.token is not None
        tok, col = g.token(state, order.token)
        g.trading(col)
        seller = order.user
        g.owns(tok, seller)
        if order.kind is OrderKind.OFFER:
            g.free(tok)
        g.not_self(seller, buyer)
        g.verified(prof, state, seller, buyer)
        g.in_band(col, order.price)
        g.may_sell(prof, state, seller, tok, col)
        g.may_buy(prof, state, buyer, col)
        g.holder_room(col, buyer)
        g.funds(state, buyer, order.price)
        tx = self._tx()
        trade = tx.trade(order, tok, seller, buyer, order.price, from_reserve=False)
        return Outcome(tuple(tx.effects), None, (trade,))

    def cancel(self, user: str, order_id: int) -> Outcome:
        """Cancel one's own open order: a listing frees its token, a bid returns its cash.
        Allowed on any day and during a halt; under a profile without orders it does not
        exist (``profile_forbids``)."""
        g.allowed(self.profile, "cancel")
        g.user_name(user)
        order = g.order(self.state, order_id)
        if order.user != user:
            raise MarketRefused(Code.NOT_OWNER, f"order {order_id}", "order")
        tx = self._tx()
        tx.close_order(order, OrderStatus.CANCELLED, "cancelled")
        return Outcome(tuple(tx.effects))

    def decline(self, user: str, order_id: int) -> Outcome:
        """The named buyer turns down the agreement ``order_id``: it closes, nothing moves.
        Allowed on any day and during a halt. Anyone else finds no such agreement; under a
        profile without agreements it does not exist (``profile_forbids``)."""
        g.allowed(self.profile, "decline")
        g.user_name(user)
        offer = g.order(self.state, order_id)
        if offer.kind is not OrderKind.OFFER or offer.to != user:
            raise MarketRefused(Code.NOT_FOUND, f"no agreement {order_id} for {user}", "order")
        tx = self._tx()
        tx.close_order(offer, OrderStatus.CANCELLED, "declined")
        return Outcome(tuple(tx.effects))

    def gift(self, user: str, token: str, to: str) -> Outcome:
        """转赠: give ``token`` to ``to`` after the gift hold (calendar days since it was
        acquired). Not a trade: no money, no T+N marks; allowed on any day and during a halt.
        The recipient's own hold starts again."""
        prof, state = self.profile, self.state
        g.user_name(user)
        g.user_name(to, "to")
        tok, col = g.token(state, token)
        g.owns(tok, user)
        g.free(tok)
        if to == user:
            raise MarketRefused(Code.INVALID_INPUT, "a gift goes to someone else", "to")
        g.verified(prof, state, user, to)
        g.may_gift(state, tok, col)
        g.holder_room(col, to)
        tx = self._tx()
        tx.change_owner(tok, to, "gift")
        return Outcome(tuple(tx.effects))
