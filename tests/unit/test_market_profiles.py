"""Each profile's rules refused and allowed at their boundaries (market.md): T+N on the day
itself, the band's edges and one fen outside, the 200th and 201st holder, the gift hold day,
closed days, KYC, halts. Every refusal is checked to change nothing."""

from __future__ import annotations

from fractions import Fraction

import pytest

from market_kit import days, market, refused, snapshot
from tokenmall.domain.market import Code, Market, MarketRefused, collection_rules
from tokenmall.domain.market.profiles import OPEN


def licensed(**rules: object) -> Market:
    m = market("cn-licensed", editions=300, **rules)  # type: ignore[arg-type]
    for user in ("a", "b", "c"):
        m.verify(user)
        m.deposit(user, 1_000_000)
    return m


# --- cn-licensed: T+5 both directions, per collection ---------------------------------


def test_t_plus_5_sell_refused_the_day_before_allowed_on_the_day() -> None:
    m = licensed()
    m.mint("c", "a", 2)  # trading day 1
    days(m, 4)  # trading day 5
    refused(m, Code.HOLD_PERIOD, "offer", "a", "c/1", "b", 10_000)
    m.day()  # trading day 6 = 1 + 5
    out = m.offer("a", "c/1", "b", 10_000)
    assert out.order == 1


def test_t_plus_5_counts_trading_days_not_calendar_days() -> None:
    m = licensed()
    m.mint("c", "a")
    days(m, 4)
    days(m, 3, trading=False)  # a weekend and a holiday: still trading day 5
    refused(m, Code.MARKET_CLOSED, "offer", "a", "c/1", "b", 10_000)
    m.day()
    assert m.offer("a", "c/1", "b", 10_000).order == 1


def test_t_plus_5_buy_after_selling_and_sell_after_buying() -> None:
    m = licensed()
    m.mint("c", "a", 2)
    m.mint("c", "c")
    days(m, 5)  # trading day 6: a and c may sell
    m.accept("b", m.offer("a", "c/1", "b", 10_000).order)  # a sold, b bought on day 6
    offer = m.offer("c", "c/3", "a", 10_000).order
    refused(m, Code.HOLD_PERIOD, "accept", "a", offer)  # a sold on 6: may buy from 11
    refused(m, Code.HOLD_PERIOD, "offer", "b", "c/1", "c", 10_000)  # b bought on 6
    days(m, 4)  # trading day 10
    refused(m, Code.HOLD_PERIOD, "accept", "a", offer)
    m.day()  # trading day 11
    assert m.accept("a", offer).trades[0].buyer == "a"
    assert m.offer("b", "c/1", "c", 10_000).order is not None


def test_hold_below_5_is_refused_under_cn_licensed() -> None:
    m = Market("cn-licensed")
    with pytest.raises(MarketRefused) as caught:
        collection_rules(m.profile, hold_trading_days=4)
    assert caught.value.code is Code.INVALID_INPUT
    assert collection_rules(m.profile, hold_trading_days=5).hold_trading_days == 5


def test_market_closed_on_a_non_trading_day_but_gifts_go() -> None:
    m = licensed()
    m.mint("c", "a")
    days(m, 5)
    m.day(trading=False)
    refused(m, Code.MARKET_CLOSED, "offer", "a", "c/1", "b", 10_000)
    m.gift("a", "c/1", "b")  # gift_hold_days defaults to 0 under cn-licensed
    assert m.state.tokens["c/1"].owner == "b"


@pytest.mark.parametrize("action", ["list", "bid", "take"])
def test_cn_licensed_has_no_listings_or_bids(action: str) -> None:
    m = licensed()
    m.mint("c", "a")
    args = {"list": ("a", "c/1", 10_000), "bid": ("b", "c", 10_000), "take": ("b", 1)}[action]
    refused(m, Code.PROFILE_FORBIDS, action, *args)


# --- price band -----------------------------------------------------------------------


def test_band_edges_inclusive_and_one_fen_outside() -> None:
    m = licensed()
    m.mint("c", "a")
    days(m, 5)
    refused(m, Code.PRICE_BAND, "offer", "a", "c/1", "b", 11_001)
    refused(m, Code.PRICE_BAND, "offer", "a", "c/1", "b", 8_999)
    assert m.offer("a", "c/1", "b", 11_000).order == 1
    assert m.offer("a", "c/1", "b", 9_000).order == 2


def test_reference_is_the_last_trade_before_the_day() -> None:
    m = licensed()
    m.mint("c", "a", 2)
    days(m, 5)
    m.accept("b", m.offer("a", "c/1", "b", 11_000).order)
    # the same day the reference is still the primary price (100.00)
    refused(m, Code.PRICE_BAND, "offer", "a", "c/2", "c", 12_100)
    m.day()
    assert m.state.collections["c"].reference == 11_000
    assert m.offer("a", "c/2", "c", 12_100).order is not None
    refused(m, Code.PRICE_BAND, "offer", "a", "c/2", "c", 12_101)


def test_band_with_an_inexact_edge_is_exact() -> None:
    m = market("open", price=333, band="0.10")
    m.mint("c", "a")
    # 333 × 1.1 = 366.3: 366 is inside, 367 is not; 333 × 0.9 = 299.7: 300 inside, 299 not
    refused(m, Code.PRICE_BAND, "list", "a", "c/1", 367)
    refused(m, Code.PRICE_BAND, "list", "a", "c/1", 299)
    m.list("a", "c/1", 366)


