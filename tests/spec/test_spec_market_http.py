"""market.md over the public HTTP API, on SQLite and PostgreSQL (a real server per database,
``conftest.py``): real-name gates, T+N holds in trading days, the price band, the holder
limit, bid expiry, the wash-trade watch and market data, each through the consumer and admin
routes a client uses. Every refusal: its status, its code, both sentences, nothing changed."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from market_http_kit import (
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
from market_money_kit import db_of

from tokenmall.domain.market import MarketRefused
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
    refused(no, 403, "kyc_required")
    assert snapshot(api, server, t, seller, (buyer, buyer_token)) == before

    rng = random.Random(t.tenant_id)
    numbers = {t.consumer_id: id_number(rng), buyer: id_number(rng)}

    def approve(user_token: str, user_id: str) -> None:
        body = {"real_name": "张三", "id_number": numbers[user_id]}
        made = api.post(t.path("/me/kyc"), user_token, json=body)
        answers.append(ok(made, 201) and made.text)
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
        assert ok(one)["id_masked"].endswith(numbers[user_id][-4:])

    approve(t.consumer_token, t.consumer_id)
    offered = ok(_offer(api, t, t.consumer_token, cid, serial, buyer))  # the same action passes
    answers.append(str(offered))
    # the agreement settles only when both sides are verified
    before = snapshot(api, server, t, seller, (buyer, buyer_token))
    no = _accept(api, t, buyer_token, offered["order_id"])
    answers.append(no.text)
    refused(no, 403, "kyc_required")
    assert snapshot(api, server, t, seller, (buyer, buyer_token)) == before
    approve(buyer_token, buyer)
    trade = ok(_accept(api, t, buyer_token, offered["order_id"]))
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
    assert (today() - day_5).days >= 7  # the weekends between count as closed too
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
