"""The holder limit of the market's gifts (转赠) and trades under concurrency, over real HTTP on
SQLite and PostgreSQL: gifts and trades to distinct users new to a collection sent all at once
never take it past its ``holder_limit`` (the rest refused 409 ``holder_limit`` with both
sentences, their tokens, orders and cash as before); a user who already held still receives;
each request sent again with its key answers the same and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from mall_api import Api, TenantFixture, ok
from market_holders_kit import (
    PRICE,
    collection,
    granted,
    holders,
    key,
    market,
    owner_of,
    people,
    refused_holder_limit,
    state,
)
from market_money_kit import audit_clean, money
from test_api_market_races import _all_at_once

FUNDS = 100_00


def _gift(t: TenantFixture, token: str, cid: str, serial: int, to: str, k: str, via: str) -> Any:
    if via == "market":
        body = {"collection_id": cid, "serial": serial, "to_user_id": to}
        return lambda c: c.post(t.path("/market/gifts"), token, json=body, key=k)
    path = t.path(f"/nfg/tokens/{cid}/{serial}/transfer")
    return lambda c: c.post(path, token, json={"to_user_id": to}, key=k)


def _accept(t: TenantFixture, token: str, order_id: int, k: str) -> Any:
    return lambda c: c.post(t.path(f"/market/orders/{order_id}/accept"), token, key=k)


def _offer(api: Api, t: TenantFixture, cid: str, serial: int, to: str) -> int:
    body = {"collection_id": cid, "serial": serial, "to_user_id": to, "price": PRICE}
    made = ok(api.post(t.path("/market/orders/offer"), t.consumer_token, json=body))
    return int(made["order_id"])


def _again(base: str, calls: list[Any], answers: list[httpx.Response]) -> None:
    """Each request sent again with its key answers as it did the first time."""
    for call, first in zip(calls, answers, strict=True):
        client = Api(base)
        try:
            second = call(client)
        finally:
            client.http.close()
        assert (second.status_code, second.json()) == (first.status_code, first.json())


def _one_newcomer_won(answers: list[httpx.Response]) -> int:
    """The index of the one newcomer answered 200; every other refused ``holder_limit``."""
    won = [i for i, a in enumerate(answers) if a.status_code == 200]
    assert len(won) == 1, [a.text for a in answers]
    for i, answer in enumerate(answers):
        if i != won[0]:
            refused_holder_limit(answer)
    return won[0]


def _licensed_with_a_verified_seller(api: Api, t: TenantFixture) -> None:
    """The tenant under ``cn-licensed``, its consumer (who holds and sells) KYC-verified."""
    market(api, t, "cn-licensed")
    ok(api.patch(t.path(f"/users/{t.consumer_id}"), t.admin_token,
                 json={"kyc_status": "verified"}))  # fmt: skip


def test_gifts_to_newcomers_at_once_never_pass_the_holder_limit(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    _licensed_with_a_verified_seller(api, t)
    people_ = [t.consumer_id]
    for racers in (2, 8):
        cid = collection(api, t, limit=3)
        serials = granted(server, t, cid, t.consumer_id, racers + 1)
        ((other, _),) = people(api, server, t, 1)
        granted(server, t, cid, other)  # two holders: one place left
        newcomers = [u for u, _ in people(api, server, t, racers)]
        people_ += [other, *newcomers]
        calls = [
            _gift(t, t.consumer_token, cid, serials[i], u, key(), ("market", "registry")[i % 2])
            for i, u in enumerate(newcomers)
        ]
        to_holder = _gift(t, t.consumer_token, cid, serials[-1], other, key(), "market")
        answers = _all_at_once(server.base_url, [*calls, to_holder])
        assert answers[-1].status_code == 200, answers[-1].text  # a holder still receives
        won = _one_newcomer_won(answers[:-1])
        assert holders(server, t, cid) == {t.consumer_id, other, newcomers[won]}
        for i, u in enumerate(newcomers):
            assert owner_of(server, t, cid, serials[i]) == (u if i == won else t.consumer_id)
        assert owner_of(server, t, cid, serials[-1]) == other
        before = state(server, t, *people_)
        _again(server.base_url, [*calls, to_holder], answers)
        assert state(server, t, *people_) == before
    audit_clean(server, t)


def test_accepts_by_newcomers_at_once_never_pass_the_holder_limit(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    """Agreements (协议转让) accepted at once, through the tenant's writer and on their own."""
    t = tenant
    _licensed_with_a_verified_seller(api, t)
    for racers in (2, 8):
        cid = collection(api, t, limit=3)
        serials = granted(server, t, cid, t.consumer_id, racers + 1)
        ((other, other_token),) = people(api, server, t, 1, FUNDS)
        granted(server, t, cid, other)
        newcomers = people(api, server, t, racers, FUNDS)
        offers = [_offer(api, t, cid, serials[i], u) for i, (u, _) in enumerate(newcomers)]
        to_holder = _offer(api, t, cid, serials[-1], other)
        calls = [_accept(t, tok, o, key()) for (_, tok), o in zip(newcomers, offers, strict=True)]
        calls.append(_accept(t, other_token, to_holder, key()))
        users = [t.consumer_id, other, *(u for u, _ in newcomers)]
        answers = _all_at_once(server.base_url, calls)
        assert answers[-1].status_code == 200, answers[-1].text
        won = _one_newcomer_won(answers[:-1])
        winner = newcomers[won][0]
        assert answers[won].json()["buyer_id"] == winner
        assert holders(server, t, cid) == {t.consumer_id, other, winner}
        cash = money(server, t, *users)
        for i, (u, _) in enumerate(newcomers):
            assert cash[u] == (FUNDS - 99_00 if i == won else FUNDS)
            assert owner_of(server, t, cid, serials[i]) == (u if i == won else t.consumer_id)
        mine = ok(api.get(t.path("/market/orders/mine"), t.consumer_token))["orders"]
        status = {o["order_id"]: o["status"] for o in mine}
        assert [status[o] for o in offers] == [
            "filled" if i == won else "open" for i in range(racers)
        ]
        before = state(server, t, *users)
        _again(server.base_url, calls, answers)
        assert state(server, t, *users) == before
    audit_clean(server, t)


