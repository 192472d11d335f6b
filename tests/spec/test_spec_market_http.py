"""market.md over the public HTTP API, on SQLite and PostgreSQL (a real server per database,
``conftest.py``): real-name gates, T+N holds in trading days, the price band, the holder
limit, bid expiry, the wash-trade watch and market data, each through the consumer and admin
routes a client uses. Every refusal: its status, its code, both sentences, nothing changed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from market_http_kit import (
    BEIJING,
    Calendar,
    at_noon,
    collection,
    consumer,
    deposit,
    id_number,
    minted,
    principal,
    refused,
    set_collection,
    set_profile,
    snapshot,
    today,
    verified,
)
from market_money_kit import audit_clean, db_of, money
from orders_helpers import sandbox_pay

from tokenmall.domain.market import MarketRefused
from tokenmall.domain.money import format_money
from tokenmall.services.market import orders, trading

LONG_AGO = 40  # calendar days: past every hold of these tests


@pytest.fixture
def cal(api: Api, tenant: TenantFixture) -> Calendar:
    """The tenant's calendar, today made a trading day (a weekend day by 调休)."""
    found = Calendar(api, tenant)
    found.open(today())
    return found


def _offer(api: Api, t: TenantFixture, token: str, cid: str, serial: int, to: str,
           price: str = "99.00") -> Any:  # fmt: skip
    body = {"collection_id": cid, "serial": serial, "to_user_id": to, "price": price}
    return api.post(t.path("/market/orders/offer"), token, json=body)


def _accept(api: Api, t: TenantFixture, token: str, order_id: int) -> Any:
    return api.post(t.path(f"/market/orders/{order_id}/accept"), token)


def _list(api: Api, t: TenantFixture, token: str, cid: str, serial: int, price: str) -> Any:
    body = {"collection_id": cid, "serial": serial, "price": price}
    return api.post(t.path("/market/orders/list"), token, json=body)


# --- (a) real names ---


