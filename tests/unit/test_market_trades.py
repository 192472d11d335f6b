"""Trades under the open profile: matching at the resting order's price, self-trade refused
with nothing changed, settlement (floored fee and royalty), listings that lock, agreements,
owner changes that cancel the token's orders, reservations and expiries."""

from __future__ import annotations

from fractions import Fraction

from market_kit import days, market, refused, snapshot, total_money
from tokenmall.domain.market import Code, Market, OrderStatus, Purse
from tokenmall.domain.market.effects import Money, OrderClosed, OwnerChanged, Traded
from tokenmall.domain.market.fees import band_limits, split
from tokenmall.domain.nfg.records import TokenState


def funded(**rules: object) -> Market:
    m = market("open", **rules)  # type: ignore[arg-type]
    m.mint("c", "a", 3)
    m.mint("c", "s", 2)
    for user in ("b", "d"):
        m.deposit(user, 100_000)
    return m


def test_a_bid_at_or_above_the_lowest_listing_trades_at_the_listing_price() -> None:
    m = funded()
    m.list("a", "c/1", 12_000)
    m.list("s", "c/4", 11_000)
    m.list("a", "c/2", 11_000)  # same price, later
    out = m.bid("b", "c", 11_500)
    (trade,) = out.trades
    assert (trade.token, trade.seller, trade.buyer, trade.price) == ("c/4", "s", "b", 11_000)
    assert (trade.fee, trade.royalty) == (220, 550)
    assert m.state.account("b").cash == 100_000 - 11_000  # nothing left reserved
    assert m.state.account("b").reserved == 0
    assert m.state.account("s").cash == 11_000 - 220 - 550
    assert m.state.orders[out.order].status is OrderStatus.FILLED


def test_a_listing_at_or_below_the_highest_bid_trades_at_the_bid_price() -> None:
    m = funded()
    m.bid("b", "c", 9_000)
    m.bid("d", "c", 9_500)
    m.bid("b", "c", 9_500)  # same price, later
    out = m.list("a", "c/1", 9_000)
    (trade,) = out.trades
    assert (trade.buyer, trade.price) == ("d", 9_500)
    assert m.state.account("d").reserved == 0
    assert m.state.account("d").cash == 100_000 - 9_500
    assert m.state.tokens["c/1"].state is TokenState.HELD
    assert m.state.tokens["c/1"].owner == "d"


def test_self_trade_is_refused_and_nothing_changes() -> None:
    m = funded()
    m.deposit("a", 100_000)
    listing = m.list("a", "c/1", 10_000).order
    refused(m, Code.SELF_TRADE, "bid", "a", "c", 10_000)
    refused(m, Code.SELF_TRADE, "take", "a", listing)
    m.cancel("a", listing)
    m.bid("a", "c", 10_000)
    refused(m, Code.SELF_TRADE, "list", "a", "c/2", 9_000)
    refused(m, Code.SELF_TRADE, "offer", "a", "c/2", "a", 9_000)


def test_a_listing_locks_its_token() -> None:
    m = funded()
    listing = m.list("a", "c/1", 10_000).order
    refused(m, Code.TOKEN_LOCKED, "list", "a", "c/1", 10_000)
    refused(m, Code.TOKEN_LOCKED, "gift", "a", "c/1", "b")
    refused(m, Code.TOKEN_LOCKED, "offer", "a", "c/1", "b", 10_000)
    m.cancel("a", listing)
    assert m.state.tokens["c/1"].state is TokenState.HELD
    m.gift("a", "c/1", "b")


def test_any_owner_change_cancels_the_tokens_agreements_in_the_same_step() -> None:
    m = funded()
    offer = m.offer("a", "c/1", "b", 10_000).order
    out = m.gift("a", "c/1", "d")
    assert OrderClosed(offer, OrderStatus.CANCELLED, "owner_changed") in out.effects
    refused(m, Code.NOT_FOUND, "accept", "b", offer)
    # a trade cancels the token's other agreements too
    first = m.offer("d", "c/1", "b", 10_000).order
    m.list("d", "c/1", 20_000)
    refused(m, Code.TOKEN_LOCKED, "accept", "b", first)


def test_a_trade_through_a_listing_cancels_the_tokens_agreements() -> None:
    m = funded()
    offer = m.offer("a", "c/1", "b", 10_000).order
    listing = m.list("a", "c/1", 12_000).order
    out = m.take("d", listing)
    assert OrderClosed(offer, OrderStatus.CANCELLED, "owner_changed") in out.effects
    assert m.state.orders[offer].status is OrderStatus.CANCELLED


def test_an_agreement_settles_on_accept_by_the_named_buyer_only() -> None:
    m = funded()
    offer = m.offer("a", "c/1", "b", 10_000).order
    refused(m, Code.NOT_FOUND, "accept", "d", offer)
    refused(m, Code.NOT_FOUND, "accept", "a", offer)
    refused(m, Code.NOT_OWNER, "cancel", "b", offer)
    out = m.accept("b", offer)
    assert out.trades[0].price == 10_000
    assert m.state.tokens["c/1"].owner == "b"
    refused(m, Code.NOT_FOUND, "accept", "b", offer)


