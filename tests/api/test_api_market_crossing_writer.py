"""Bids and listings that cross the book, settled through the tenant's writer, raced over real
HTTP on PostgreSQL (row locks; SQLite has one writer): many crossing bids on a few listings
trade each listing once at its own price and leave the rest resting with their cash reserved,
then crossing listings fill the best, earliest bids at the bids' price; a crossing listing
racing cancels of its bid spends or returns the reservation exactly once; a replayed key
answers the first answer and changes nothing. Never a 500; the book is never left crossed;
the audit stays clean and every fen is accounted for."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mall_api import Api, TenantFixture, ok
from market_money_kit import audit_clean, conserved, db_of, fund, money, refused, rows, user
from test_api_market_money import _bid, _list, _market
from test_api_market_races import _all_at_once, _codes

from tokenmall.services.writers.units import writers_for

BIDDERS = 24


@pytest.fixture(scope="module", autouse=True)
def _postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks between transactions: PostgreSQL (SQLite has one writer)")


def _book(api: Api, t: TenantFixture, cid: str) -> tuple[str | None, str | None]:
    data = ok(api.get(t.path(f"/market/collections/{cid}"), t.consumer_token))
    return data["floor"], data["highest_bid"]


def _not_crossed(book: tuple[str | None, str | None]) -> bool:
    floor, bid = book
    return floor is None or bid is None or float(bid) < float(floor)  # float-ok: a comparison


def _list_keyed(api: Api, t: TenantFixture, cid: str, serial: int, price: str, key: str) -> Any:
    body = {"collection_id": cid, "serial": serial, "price": price}
    return api.post(t.path("/market/orders/list"), t.consumer_token, json=body, key=key)


def _units(server: Any, t: TenantFixture) -> int:
    writer = writers_for(db_of(server).engine).writer(t.tenant_id)
    return 0 if writer is None else writer.units


def test_many_crossing_bids_on_a_few_listings_trade_each_once_at_its_price(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    seller = t.consumer_id
    cid = _market(api, server, t, *[seller] * 8)
    prices = {1: "100.00", 2: "100.00", 3: "101.00", 4: "102.00"}
    listed = {ok(_list(api, t, t.consumer_token, cid, n, p))["order_id"]: p
              for n, p in prices.items()}  # fmt: skip
    bidders = [user(api, t) for _ in range(BIDDERS)]
    for bidder, _ in bidders:
        fund(server, t, bidder, 20_000)

    def bid(token: str) -> Any:
        return lambda client: _bid(client, t, token, cid, "105.00")

    answers = _all_at_once(server.base_url, [bid(token) for _, token in bidders])
    assert _codes(answers) == [(200, "")] * BIDDERS
    assert _units(server, t) > 0  # the crossing bids went through the tenant's writer
    traded = {a.json()["trades"][0]["order_id"]: a for a in answers if a.json()["trades"]}
    assert sorted(traded) == sorted(listed)  # each listing traded once
    for order_id, answer in traded.items():
        (trade,) = answer.json()["trades"]
        assert trade["price"] == listed[order_id]  # at the resting listing's price
        assert answer.json()["order"]["status"] == "filled"
    _, orders, trades = rows(server, t)
    assert sorted(trades) == sorted((o, int(p.replace(".", ""))) for o, p in listed.items())
    resting = [a.json()["order"]["order_id"] for a in answers if not a.json()["trades"]]
    assert len(resting) == BIDDERS - 4
    assert _book(api, t, cid) == (None, "105.00")
    ids = [b for b, _ in bidders]
    m = money(server, t, seller, *ids)
    spent = sum(int(p.replace(".", "")) for p in prices.values())
    winners = [a.json()["trades"][0]["buyer_id"] for a in traded.values()]
    assert sum(20_000 - m[b] for b in winners) == spent
    assert all(m[b] == 20_000 - 10_500 for b in ids if b not in winners)
    assert m["market_escrow"] == 10_500 * len(resting)
    # crossing listings at 100.00 fill the earliest bids at 105.00, the bids' price, once each
    listings = [(lambda c, n=n: _list(c, t, t.consumer_token, cid, n, "100.00"))
                for n in range(5, 9)]  # fmt: skip
    sold = _all_at_once(server.base_url, listings)
    assert _codes(sold) == [(200, "")] * 4
    assert all(s.json()["status"] == "filled" for s in sold)
    _, orders, trades = rows(server, t)
    filled = {o for o, status in orders if status == "filled"}
    assert filled & set(resting) == set(sorted(resting)[:4])  # time priority at one price
    assert [p for o, p in trades if o in resting] == [10_500] * 4
    assert _book(api, t, cid) == (None, "105.00")
    assert _not_crossed(_book(api, t, cid))
    m = money(server, t, seller, *ids)
    assert m["market_escrow"] == 10_500 * (len(resting) - 4)
    audit_clean(server, t)
    conserved(server, t, seller, *ids)


def test_a_crossing_listing_racing_cancels_of_its_bid_spends_or_returns_it_once(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    seller = t.consumer_id
    for _ in range(3):
        cid = _market(api, server, t, seller)
        buyer, buyer_token = user(api, t)
        fund(server, t, buyer, 10_000)
        before = money(server, t, seller)[seller]
        placed = ok(_bid(api, t, buyer_token, cid, "100.00"))
        cancel = t.path(f"/market/orders/{placed['order']['order_id']}/cancel")

        def cancel_it(client: Api, path: str = cancel, token: str = buyer_token) -> httpx.Response:
            return client.post(path, token)

        def sell(client: Api, c: str = cid) -> httpx.Response:
            return _list(client, t, t.consumer_token, c, 1, "100.00")

        answers = _all_at_once(server.base_url, [cancel_it] * 6 + [sell])
        assert all(a.status_code < 500 for a in answers), _codes(answers)
        assert answers[-1].status_code == 200, answers[-1].text
        cancels = sum(1 for a in answers[:6] if a.status_code == 200)
        m = money(server, t, buyer, seller)
        if answers[-1].json()["status"] == "filled":  # the listing filled the bid first
            assert cancels == 0
            assert (m[buyer], m[seller] - before) == (0, 9_300)
        else:  # one cancel returned the reservation once; the listing rests, uncrossed
            assert cancels == 1
            assert (m[buyer], m[seller] - before) == (10_000, 0)
            assert _book(api, t, cid) == ("100.00", None)
        assert m["market_escrow"] == 0
    audit_clean(server, t)


def test_a_replayed_crossing_bid_or_listing_answers_the_first_and_changes_nothing(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    seller = t.consumer_id
    cid = _market(api, server, t, seller, seller, seller)
    buyer, buyer_token = user(api, t)
    fund(server, t, buyer, 30_000)
    ok(_list(api, t, t.consumer_token, cid, 1, "100.00"))
    first = _bid(api, t, buyer_token, cid, "100.00", key="cross-bid-1")
    assert first.status_code == 200, first.text
    assert first.json()["trades"]
    assert first.headers["Idempotency-Replayed"] == "false"
    state = (money(server, t, buyer, seller), rows(server, t))
    again = _bid(api, t, buyer_token, cid, "100.00", key="cross-bid-1")
    assert (again.status_code, again.json()) == (200, first.json())
    assert again.headers["Idempotency-Replayed"] == "true"
    refused(_bid(api, t, buyer_token, cid, "99.00", key="cross-bid-1"), 409, "conflict")
    assert (money(server, t, buyer, seller), rows(server, t)) == state
    # the same key sent many times at once: one trade, never a 500
    ok(_list(api, t, t.consumer_token, cid, 2, "100.00"))
    racing = _all_at_once(
        server.base_url,
        [lambda c: _bid(c, t, buyer_token, cid, "100.00", key="cross-bid-2")] * 6,
    )
    assert all(a.status_code < 500 for a in racing), _codes(racing)
    bodies = {a.text for a in racing if a.status_code == 200}
    assert len(bodies) == 1
    _, _, trades = rows(server, t)
    assert len(trades) == 2
    # a crossing listing replayed
    ok(_bid(api, t, buyer_token, cid, "95.00"))
    sold = _list_keyed(api, t, cid, 3, "90.00", "cross-list-1")
    assert (sold.status_code, sold.json()["status"]) == (200, "filled"), sold.text
    state = (money(server, t, buyer, seller), rows(server, t))
    replayed = _list_keyed(api, t, cid, 3, "90.00", "cross-list-1")
    assert (replayed.status_code, replayed.json()) == (200, sold.json())
    assert replayed.headers["Idempotency-Replayed"] == "true"
    assert (money(server, t, buyer, seller), rows(server, t)) == state
    assert state[1][2][-1][1] == 9_500  # at the resting bid's price
    assert _book(api, t, cid) == (None, None)
    audit_clean(server, t)
    conserved(server, t, buyer, seller)