def test_gifts_and_accepts_racing_for_the_last_place(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    _licensed_with_a_verified_seller(api, t)
    cid = collection(api, t, limit=2)
    serials = granted(server, t, cid, t.consumer_id, 8)
    buyers = people(api, server, t, 4, FUNDS)
    given = people(api, server, t, 4)
    offers = [_offer(api, t, cid, serials[i], u) for i, (u, _) in enumerate(buyers)]
    calls = []
    for i in range(4):
        calls.append(_accept(t, buyers[i][1], offers[i], key()))
        calls.append(_gift(t, t.consumer_token, cid, serials[4 + i], given[i][0], key(), "market"))
    answers = _all_at_once(server.base_url, calls)
    won = _one_newcomer_won(answers)
    winner = (buyers if won % 2 == 0 else given)[won // 2][0]
    assert holders(server, t, cid) == {t.consumer_id, winner}
    audit_clean(server, t)


def test_an_open_collection_with_a_holder_limit_fills_one_newcomer_at_a_time(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    """Under ``open`` an admin's ``holder_limit`` holds for takes (摘牌), bids crossing a
    listing and listings crossing resting bids, each sent all at once."""
    t = tenant
    market(api, t, "open")
    lister = t.consumer_token

    def listing(cid: str, serial: int, price: str = PRICE) -> Any:
        body = {"collection_id": cid, "serial": serial, "price": price}
        return lambda c: c.post(t.path("/market/orders/list"), lister, json=body, key=key())

    def bid(cid: str, token: str, price: str = PRICE) -> Any:
        body = {"collection_id": cid, "price": price}
        return lambda c: c.post(t.path("/market/orders/bid"), token, json=body, key=key())

    # takes of six listings at once by six newcomers: one place left
    cid = collection(api, t, limit=2)
    serials = granted(server, t, cid, t.consumer_id, 6)
    listed = [ok(listing(cid, s)(api))["order_id"] for s in serials]
    takers = people(api, server, t, 6, FUNDS)
    takes = [
        (lambda c, tok=tok, o=o: c.post(t.path(f"/market/orders/{o}/take"), tok, key=key()))
        for (_, tok), o in zip(takers, listed, strict=True)
    ]
    won = _one_newcomer_won(_all_at_once(server.base_url, takes))
    assert holders(server, t, cid) == {t.consumer_id, takers[won][0]}
    # bids crossing the lowest listing at once: one more place
    cid = collection(api, t, limit=2)
    serials = granted(server, t, cid, t.consumer_id, 6)
    for s in serials:
        ok(listing(cid, s)(api))
    bidders = people(api, server, t, 6, FUNDS)
    won = _one_newcomer_won(_all_at_once(server.base_url, [bid(cid, tok) for _, tok in bidders]))
    assert holders(server, t, cid) == {t.consumer_id, bidders[won][0]}
    assert money(server, t, *(u for u, _ in bidders))["market_escrow"] == 0
    # newcomers' bids rest (none holds yet); listings crossing them at once fill one
    cid = collection(api, t, limit=2)
    serials = granted(server, t, cid, t.consumer_id, 6)
    resting = people(api, server, t, 6, FUNDS)
    for n, (_, tok) in enumerate(resting):
        assert ok(bid(cid, tok, f"{90 + n}.00")(api))["order"]["status"] == "open"
    answers = _all_at_once(server.base_url, [listing(cid, s, "80.00") for s in serials])
    won = _one_newcomer_won(answers)
    assert answers[won].json()["status"] == "filled"
    assert holders(server, t, cid) == {t.consumer_id, resting[-1][0]}  # the highest bid
    audit_clean(server, t)