def test_an_agreement_is_declined_by_the_named_buyer_only_and_nothing_moves() -> None:
    m = funded()
    offer = m.offer("a", "c/1", "b", 10_000).order
    refused(m, Code.NOT_FOUND, "decline", "d", offer)
    refused(m, Code.NOT_FOUND, "decline", "a", offer)
    before = total_money(m)
    out = m.decline("b", offer)
    assert [e for e in out.effects if isinstance(e, OrderClosed)] == [
        OrderClosed(offer, OrderStatus.CANCELLED, "declined")
    ]
    assert not [e for e in out.effects if isinstance(e, Money)]
    assert total_money(m) == before
    assert m.state.tokens["c/1"].owner == "a"
    assert m.state.tokens["c/1"].state is TokenState.HELD
    refused(m, Code.NOT_FOUND, "accept", "b", offer)
    refused(m, Code.NOT_FOUND, "decline", "b", offer)


def test_settlement_is_balanced_and_floors_fee_and_royalty() -> None:
    parts = split(99, Fraction("0.02"), Fraction("0.05"))
    assert (parts.fee, parts.royalty, parts.proceeds) == (1, 4, 94)
    m = funded()
    listing = m.list("a", "c/1", 99).order
    before = total_money(m)
    out = m.take("b", listing)
    moves = [e for e in out.effects if isinstance(e, Money)]
    assert sum(e.amount for e in moves if e.source == (Purse.CASH, "b")) == 99
    assert m.state.platform == 1
    assert m.state.issuers["brand"] == 4
    assert total_money(m) == before
    assert any(isinstance(e, Traded) for e in out.effects)
    assert any(isinstance(e, OwnerChanged) and e.via == "trade" for e in out.effects)


def test_a_bid_reserves_cash_and_cancelling_returns_it_once() -> None:
    m = funded()
    bid = m.bid("b", "c", 60_000).order
    assert (m.state.account("b").cash, m.state.account("b").reserved) == (40_000, 60_000)
    refused(m, Code.INSUFFICIENT_FUNDS, "bid", "b", "c", 40_001)
    m.cancel("b", bid)
    assert (m.state.account("b").cash, m.state.account("b").reserved) == (100_000, 0)
    refused(m, Code.NOT_FOUND, "cancel", "b", bid)


def test_insufficient_funds_to_take() -> None:
    m = funded()
    listing = m.list("a", "c/1", 100_001).order
    refused(m, Code.INSUFFICIENT_FUNDS, "take", "b", listing)
    refused(m, Code.INSUFFICIENT_FUNDS, "take", "nobody", listing)


def test_orders_expire_and_return_what_they_held() -> None:
    m = funded()
    bid = m.bid("b", "c", 5_000, 2).order
    listing = m.list("a", "c/1", 50_000, 1).order
    m.day()
    refused(m, Code.EXPIRED, "take", "d", listing)
    assert m.state.tokens["c/1"].state is TokenState.HELD
    m.day()
    assert m.state.account("b").cash == 100_000
    refused(m, Code.EXPIRED, "cancel", "b", bid)


def test_not_found_and_invalid_input() -> None:
    m = funded()
    refused(m, Code.NOT_FOUND, "list", "a", "c/99", 100)
    refused(m, Code.NOT_FOUND, "bid", "b", "nope", 100)
    refused(m, Code.NOT_FOUND, "take", "b", 42)
    refused(m, Code.INVALID_INPUT, "list", "a", "c/1", 0)
    refused(m, Code.INVALID_INPUT, "bid", "b", "c", -5)
    refused(m, Code.INVALID_INPUT, "mint", "c", "a", 6)  # 5 of 10 left
    refused(m, Code.INVALID_INPUT, "gift", "a", "c/1", "a")
    refused(m, Code.NOT_OWNER, "list", "b", "c/1", 100)
    refused(m, Code.NOT_OWNER, "gift", "b", "c/1", "d")


def test_a_take_of_a_bid_is_not_a_listing() -> None:
    m = funded()
    bid = m.bid("b", "c", 100).order
    refused(m, Code.NOT_FOUND, "take", "d", bid)


def test_band_limits_for_hints() -> None:
    assert band_limits(333, Fraction(1, 10)) == (300, 366)


def test_the_reference_follows_trades_day_by_day() -> None:
    m = funded(band="0.10")
    m.list("a", "c/1", 11_000)
    m.take("b", 1)
    assert m.state.collections["c"].reference == 10_000
    days(m, 1)
    assert m.state.collections["c"].reference == 11_000
    m.list("a", "c/2", 12_100)
    refused(m, Code.PRICE_BAND, "list", "a", "c/3", 12_101)
    assert snapshot(m) == snapshot(m)
