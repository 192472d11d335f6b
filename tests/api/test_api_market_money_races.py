"""Races on the market's money over real HTTP (SQLite and PostgreSQL): many buyers taking one
listing at once make exactly one trade and one charge, the rest a clean 4xx; a bid racing its
own cancels and a listing that would fill it returns or spends its reservation exactly once.
Never a 500; the audit stays clean and every fen is accounted for."""

from __future__ import annotations

from typing import Any

import httpx
from mall_api import Api, TenantFixture, ok
from market_money_kit import audit_clean, conserved, fund, money, rows, user
from test_api_market_money import _bid, _list, _market
from test_api_market_races import _all_at_once, _codes

BUYERS = 32


def test_many_buyers_take_one_listing_one_wins(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyers = [user(api, t) for _ in range(BUYERS)]
    for buyer, _ in buyers:
        fund(server, t, buyer, 20_000)
    listed = ok(_list(api, t, t.consumer_token, cid, 1, "120.00"))
    path = t.path(f"/market/orders/{listed['order_id']}/take")

    def taker(token: str) -> Any:
        return lambda client: client.post(path, token)

    answers = _all_at_once(server.base_url, [taker(token) for _, token in buyers])
    codes = _codes(answers)
    assert codes[0] == (200, ""), codes
    assert all(400 <= status < 500 for status, _ in codes[1:]), codes
    winners = [buyers[i][0] for i, a in enumerate(answers) if a.status_code == 200]
    assert len(winners) == 1
    ids = [b for b, _ in buyers]
    m = money(server, t, t.consumer_id, *ids)
    charged = [b for b in ids if m[b] != 20_000]
    assert charged == winners
    assert m[winners[0]] == 8_000
    assert (m[t.consumer_id], m["market_fees"], m["royalties"]) == (11_160, 240, 600)
    tokens, orders, trades = rows(server, t)
    assert tokens == [(cid, 1, winners[0], "held")]
    assert orders == [(listed["order_id"], "filled")]
    assert len(trades) == 1
    audit_clean(server, t)
    conserved(server, t, t.consumer_id, *ids)


def test_a_bid_racing_its_cancels_and_a_listing_is_spent_or_returned_once(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 10_000)
    placed = ok(_bid(api, t, buyer_token, cid, "100.00"))
    cancel = t.path(f"/market/orders/{placed['order']['order_id']}/cancel")

    def cancel_it(client: Api) -> httpx.Response:
        return client.post(cancel, buyer_token)

    def sell(client: Api) -> httpx.Response:
        return _list(client, t, t.consumer_token, cid, 1, "100.00")

    answers = _all_at_once(server.base_url, [cancel_it] * 6 + [sell])
    assert all(a.status_code < 500 for a in answers), _codes(answers)
    cancels = sum(1 for a in answers[:6] if a.status_code == 200)
    m = money(server, t, buyer, t.consumer_id)
    tokens, _, trades = rows(server, t)
    if trades:  # the listing filled the bid first: no cancel could release it
        assert cancels == 0
        assert (m[buyer], m[t.consumer_id], tokens[0][2]) == (0, 9_300, buyer)
    else:  # one cancel released it once; the listing rests
        assert cancels == 1
        assert (m[buyer], m[t.consumer_id], tokens[0][3]) == (10_000, 0, "listed")
    assert m["market_escrow"] == 0
    audit_clean(server, t)
    conserved(server, t, buyer, t.consumer_id)


def test_two_bids_of_one_bidders_cash_at_once_reserve_it_once(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, t.consumer_id)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 10_000)

    def bid(client: Api) -> httpx.Response:
        return _bid(client, t, buyer_token, cid, "100.00")

    answers = _all_at_once(server.base_url, [bid] * 8)
    codes = _codes(answers)
    assert codes == [(200, "")] + [(409, "insufficient_funds")] * 7, codes
    m = money(server, t, buyer)
    assert (m[buyer], m["market_escrow"]) == (0, 10_000)
    audit_clean(server, t)


def test_one_buyer_takes_many_listings_at_once(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, *[t.consumer_id] * 6)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 100_000)
    listed = [ok(_list(api, t, t.consumer_token, cid, n, "100.00")) for n in range(1, 7)]

    def taker(order_id: int) -> Any:
        path = t.path(f"/market/orders/{order_id}/take")
        return lambda client: client.post(path, buyer_token)

    answers = _all_at_once(server.base_url, [taker(o["order_id"]) for o in listed])
    assert _codes(answers) == [(200, "")] * 6
    m = money(server, t, buyer, t.consumer_id)
    assert (m[buyer], m[t.consumer_id]) == (40_000, 6 * 9_300)
    audit_clean(server, t)
    conserved(server, t, buyer, t.consumer_id)


def test_crossing_bids_and_listings_at_once_never_both_rest(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _market(api, server, t, *[t.consumer_id] * 4)
    bidders = [user(api, t) for _ in range(4)]
    for bidder, _ in bidders:
        fund(server, t, bidder, 10_000)

    def bid(token: str) -> Any:
        return lambda client: _bid(client, t, token, cid, "100.00")

    def sell(serial: int) -> Any:
        return lambda client: _list(client, t, t.consumer_token, cid, serial, "100.00")

    calls = [f(x) for pair in zip(bidders, range(1, 5), strict=True)
             for f, x in ((bid, pair[0][1]), (sell, pair[1]))]  # fmt: skip
    answers = _all_at_once(server.base_url, calls)
    assert all(a.status_code == 200 for a in answers), _codes(answers)
    book = ok(api.get(t.path(f"/market/collections/{cid}"), t.consumer_token))
    assert (book["floor"], book["highest_bid"]) == (None, None), book  # all four traded
    tokens, _, trades = rows(server, t)
    assert len(trades) == 4
    assert {owner for _, _, owner, _ in tokens} == {b for b, _ in bidders}
    audit_clean(server, t)
    conserved(server, t, t.consumer_id, *(b for b, _ in bidders))