# --- holder limit ---------------------------------------------------------------------


def test_the_200th_holder_is_allowed_and_the_201st_refused() -> None:
    m = licensed()
    for i in range(199):
        m.mint("c", f"u{i}")
    m.mint("c", "a")  # the 200th holder
    assert len(m.state.collections["c"].holders) == 200
    refused(m, Code.HOLDER_LIMIT, "mint", "c", "b")
    days(m, 5)
    refused(m, Code.HOLDER_LIMIT, "gift", "a", "c/200", "b")
    offer = m.offer("a", "c/200", "b", 10_000).order
    refused(m, Code.HOLDER_LIMIT, "accept", "b", offer)
    # someone who has held one counts already, even after giving it away
    m.verify("u0")
    m.verify("u1")
    m.gift("u1", "c/2", "u0")
    m.gift("u0", "c/2", "u1")
    assert len(m.state.collections["c"].holders) == 200


# --- gift hold (cn-gift-only) ---------------------------------------------------------


def gift_only() -> Market:
    m = market("cn-gift-only")
    for user in ("a", "b", "c"):
        m.verify(user)
    return m


def test_gift_hold_180_calendar_days_and_the_recipient_waits_again() -> None:
    m = gift_only()
    m.mint("c", "a")  # calendar day 1
    days(m, 179, trading=False)  # day 180
    refused(m, Code.HOLD_PERIOD, "gift", "a", "c/1", "b")
    m.day(trading=False)  # day 181 = 1 + 180
    m.gift("a", "c/1", "b")
    refused(m, Code.HOLD_PERIOD, "gift", "b", "c/1", "c")
    days(m, 180)
    m.gift("b", "c/1", "c")
    assert m.state.tokens["c/1"].owner == "c"


@pytest.mark.parametrize("action", ["list", "bid", "take", "offer", "accept"])
def test_gift_only_forbids_every_trade(action: str) -> None:
    m = gift_only()
    m.mint("c", "a")
    args = {
        "list": ("a", "c/1", 10_000),
        "bid": ("b", "c", 10_000),
        "take": ("b", 1),
        "offer": ("a", "c/1", "b", 10_000),
        "accept": ("b", 1),
    }[action]
    refused(m, Code.PROFILE_FORBIDS, action, *args)


def test_kyc_for_both_sides_of_a_gift() -> None:
    m = market("cn-gift-only", gift_hold_days=0)
    m.mint("c", "a")
    refused(m, Code.KYC_REQUIRED, "gift", "a", "c/1", "b")
    m.verify("a")
    refused(m, Code.KYC_REQUIRED, "gift", "a", "c/1", "b")
    m.verify("b")
    m.gift("a", "c/1", "b")


# --- open ---------------------------------------------------------------------------


def test_open_needs_no_kyc_unless_the_tenant_asks() -> None:
    m = market("open")
    m.mint("c", "a")
    m.list("a", "c/1", 10_000)
    strict = Market(OPEN.with_kyc(True))
    strict.add_collection("c", "brand", 5, 10_000, collection_rules(strict.profile))
    strict.mint("c", "a")
    refused(strict, Code.KYC_REQUIRED, "list", "a", "c/1", 10_000)


def test_open_per_token_hold() -> None:
    m = market("open", hold_trading_days=2)
    m.mint("c", "a")
    m.deposit("b", 100_000)
    m.day()
    refused(m, Code.HOLD_PERIOD, "list", "a", "c/1", 10_000)
    m.day()  # trading day 3 = 1 + 2
    order = m.list("a", "c/1", 10_000).order
    m.take("b", order)
    m.day()
    refused(m, Code.HOLD_PERIOD, "list", "b", "c/1", 10_000)  # bought on 3: from 5


def test_open_trades_on_non_trading_days() -> None:
    m = market("open")
    m.mint("c", "a")
    m.day(trading=False)
    assert m.list("a", "c/1", 10_000).order == 1


def test_halt_refuses_trading_but_not_cancelling() -> None:
    m = market("open")
    m.mint("c", "a", 2)
    m.deposit("b", 100_000)
    listing = m.list("a", "c/1", 10_000).order
    bid = m.bid("b", "c", 5_000).order
    m.halt("c")
    refused(m, Code.HALTED, "list", "a", "c/2", 10_000)
    refused(m, Code.HALTED, "bid", "b", "c", 10_000)
    refused(m, Code.HALTED, "take", "b", listing)
    refused(m, Code.HALTED, "offer", "a", "c/2", "b", 10_000)
    m.cancel("b", bid)
    assert m.state.account("b").cash == 100_000
    m.resume("c")
    assert m.take("b", listing).trades[0].price == 10_000


def test_snapshot_sees_changes() -> None:
    m = market("open")
    before = snapshot(m)
    m.mint("c", "a")
    assert snapshot(m) != before


def test_the_rates_are_exact_fractions() -> None:
    m = market("open", fee_rate="0.015", royalty_rate="0.05")
    assert m.state.collections["c"].rules.fee_rate == Fraction(3, 200)