def test_kyc_gates_both_sides_until_the_admin_approves_and_masks_the_number(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    set_profile(api, t, "cn-licensed")
    cid = collection(api, t)
    (serial,) = minted(server, t, cid, t.consumer_id, at_noon(today() - timedelta(LONG_AGO)))
    buyer, buyer_token = consumer(api, t)
    deposit(api, t, buyer_token, "500.00")
    seller = (t.consumer_id, t.consumer_token)
    answers: list[str] = []

    before = snapshot(api, server, t, seller, (buyer, buyer_token))
    no = _offer(api, t, t.consumer_token, cid, serial, buyer)
    answers.append(no.text)
    refused(no, 403, "kyc_required")
    assert snapshot(api, server, t, seller, (buyer, buyer_token)) == before

    rng = random.Random(t.tenant_id)
    numbers = {t.consumer_id: id_number(rng), buyer: id_number(rng)}

    def approve(user_token: str, user_id: str) -> None:
        body = {"real_name": "张三", "id_number": numbers[user_id]}
        made = api.post(t.path("/me/kyc"), user_token, json=body)
        assert ok(made, 201)["status"] == "pending"
        answers.append(made.text)
        queue = api.get(t.path("/kyc-submissions?status=pending"), t.admin_token)
        answers.append(queue.text)
        assert [s["user_id"] for s in ok(queue)["items"]] == [user_id]
        path = t.path(f"/kyc-submissions/{made.json()['submission_id']}/approve")
        done = api.post(path, t.admin_token)
        answers.append(done.text)
        assert ok(done)["status"] == "verified"
        mine = api.get(t.path("/me/kyc"), user_token)
        answers.append(mine.text)
        assert ok(mine)["kyc_status"] == "verified"
        one = api.get(t.path(f"/kyc-submissions/{made.json()['submission_id']}"), t.admin_token)
        answers.append(one.text)
        masked = ok(one)["id_masked"]
        assert "*" in masked
        assert masked.endswith(numbers[user_id][-4:])

    approve(t.consumer_token, t.consumer_id)
    again = _offer(api, t, t.consumer_token, cid, serial, buyer)
    answers.append(again.text)
    offered = ok(again)  # the same action passes
    # the agreement settles only when both sides are verified
    before = snapshot(api, server, t, seller, (buyer, buyer_token))
    no = _accept(api, t, buyer_token, offered["order_id"])
    answers.append(no.text)
    refused(no, 403, "kyc_required")
    assert snapshot(api, server, t, seller, (buyer, buyer_token)) == before
    approve(buyer_token, buyer)
    settled = _accept(api, t, buyer_token, offered["order_id"])
    answers.append(settled.text)
    trade = ok(settled)
    assert (trade["seller_id"], trade["buyer_id"], trade["price"]) == (
        t.consumer_id,
        buyer,
        "99.00",
    )
    for user_id, number in numbers.items():
        for text in answers:
            assert number not in text, (user_id, text)
            assert number[6:14] not in text  # not even the birth date


# --- (b) holds in trading days and closed days ---


def test_cn_licensed_t_plus_5_to_sell_counts_trading_days_only(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    set_profile(api, t, "cn-licensed")
    cid = collection(api, t)
    yesterday = today() - timedelta(1)
    cal.close(yesterday)  # a tenant holiday (or a weekend day) between the mint and today
    day_5, day_4 = cal.back(5), cal.back(4)
    between = [day_5 + timedelta(k) for k in range(1, (today() - day_5).days)]
    assert any(d.weekday() >= 5 for d in between)  # a weekend between counts as closed too
    s5, s5_token = consumer(api, t)
    s4, s4_token = consumer(api, t)
    buyer, _ = consumer(api, t)
    verified(api, t, s5, s4, buyer)
    (serial5,) = minted(server, t, cid, s5, at_noon(day_5))
    (serial4,) = minted(server, t, cid, s4, at_noon(day_4))
    users = ((s5, s5_token), (s4, s4_token))

    before = snapshot(api, server, t, *users)
    refused(_offer(api, t, s4_token, cid, serial4, buyer), 409, "hold_period", "serial")
    assert snapshot(api, server, t, *users) == before
    ok(_offer(api, t, s5_token, cid, serial5, buyer))  # trading day d + 5 itself: allowed
    # the admin opens yesterday (调休): the one minted on d + 4 is now on d + 5 as well
    cal.open(yesterday)
    assert cal.back(5) == day_4
    ok(_offer(api, t, s4_token, cid, serial4, buyer))
    # the minimum hold under cn-licensed is 5 trading days
    path = t.path(f"/market/collections/{cid}/settings")
    answer = api.post(path, t.admin_token, json={"hold_trading_days": 4})
    assert (answer.status_code, answer.json()["error"]["field"]) == (422, "hold_trading_days")


def test_cn_licensed_t_plus_5_to_buy_after_a_sale(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    set_profile(api, t, "cn-licensed")
    cid = collection(api, t)
    config = server.app.state.log_config
    holder, holder_token = consumer(api, t)
    s5, s5_token = consumer(api, t)
    s4, s4_token = consumer(api, t)
    past_buyer, past_token = consumer(api, t)
    verified(api, t, holder, s5, s4, past_buyer)
    for token in (s5_token, s4_token):
        deposit(api, t, token, "200.00")
    deposit(api, t, past_token, "300.00")
    long_ago = at_noon(today() - timedelta(LONG_AGO))
    mine = minted(server, t, cid, holder, long_ago, count=2)
    # each sold a token of the collection on a trading day in the past (time travel)
    for who, back in ((s5, 5), (s4, 4)):
        (serial,) = minted(server, t, cid, who, long_ago)
        sold_at = at_noon(cal.back(back))
        with db_of(server).unit() as unit:
            placed = orders.offer(
                unit, principal(t, who), t.tenant_id, cid, serial, past_buyer, 9_900,
                now=sold_at, config=config,
            )  # fmt: skip
            assert placed.order_id is not None
            trading.accept(unit, principal(t, past_buyer), t.tenant_id, placed.order_id,
                           now=sold_at, config=config)  # fmt: skip
    to_s4 = ok(_offer(api, t, holder_token, cid, mine[0], s4))
    to_s5 = ok(_offer(api, t, holder_token, cid, mine[1], s5))
    users = ((holder, holder_token), (s4, s4_token), (s5, s5_token))
    before = snapshot(api, server, t, *users)
    refused(_accept(api, t, s4_token, to_s4["order_id"]), 409, "hold_period")
    assert snapshot(api, server, t, *users) == before
    trade = ok(_accept(api, t, s5_token, to_s5["order_id"]))  # d + 5 itself: allowed
    assert (trade["seller_id"], trade["buyer_id"]) == (holder, s5)


def test_non_trading_days_are_closed_under_cn_licensed(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    set_profile(api, t, "cn-licensed")
    cid = collection(api, t)
    buyer, buyer_token = consumer(api, t)
    verified(api, t, t.consumer_id, buyer)
    deposit(api, t, buyer_token, "200.00")
    serials = minted(server, t, cid, t.consumer_id, at_noon(today() - timedelta(LONG_AGO)), 3)
    offered = ok(_offer(api, t, t.consumer_token, cid, serials[0], buyer))
    users = ((t.consumer_id, t.consumer_token), (buyer, buyer_token))
    cal.close(today())  # a tenant holiday
    before = snapshot(api, server, t, *users)
    refused(_offer(api, t, t.consumer_token, cid, serials[1], buyer), 409, "market_closed")
    refused(_accept(api, t, buyer_token, offered["order_id"]), 409, "market_closed")
    assert snapshot(api, server, t, *users) == before
    # a weekend day without 调休 is closed as well (the last Saturday, by time travel)
    saturday = today() - timedelta(days=(today().weekday() - 5) % 7 or 7)
    with db_of(server).unit() as unit, pytest.raises(MarketRefused) as closed:
        orders.offer(
            unit, principal(t, t.consumer_id), t.tenant_id, cid, serials[1], buyer, 9_900,
            now=at_noon(saturday), config=server.app.state.log_config,
        )  # fmt: skip
    assert closed.value.code == "market_closed"
    assert snapshot(api, server, t, *users) == before
    # cancels and gifts still go on a closed day
    ok(api.post(t.path(f"/market/orders/{offered['order_id']}/cancel"), t.consumer_token))
    cal.open(today())
    again = ok(_offer(api, t, t.consumer_token, cid, serials[1], buyer))
    trade = ok(_accept(api, t, buyer_token, again["order_id"]))
    assert trade["business_day"] == today().isoformat()


def test_open_profile_holds_each_token_from_its_own_acquisition(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    cid = collection(api, t)
    assert set_collection(api, t, cid, hold_trading_days=2)["hold_trading_days"] == 2
    (older,) = minted(server, t, cid, t.consumer_id, at_noon(cal.back(2)))
    (newer,) = minted(server, t, cid, t.consumer_id, at_noon(cal.back(1)))
    users = ((t.consumer_id, t.consumer_token),)
    before = snapshot(api, server, t, *users)
    refused(_list(api, t, t.consumer_token, cid, newer, "99.00"), 409, "hold_period", "serial")
    assert snapshot(api, server, t, *users) == before
    listed = ok(_list(api, t, t.consumer_token, cid, older, "99.00"))  # d + 2 itself
    assert listed["status"] == "open"


def test_open_profile_hold_counts_from_the_last_trade_not_a_gift(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    """ "Bought on trading day d, sellable from d + N": a gift passes the token on without
    starting its hold again; a purchase does."""
    t = tenant
    cid = collection(api, t)
    assert set_collection(api, t, cid, hold_trading_days=2)["hold_trading_days"] == 2
    (serial,) = minted(server, t, cid, t.consumer_id, at_noon(cal.back(2)))
    friend, friend_token = consumer(api, t)
    gift = {"collection_id": cid, "serial": serial, "to_user_id": friend}
    ok(api.post(t.path("/market/gifts"), t.consumer_token, json=gift))
    listed = ok(_list(api, t, friend_token, cid, serial, "99.00"))  # minted on d - 2
    assert listed["status"] == "open"
    # bought today: its hold starts again for the buyer
    deposit(api, t, t.consumer_token, "300.00")
    ok(api.post(t.path(f"/market/orders/{listed['order_id']}/take"), t.consumer_token))
    refused(_list(api, t, t.consumer_token, cid, serial, "99.00"), 409, "hold_period", "serial")


# --- (c) the price band ---


def test_cn_licensed_band_is_inclusive_around_the_reference_price(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    set_profile(api, t, "cn-licensed")
    cid = collection(api, t, price="99.00")  # the reference before any trade
    buyer, buyer_token = consumer(api, t)
    verified(api, t, t.consumer_id, buyer)
    deposit(api, t, buyer_token, "500.00")
    serials = iter(minted(server, t, cid, t.consumer_id, at_noon(today() - timedelta(40)), 12))
    users = ((t.consumer_id, t.consumer_token), (buyer, buyer_token))

    def edges(low: str, high: str, below: str, above: str) -> None:
        for price in (low, high):
            ok(_offer(api, t, t.consumer_token, cid, next(serials), buyer, price))
        before = snapshot(api, server, t, *users)
        for price in (below, above):
            refused(_offer(api, t, t.consumer_token, cid, 1, buyer, price), 409, "price_band",
                    "price")  # fmt: skip
        assert snapshot(api, server, t, *users) == before

    edges("89.10", "108.90", "89.09", "108.91")  # 99.00 × (1 ∓ 0.10)
    # a trade on the last trading day before today moves today's reference to its price
    config = server.app.state.log_config
    last = at_noon(cal.back(1))
    with db_of(server).unit() as unit:
        placed = orders.offer(unit, principal(t, t.consumer_id), t.tenant_id, cid,
                              next(serials), buyer, 10_000, now=last, config=config)  # fmt: skip
        assert placed.order_id is not None
        trading.accept(unit, principal(t, buyer), t.tenant_id, placed.order_id, now=last,
                       config=config)  # fmt: skip
    edges("90.00", "110.00", "89.99", "110.01")
    # a trade today at the edge does not move today's reference
    top = ok(_offer(api, t, t.consumer_token, cid, next(serials), buyer, "110.00"))
    assert ok(_accept(api, t, buyer_token, top["order_id"]))["price"] == "110.00"
    edges("90.00", "110.00", "89.99", "110.01")


# --- (d) the holder limit ---


def test_cn_licensed_holder_limit_counts_everyone_who_ever_held(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    set_profile(api, t, "cn-licensed")
    cid = collection(api, t)
    assert ok(api.get(t.path(f"/market/collections/{cid}/settings"), t.admin_token))[
        "holder_limit"
    ] in (None, 200)  # the profile's default, 200
    assert set_collection(api, t, cid, holder_limit=3)["holder_limit"] == 3
    holder, holder_token = t.consumer_id, t.consumer_token
    first, first_token = consumer(api, t)
    third, third_token = consumer(api, t)
    fourth, fourth_token = consumer(api, t)
    verified(api, t, holder, first, third, fourth)
    for token in (first_token, third_token, fourth_token):
        deposit(api, t, token, "300.00")
    long_ago = at_noon(today() - timedelta(LONG_AGO))
    serials = minted(server, t, cid, holder, long_ago, 3)
    minted(server, t, cid, first, long_ago)  # two holders so far
    to_third = ok(_offer(api, t, holder_token, cid, serials[0], third))
    to_fourth = ok(_offer(api, t, holder_token, cid, serials[1], fourth))
    to_first = ok(_offer(api, t, holder_token, cid, serials[2], first))
    ok(_accept(api, t, third_token, to_third["order_id"]))  # the 3rd holder: at the limit
    users = ((holder, holder_token), (fourth, fourth_token), (third, third_token))
    before = snapshot(api, server, t, *users)
    refused(_accept(api, t, fourth_token, to_fourth["order_id"]), 409, "holder_limit")
    assert snapshot(api, server, t, *users) == before
    ok(_accept(api, t, first_token, to_first["order_id"]))  # a holder already counted
    # the 3rd holder sold nothing yet holds: their gift to a 4th is refused as well
    gift = {"collection_id": cid, "serial": serials[0], "to_user_id": fourth}
    refused(api.post(t.path("/market/gifts"), third_token, json=gift), 409, "holder_limit")
    assert set_collection(api, t, cid, holder_limit=4)["holder_limit"] == 4
    trade = ok(_accept(api, t, fourth_token, to_fourth["order_id"]))
    assert trade["buyer_id"] == fourth


# --- (e) bid expiry ---


@pytest.fixture
def dev_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler with the served app's settings (development mode, its secret key)."""
    monkeypatch.setenv("TOKENMALL_ENV", "development")
    monkeypatch.delenv("TOKENMALL_SECRET_KEY", raising=False)


@pytest.mark.usefixtures("dev_scheduler")
def test_a_bid_past_its_days_never_trades_and_the_scheduler_returns_its_cash_once(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar, cli: Any
) -> None:
    t = tenant
    cid = collection(api, t)
    minted(server, t, cid, t.consumer_id, at_noon(today() - timedelta(LONG_AGO)), 2)
    bidder, bidder_token = consumer(api, t)
    deposit(api, t, bidder_token, "110.00")
    placed_at = at_noon(today() - timedelta(2))  # good for one day: due since yesterday
    with db_of(server).unit() as unit:
        due = trading.bid(unit, principal(t, bidder), t.tenant_id, cid, 6_000, now=placed_at,
                          config=server.app.state.log_config, valid_days=1).order_id  # fmt: skip
    live = ok(api.post(t.path("/market/orders/bid"), bidder_token,
                       json={"collection_id": cid, "price": "50.00"}))["order"]  # fmt: skip
    users = ((bidder, bidder_token), (t.consumer_id, t.consumer_token))
    assert money(server, t, bidder)[bidder] == 110_00 - 60_00 - 50_00
    data = ok(api.get(t.path(f"/market/collections/{cid}"), bidder_token))
    assert (data["highest_bid"], data["bids"]) == ("50.00", [{"price": "50.00", "orders": 1}])
    # acting on it is `expired`, and changes nothing
    before = snapshot(api, server, t, *users)
    refused(api.post(t.path(f"/market/orders/{due}/cancel"), bidder_token), 409, "expired")
    assert snapshot(api, server, t, *users) == before
    # a listing under its price does not trade with it: it rests
    listed = ok(_list(api, t, t.consumer_token, cid, 1, "55.00"))
    assert listed["status"] == "open"
    assert money(server, t, bidder)[bidder] == 0
    _, (tokens, orders_before, trades), _ = snapshot(api, server, t, *users)
    # the scheduler's round closes it and returns its cash, once
    url = server.settings.database_url
    ran = cli("scheduler", "--once", "--at", "00:00", "--database", url)
    assert ran.returncode == 0, ran.stderr
    ours = f"tenant {t.tenant_id} "
    mine = [x for x in ran.stdout.splitlines() if x.startswith(ours) and ": market: " in x]
    assert len(mine) == 1, ran.stdout
    assert mine[0].endswith(": market: 1 order(s) expired, 0 royalty payout(s)")
    after = money(server, t, bidder)
    assert (after[bidder], after["market_escrow"]) == (60_00, 50_00)
    statuses = {o["order_id"]: o["status"] for o in
                ok(api.get(t.path("/market/orders/mine"), bidder_token))["orders"]}  # fmt: skip
    assert statuses == {due: "expired", live["order_id"]: "open"}
    settled = snapshot(api, server, t, *users)
    # nothing else changed: the tokens, the trades, every other order
    expected = [(i, "expired" if i == due else status) for i, status in orders_before]
    assert settled[1] == (tokens, expected, trades)
    again = cli("scheduler", "--once", "--at", "00:00", "--database", url)
    assert again.returncode == 0, again.stderr
    assert not [x for x in again.stdout.splitlines() if x.startswith(ours) and ": market: " in x]
    assert snapshot(api, server, t, *users) == settled
    audit_clean(server, t)


# --- (f) the wash-trade watch ---


def test_trades_within_three_referral_levels_are_flagged_and_earn_nothing(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    cid = collection(api, t)
    serials = minted(server, t, cid, t.consumer_id, at_noon(today() - timedelta(LONG_AGO)), 2)
    chain = [(t.consumer_id, t.consumer_token)]
    for _ in range(4):  # each invited by the one before: levels 1 to 4 below the seller
        code = ok(api.get(t.path("/me"), chain[-1][1]))["invite_code"]
        chain.append(consumer(api, t, invite_code=code))
    (seller, seller_token), _, _, (third, third_token), (fourth, fourth_token) = chain
    deposit(api, t, third_token, "100.00")
    deposit(api, t, fourth_token, "100.00")
    wallets = {u: ok(api.get(t.path("/wallet"), token)) for u, token in chain}

    one = ok(_list(api, t, seller_token, cid, serials[0], "100.00"))
    flagged = ok(api.post(t.path(f"/market/orders/{one['order_id']}/take"), third_token))
    assert (flagged["flagged"], flagged["flag_reason"]) == (True, "referral_link")
    two = ok(_list(api, t, seller_token, cid, serials[1], "80.00"))
    clean = ok(api.post(t.path(f"/market/orders/{two['order_id']}/take"), fourth_token))
    assert (clean["flagged"], clean["flag_reason"]) == (False, None)

    report = ok(api.get(t.path("/market/admin/trades/flagged"), t.admin_token))
    assert [x["trade_id"] for x in report["trades"]] == [flagged["trade_id"]]
    assert (report["flagged_count"], report["flagged_volume"]) == (1, "100.00")
    every = ok(api.get(t.path("/market/admin/trades"), t.admin_token))
    assert (every["count"], every["volume"]) == (2, "180.00")
    assert (every["flagged_count"], every["flagged_volume"]) == (1, "100.00")
    refused_listing = api.get(t.path("/market/admin/trades/flagged"), seller_token)
    assert refused_listing.status_code == 403
    # earning nothing: no points, quota or dividends anywhere in the chain; only cash moved
    cash = {seller: "180.00", third: "0.00", fourth: "20.00"}
    for user_id, token in chain:
        now = ok(api.get(t.path("/wallet"), token))
        was = wallets[user_id]
        assert now["cash"] == cash.get(user_id, was["cash"]), user_id
        for name in ("points", "quota_total", "quota_used", "dividends_received", "shares"):
            assert now[name] == was[name], (user_id, name)
    audit_clean(server, t)


# --- (g) market data ---


def test_market_data_after_a_scripted_sequence(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    cid = collection(api, t)
    set_collection(api, t, cid, fee_rate="0.02", royalty_rate="0.05")
    seller, seller_token = t.consumer_id, t.consumer_token
    b1, b1_token = consumer(api, t)
    b2, b2_token = consumer(api, t)
    deposit(api, t, b1_token, "1000.00")
    deposit(api, t, b2_token, "1000.00")
    now = datetime.now(UTC)
    serials = minted(server, t, cid, seller, now - timedelta(days=LONG_AGO), 8)
    config = server.app.state.log_config
    trades: list[tuple[datetime, int]] = []  # (when, price fen) as the test expects them

    def past_trade(serial: int, price: int, buyer: str, when: datetime) -> None:
        with db_of(server).unit() as unit:
            listing = orders.list_token(unit, principal(t, seller), t.tenant_id, cid, serial,
                                        price, now=when, config=config).order_id  # fmt: skip
            assert listing is not None
            trading.take(unit, principal(t, buyer), t.tenant_id, listing, now=when, config=config)
        trades.append((when, price))

    past_trade(serials[0], 100_00, b1, now - timedelta(hours=48))
    past_trade(serials[1], 120_00, b1, now - timedelta(hours=47))
    past_trade(serials[2], 90_00, b2, now - timedelta(hours=30))
    four = ok(_list(api, t, seller_token, cid, serials[3], "110.00"))
    ok(api.post(t.path(f"/market/orders/{four['order_id']}/take"), b1_token))
    trades.append((now, 110_00))
    bid = {"collection_id": cid, "price": "105.00"}
    ok(api.post(t.path("/market/orders/bid"), b2_token, json=bid))
    filled = ok(_list(api, t, seller_token, cid, serials[4], "104.00"))  # at the bid's price
    assert filled["status"] == "filled"
    trades.append((now, 105_00))
    for token, serial, price in ((seller_token, serials[5], "130.00"),
                                 (seller_token, serials[6], "125.00"),
                                 (b1_token, serials[0], "125.00")):  # fmt: skip
        assert ok(_list(api, t, token, cid, serial, price))["status"] == "open"
    for token, price in ((b2_token, "80.00"), (b1_token, "85.00")):
        placed = ok(api.post(t.path("/market/orders/bid"), token,
                             json={"collection_id": cid, "price": price}))  # fmt: skip
        assert placed["trades"] == []

    data = ok(api.get(t.path(f"/market/collections/{cid}"), b2_token))
    candles: dict[str, list[int]] = {}
    for when, price in trades:  # daily OHLC by the Beijing day, recomputed here
        day = when.astimezone(BEIJING).date().isoformat()
        c = candles.setdefault(day, [price, price, price, price, 0, 0])
        c[1], c[2], c[3] = max(c[1], price), min(c[2], price), price
        c[4], c[5] = c[4] + price, c[5] + 1
    fen = format_money
    assert data["candles"] == [
        {"day": d, "open": fen(o), "high": fen(h), "low": fen(lo), "close": fen(c),
         "volume": fen(v), "trades": n}
        for d, (o, h, lo, c, v, n) in candles.items()
    ]  # fmt: skip
    assert (data["floor"], data["highest_bid"], data["last_price"]) == (
        "125.00", "85.00", "105.00",
    )  # fmt: skip
    day_ago = datetime.now(UTC) - timedelta(hours=24)
    assert data["volume_24h"] == fen(sum(p for when, p in trades if when >= day_ago))
    assert data["volume_24h"] == "215.00"
    assert data["holders"] == len({seller, b1, b2})
    assert data["asks"] == [{"price": "125.00", "orders": 2}, {"price": "130.00", "orders": 1}]
    assert data["bids"] == [{"price": "85.00", "orders": 1}, {"price": "80.00", "orders": 1}]
    audit_clean(server, t)


def test_a_token_bought_in_the_drop_waits_t_plus_5_under_cn_licensed(
    api: Api, server: Any, tenant: TenantFixture, cal: Calendar
) -> None:
    t = tenant
    set_profile(api, t, "cn-licensed")
    cid = collection(api, t)
    buyer, _ = consumer(api, t)
    verified(api, t, t.consumer_id, buyer)
    path = t.path(f"/nfg/collections/{cid}/reservations")
    made = ok(api.post(path, t.consumer_token, json={"quantity": 1}), 201)
    assert sandbox_pay(api, made["payment_url"]).status_code == 200
    found = ok(api.get(t.path(f"/nfg/reservations/{made['reservation_id']}"), t.consumer_token))
    (serial,) = found["serials"]
    users = ((t.consumer_id, t.consumer_token),)
    before = snapshot(api, server, t, *users)
    refused(_offer(api, t, t.consumer_token, cid, serial, buyer), 409, "hold_period", "serial")
    assert snapshot(api, server, t, *users) == before
