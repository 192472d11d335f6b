"""The market's checks, one function a rule. Each raises ``MarketRefused`` with its code or
returns what it looked up; none changes anything."""

from __future__ import annotations

from datetime import timedelta

from tokenmall.domain.market.calendar import EPOCH
from tokenmall.domain.market.fees import within_band
from tokenmall.domain.market.profiles import HoldScope, Profile
from tokenmall.domain.market.records import (
    CollectionState,
    MarketState,
    Order,
    OrderStatus,
    Token,
)
from tokenmall.domain.market.refusals import Code, MarketRefused
from tokenmall.domain.nfg.records import TokenState


def allowed(prof: Profile, action: str) -> None:
    """``profile_forbids`` for an action that does not exist under the profile."""
    if action in ("list", "bid", "take") and not prof.listings:
        raise MarketRefused(Code.PROFILE_FORBIDS, f"{action} under {prof.name}")
    if action in ("offer", "accept", "decline") and not prof.agreements:
        raise MarketRefused(Code.PROFILE_FORBIDS, f"{action} under {prof.name}")
    if action == "cancel" and not (prof.listings or prof.agreements):
        raise MarketRefused(Code.PROFILE_FORBIDS, f"{action} under {prof.name}")


def open_today(prof: Profile, state: MarketState) -> None:
    if prof.closed_on_non_trading_days and not state.clock.trading:
        raise MarketRefused(Code.MARKET_CLOSED)


def positive(amount: int, field: str) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise MarketRefused(Code.INVALID_INPUT, f"{field} must be greater than zero", field)


def user_name(user: object, field: str = "user") -> str:
    if not isinstance(user, str) or not user.strip():
        raise MarketRefused(Code.INVALID_INPUT, f"{field} must be a non-empty name", field)
    return user


def collection(state: MarketState, cid: str) -> CollectionState:
    col = state.collections.get(cid)
    if col is None:
        raise MarketRefused(Code.NOT_FOUND, f"no collection {cid!r}", "collection")
    return col


def token(state: MarketState, key: str) -> tuple[Token, CollectionState]:
    tok = state.tokens.get(key)
    if tok is None:
        raise MarketRefused(Code.NOT_FOUND, f"no token {key!r}", "token")
    return tok, state.collections[tok.collection]


def order(state: MarketState, order_id: int) -> Order:
    """An open order; ``expired`` once its day has come (swept or not), else ``not_found``
    for an order that is not open."""
    found = state.orders.get(order_id)
    if found is None:
        raise MarketRefused(Code.NOT_FOUND, f"no order {order_id}", "order")
    if found.status is OrderStatus.EXPIRED or (
        found.status is OrderStatus.OPEN
        and found.expires_day is not None
        and state.clock.calendar_day >= found.expires_day
    ):
        raise MarketRefused(Code.EXPIRED, f"order {order_id}", "order")
    if found.status is not OrderStatus.OPEN:
        raise MarketRefused(Code.NOT_FOUND, f"order {order_id} is {found.status}", "order")
    return found


def trading(col: CollectionState) -> None:
    if col.halted:
        raise MarketRefused(Code.HALTED, col.id)


def owns(tok: Token, user: str) -> None:
    if tok.owner != user:
        raise MarketRefused(Code.NOT_OWNER, tok.key)


def free(tok: Token) -> None:
    if tok.state is not TokenState.HELD:
        raise MarketRefused(Code.TOKEN_LOCKED, f"{tok.key} is {tok.state}")


def verified(prof: Profile, state: MarketState, *users: str) -> None:
    if prof.kyc and not all(state.account(u).kyc for u in users):
        raise MarketRefused(Code.KYC_REQUIRED)


def in_band(col: CollectionState, price: int) -> None:
    if not within_band(price, col.reference, col.rules.band):
        raise MarketRefused(Code.PRICE_BAND, f"reference {col.reference} fen", "price")


def may_sell(
    prof: Profile, state: MarketState, user: str, tok: Token, col: CollectionState
) -> None:
    """T+N for the seller. Today is the current trading day; a non-trading day still counts
    as the last trading day before it (trading day d + N has not come yet)."""
    n = col.rules.hold_trading_days
    if n == 0:
        return
    today = state.clock.trading_day
    if prof.hold_scope is HoldScope.COLLECTION:
        bought = state.marks(user, col.id).bought
        if bought is not None and today < bought + n:
            raise MarketRefused(Code.HOLD_PERIOD, f"sellable from trading day {bought + n}")
    elif prof.hold_scope is HoldScope.TOKEN and today < tok.acquired_trading_day + n:
        raise MarketRefused(
            Code.HOLD_PERIOD, f"sellable from trading day {tok.acquired_trading_day + n}"
        )


def may_buy(prof: Profile, state: MarketState, user: str, col: CollectionState) -> None:
    """T+N for the buyer (per-collection holds only), counted as ``may_sell`` counts."""
    n = col.rules.hold_trading_days
    if prof.hold_scope is not HoldScope.COLLECTION or n == 0:
        return
    sold = state.marks(user, col.id).sold
    if sold is not None and state.clock.trading_day < sold + n:
        raise MarketRefused(Code.HOLD_PERIOD, f"may buy from trading day {sold + n}")


def may_gift(state: MarketState, tok: Token, col: CollectionState) -> None:
    first = tok.acquired_day + col.rules.gift_hold_days
    if state.clock.calendar_day < first:
        when = EPOCH + timedelta(days=first - 1)
        raise MarketRefused(Code.HOLD_PERIOD, f"may be given from {when.isoformat()}")


def holder_room(col: CollectionState, user: str, newcomers: int = 1) -> None:
    """``holder_limit`` for a user who takes no holder place yet when the places taken (those
    who ever held, the buyers of open reservations) leave none."""
    limit = col.rules.holder_limit
    if limit is None or user in col.holders or user in col.reserving:
        return
    taken = len(col.holders) + sum(1 for u in col.reserving if u not in col.holders)
    if taken + newcomers > limit:
        raise MarketRefused(Code.HOLDER_LIMIT, f"at most {limit} holders")


def funds(state: MarketState, user: str, amount: int) -> None:
    if state.account(user).cash < amount:
        raise MarketRefused(Code.INSUFFICIENT_FUNDS)


def not_self(a: str, b: str) -> None:
    if a == b:
        raise MarketRefused(Code.SELF_TRADE)
