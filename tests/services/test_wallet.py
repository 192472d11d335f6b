"""The wallet's use cases on the in-memory unit of work: integers in, integers out; a
refused trade or redemption changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from fakes import FakeHoldings, FakeUnitOfWork
from fakes_wallet import FakeTrades

from tokenmall.domain.economy import standing
from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.state import Holder
from tokenmall.domain.errors import InsufficientBalance
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.catalogue import Merchant
from tokenmall.domain.mall.people import KycStatus, Role, User
from tokenmall.services.mall import wallet
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Forbidden, InvalidInput, NotFound

TENANT = "t1"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADMIN = Principal("api_key", "cred-1", "usr-admin", TENANT, Role.ADMIN)
SELLER = Principal("session", "cred-2", "usr-seller", TENANT, Role.MERCHANT)
RIVAL = Principal("session", "cred-3", "usr-rival", TENANT, Role.MERCHANT)
BUYER = Principal("session", "cred-4", "usr-buyer", TENANT, Role.CONSUMER)
OTHER = Principal("session", "cred-5", "usr-other", TENANT, Role.CONSUMER)
DAY1, DAY2, DAY3 = date(2026, 1, 1), date(2025, 12, 31), date(2025, 12, 30)


def _user(user_id: str, role: Role) -> User:
    return User(
        TENANT, user_id, f"{user_id}@example.com", user_id, role, KycStatus.NONE, "c", None, NOW
    )


def _holder(name: str, points: int, seq: int = 0, stable: int = 0) -> Holder:
    h = Holder(name)
    h.points, h.points_seq, h.stable = points, seq, stable
    return h


def unit() -> FakeUnitOfWork:
    """Two consumers paid dividends on two of three settled days, one merchant with stable
    points, a price of 3/2 fen per point unit."""
    uow = FakeUnitOfWork()
    for who in (BUYER, OTHER):
        uow.people.users[(TENANT, who.subject_id)] = _user(who.subject_id, Role.CONSUMER)
    uow.catalogue.add_merchant(Merchant(TENANT, "mch-1", "Tea House", SELLER.subject_id, NOW))
    uow.holdings.prices[TENANT] = (3, 2)
    uow.holdings.settled = [DAY1, DAY2, DAY3]
    uow.holdings.paid = {(BUYER.subject_id, DAY1): 125, (BUYER.subject_id, DAY3): 7}
    uow.holdings.paid[(OTHER.subject_id, DAY2)] = 40
    return uow


def test_dividends_are_fen_per_settled_day_newest_first() -> None:
    uow = unit()
    found = wallet.dividends(uow, BUYER, TENANT, 30)
    assert found == [
        wallet.DividendDay(DAY1, 125),
        wallet.DividendDay(DAY2, 0),
        wallet.DividendDay(DAY3, 7),
    ]
    assert wallet.dividends(uow, BUYER, TENANT, 1) == [wallet.DividendDay(DAY1, 125)]


def test_dividends_of_another_user_are_for_admins_only() -> None:
    uow = unit()
    assert wallet.dividends(uow, ADMIN, TENANT, 3, OTHER.subject_id)[1].amount == 40
    with pytest.raises(Forbidden):
        wallet.dividends(uow, BUYER, TENANT, 3, OTHER.subject_id)
    with pytest.raises(NotFound):
        wallet.dividends(uow, ADMIN, TENANT, 3, "usr-nobody")


def test_dividends_with_nothing_settled_are_empty() -> None:
    uow = FakeUnitOfWork()
    assert wallet.dividends(uow, BUYER, TENANT, 30) == []


def test_merchant_wallet_holds_integers_and_the_exact_price() -> None:
    uow = unit()
    uow.holdings.holders[(TENANT, "mch-1")] = _holder("mch-1", 150_000_000, stable=4_321)
    mine = wallet.merchant_wallet(uow, SELLER, TENANT, "mch-1")
    assert mine == wallet.MerchantWallet("mch-1", 4_321, 150_000_000, wallet.Price(3, 2))
    assert wallet.merchant_wallet(uow, ADMIN, TENANT, "mch-1") == mine


def test_merchant_wallet_of_a_merchant_without_holdings_is_zero() -> None:
    found = wallet.merchant_wallet(unit(), SELLER, TENANT, "mch-1")
    assert (found.stable, found.points) == (0, 0)


def test_merchant_wallet_is_hidden_from_other_merchants_and_consumers() -> None:
    uow = unit()
    with pytest.raises(NotFound):
        wallet.merchant_wallet(uow, RIVAL, TENANT, "mch-1")
    with pytest.raises(NotFound):
        wallet.merchant_wallet(uow, ADMIN, TENANT, "mch-unknown")
    with pytest.raises(Forbidden):
        wallet.merchant_wallet(uow, BUYER, TENANT, "mch-1")


def test_leaderboard_ranks_by_points_then_who_got_there_first() -> None:
    uow = unit()
    uow.params.params = Params()
    uow.holdings.holders = {
        (TENANT, "usr-buyer"): _holder("usr-buyer", 500, seq=9),
        (TENANT, "usr-other"): _holder("usr-other", 500, seq=3),
        (TENANT, "mch-1"): _holder("mch-1", 900),
        (TENANT, "usr-none"): _holder("usr-none", 0),
        ("t2", "usr-elsewhere"): _holder("usr-elsewhere", 10**9),
    }
    uow.holdings.names = {"usr-buyer": "Lina", "mch-1": "Tea House"}
    ranks = wallet.leaderboard(uow, BUYER, TENANT, 10)
    assert [(r.rank, r.name, r.points, r.you) for r in ranks] == [
        (1, "Tea House", 900, False),
        (2, "—", 500, False),  # a holder with no display name shows none, never its id
        (3, "Lina", 500, True),
    ]
    assert [r.level for r in ranks] == [
        standing.level(Params(), uow.holdings.holders[(TENANT, name)])
        for name in ("mch-1", "usr-other", "usr-buyer")
    ]
    assert [r.rank for r in wallet.leaderboard(uow, BUYER, TENANT, 1)] == [1]


def test_leaderboard_is_not_shown_to_another_tenant() -> None:
    stranger = Principal("session", "cred-9", "usr-x", "t2", Role.CONSUMER)
    with pytest.raises(NotFound):
        wallet.leaderboard(unit(), stranger, TENANT, 10)


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def test_price_history_closes_each_utc_day_at_its_last_priced_journal() -> None:
    uow = unit()
    uow.journals.made = [
        (_at(1, 9), 100_000_000),  # 1.00000000 yuan per point
        (_at(1, 20), None),  # a journal that records no price
        (_at(1, 23), 101_000_000),
        (_at(3, 8), 102_500_000),
        (_at(3, 9), None),
    ]
    found = wallet.price_history(uow, BUYER, TENANT, 4, _at(4, 12))
    assert found == wallet.PriceHistory(
        4,
        [
            wallet.Close(date(2026, 1, 1), 101_000_000),
            wallet.Close(date(2026, 1, 2), 101_000_000),  # no trade: yesterday's close
            wallet.Close(date(2026, 1, 3), 102_500_000),
            wallet.Close(date(2026, 1, 4), 102_500_000),
        ],
        wallet.Price(3, 2),
    )


def test_price_history_skips_days_before_the_first_priced_journal() -> None:
    uow = unit()
    uow.journals.made = [(_at(3, 1), None), (_at(3, 2), 99_000_000)]
    found = wallet.price_history(uow, BUYER, TENANT, 3, _at(3, 5))
    assert found.series == [wallet.Close(date(2026, 1, 3), 99_000_000)]
    empty = wallet.price_history(FakeUnitOfWork(), BUYER, TENANT, 30, _at(3, 5))
    assert (empty.series, empty.current) == ([], wallet.Price(1, 1))


def test_price_history_is_not_shown_to_another_tenant() -> None:
    stranger = Principal("session", "cred-9", "usr-x", "t2", Role.CONSUMER)
    with pytest.raises(NotFound):
        wallet.price_history(unit(), stranger, TENANT, 3, _at(3, 5))


# -- the wallet itself, previews, trades and redemptions ----------------------------------------


def _everything(uow: FakeUnitOfWork) -> tuple[object, ...]:
    """What the unit holds, holders as their balances (``Holder`` compares by identity)."""
    rest = [p for p in uow.snapshot() if not isinstance(p, (FakeHoldings, FakeTrades))]
    balances = {
        where: tuple(getattr(h, name) for name in Holder.__slots__)
        for where, h in uow.holdings.holders.items()
    }
    return (rest, balances, list(uow.trades.journals), uow.commits)


def _rich(uow: FakeUnitOfWork) -> Holder:
    """The buyer holds 2 points, 5.00 of cash and 1.00 of stable points."""
    h = _holder(BUYER.subject_id, 200_000_000, stable=100)
    h.cash = 500
    uow.holdings.holders[(TENANT, BUYER.subject_id)] = h
    return h


def test_wallet_is_the_holders_integers_with_the_buyback_value_and_what_backs_it() -> None:
    uow = unit()
    _rich(uow)
    uow.trades.pending[(TENANT, BUYER.subject_id)] = 120
    uow.cash.debts[(TENANT, BUYER.subject_id)] = 30
    mine = wallet.wallet(uow, BUYER, TENANT, NOW)
    params = uow.params.params
    assert (mine.user_id, mine.points, mine.cash, mine.stable) == (
        BUYER.subject_id,
        200_000_000,
        500,
        100,
    )
    assert (mine.cash_withdrawing, mine.debt, mine.price) == (120, 30, wallet.Price(3, 2))
    assert mine.points_value == 200_000_000 * 3 * (1 - params.sell_fee_rate) // 2
    assert mine.sell_fee_rate == params.sell_fee_rate
    assert mine.backed_by.window_days == 30
    assert (mine.backed_by.health.price_num, mine.backed_by.health.price_den) == (3, 2)
    assert wallet.wallet(uow, ADMIN, TENANT, NOW, BUYER.subject_id) == mine


def test_wallet_of_another_user_is_for_admins_only() -> None:
    uow = unit()
    with pytest.raises(Forbidden):
        wallet.wallet(uow, BUYER, TENANT, NOW, OTHER.subject_id)
    with pytest.raises(NotFound):
        wallet.wallet(uow, ADMIN, TENANT, NOW, "usr-nobody")
    empty = wallet.wallet(uow, OTHER, TENANT, NOW)
    assert (empty.points, empty.points_value, empty.cash) == (0, 0, 0)


def test_preview_is_exactly_the_trade_and_changes_nothing() -> None:
    uow = unit()
    _rich(uow)
    before = _everything(uow)
    seen = wallet.preview(uow, BUYER, TENANT, "sell", "0.5")
    assert _everything(uow) == before
    assert uow.trades.journals == []
    assert seen.points == 50_000_000
    assert seen.value_at_price == 75_000_000
    assert seen.fee == seen.value_at_price - seen.receive
    assert (seen.journal_id, seen.receive_as) == (None, "cash")
    with uow:
        done = wallet.execute(uow, BUYER, TENANT, "sell", "0.5")
    assert done == replace(seen, journal_id=1)


def test_sell_moves_points_to_cash_and_convert_moves_them_to_stable_points() -> None:
    uow = unit()
    h = _rich(uow)
    with uow:
        sold = wallet.execute(uow, BUYER, TENANT, "sell", "0.5")
    assert (h.points, h.cash) == (150_000_000, 500 + sold.receive)
    assert sold.fee_rate == uow.params.params.sell_fee_rate
    with uow:
        converted = wallet.execute(uow, BUYER, TENANT, "convert", "1")
    h = uow.holdings.holder(TENANT, BUYER.subject_id)
    assert (h.points, h.stable) == (50_000_000, 100 + converted.receive)
    assert (converted.receive_as, converted.journal_id) == ("stable", 2)
    assert converted.fee == 150_000_000 - converted.receive
    assert [type(j) for j in uow.trades.journals] == [c.Sell, c.Convert]


@pytest.mark.parametrize(
    ("kind", "points", "error"),
    [
        ("sell", "2.00000001", InsufficientBalance),  # more than the buyer holds
        ("convert", "3", InsufficientBalance),
        ("sell", "0", InvalidInput),
        ("sell", "-1", InvalidInput),
        ("convert", "abc", InvalidInput),
        ("sell", "0.000000001", InvalidInput),  # a ninth decimal place
    ],
)
def test_a_refused_trade_changes_nothing(
    kind: wallet.Kind, points: str, error: type[Exception]
) -> None:
    uow = unit()
    _rich(uow)
    before = _everything(uow)
    with pytest.raises(error), uow:
        wallet.execute(uow, BUYER, TENANT, kind, points)
    assert _everything(uow) == before
    assert uow.commits == 0
    with pytest.raises(error):
        wallet.preview(uow, BUYER, TENANT, kind, points)


def test_a_trade_for_another_tenant_is_refused_before_the_ledger() -> None:
    uow = unit()
    _rich(uow)
    before = _everything(uow)
    stranger = Principal("session", "cred-9", "usr-x", "t2", Role.CONSUMER)
    with pytest.raises(NotFound), uow:
        wallet.execute(uow, stranger, TENANT, "sell", "1")
    assert _everything(uow) == before


def test_a_merchant_redeems_stable_points_for_points_at_the_price() -> None:
    uow = unit()
    shop = _holder("mch-1", 0, stable=4_500)
    uow.holdings.holders[(TENANT, "mch-1")] = shop
    with uow:
        done = wallet.redeem(uow, SELLER, TENANT, "mch-1", "30.00")
    assert done == wallet.Redemption("mch-1", 3_000, 2_000, 150_000_000_000_000, 1)
    assert (shop.stable, shop.points) == (1_500, 2_000)


def test_a_refused_redemption_changes_nothing() -> None:
    uow = unit()
    uow.holdings.holders[(TENANT, "mch-1")] = _holder("mch-1", 0, stable=100)
    before = _everything(uow)
    for who, amount, error in (
        (SELLER, "1.01", InsufficientBalance),  # more than the merchant holds
        (SELLER, "0", InvalidInput),
        (RIVAL, "1.00", NotFound),  # not the owner
        (BUYER, "1.00", Forbidden),
    ):
        with pytest.raises(error), uow:
            wallet.redeem(uow, who, TENANT, "mch-1", amount)
        assert _everything(uow) == before
    assert uow.trades.journals == []


def test_the_wallet_says_how_far_forced_exit_is_and_only_when_the_rule_can_apply() -> None:
    uow = unit()
    uow.holdings.prices[TENANT] = (3, 2 * 10**6)  # 1.50 yuan a point
    buyer = _holder(BUYER.subject_id, 100 * 10**8)  # 100 points: 150.00 at the price
    buyer.quota, buyer.quota_used = 200_00, 20_00  # 180.00 left
    uow.holdings.holders[(TENANT, BUYER.subject_id)] = buyer
    seen = wallet.wallet(uow, BUYER, TENANT, NOW)
    assert seen.forced_exit_gap == 180_00 - 150_00
    buyer.quota_used = 60_00  # 140.00 left: the points are worth more, out at the next day
    assert wallet.wallet(uow, BUYER, TENANT, NOW).forced_exit_gap == 0
    buyer.exited = True
    assert wallet.wallet(uow, BUYER, TENANT, NOW).forced_exit_gap is None
    buyer.exited = False
    uow.params.params = replace(Params(), forced_exit=False)
    assert wallet.wallet(uow, BUYER, TENANT, NOW).forced_exit_gap is None
