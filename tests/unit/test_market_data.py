"""Market data (candles, depth, volume), the wash-trade link and the trading calendar."""

from __future__ import annotations

from datetime import date

from market_kit import market
from tokenmall.domain.market import TenantCalendar
from tokenmall.domain.market.calendar import Clock
from tokenmall.domain.market.marketdata import Candle, candles, depth, volume_since
from tokenmall.domain.market.watch import linked


def test_candles_per_day() -> None:
    got = candles([(1, 100), (1, 120), (1, 90), (1, 110), (2, 111)])
    assert got == [Candle(1, 100, 120, 90, 110, 420, 4), Candle(2, 111, 111, 111, 111, 111, 1)]
    assert volume_since([(1, 100), (2, 50), (3, 25)], 2) == 75


def test_depth_groups_price_levels_best_first() -> None:
    m = market("open", editions=6)
    m.mint("c", "a", 4)
    m.deposit("b", 10_000)
    for key, price in (("c/1", 300), ("c/2", 200), ("c/3", 200), ("c/4", 400)):
        m.list("a", key, price)
    m.bid("b", "c", 100)
    m.bid("b", "c", 150)
    d = depth(m.state.book("c"), levels=2)
    assert d.asks == ((200, 2), (300, 1))
    assert d.bids == ((150, 1), (100, 1))


def test_referral_links_within_three_levels() -> None:
    up = {"b": "a", "c": "b", "d": "c", "e": "d"}.get
    assert linked("a", "d", up)
    assert linked("d", "a", up)
    assert not linked("a", "e", up)
    assert not linked("b", "x", up)


def test_tenant_calendar_counts_weekdays_and_holidays() -> None:
    cal = TenantCalendar(holidays=frozenset({date(2026, 10, 1)}),
                         workdays=frozenset({date(2026, 10, 10)}))  # fmt: skip
    friday, saturday, monday = date(2026, 9, 25), date(2026, 9, 26), date(2026, 9, 28)
    assert cal.is_trading(friday)
    assert not cal.is_trading(saturday)
    assert not cal.is_trading(date(2026, 10, 1))
    assert cal.is_trading(date(2026, 10, 10))  # a Saturday worked
    assert cal.trading_days_through(monday) == cal.trading_days_through(friday) + 1
    assert cal.clock(saturday) == Clock(
        cal.clock(friday).calendar_day + 1, cal.clock(friday).trading_day, False
    )
    assert cal.add_trading_days(friday, 5) == date(2026, 10, 5)  # the weekend and 10-01 skipped
    wk_before = cal.trading_days_through(date(2026, 9, 30))
    assert cal.trading_days_through(date(2026, 10, 2)) == wk_before + 1
    assert cal.trading_days_through(date(2026, 10, 10)) == wk_before + 7  # 10-02, 10-05..09, 10-10


def test_a_service_clock_moves_the_market_like_days() -> None:
    m = market("cn-licensed")
    cal = TenantCalendar()
    m.set_clock(cal.clock(date(2026, 9, 25)))
    m.set_clock(cal.clock(date(2026, 9, 26)))
    assert not m.state.clock.trading
