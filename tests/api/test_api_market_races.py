"""Races on the market over real HTTP (SQLite and PostgreSQL): many listings of one token at
once give exactly one open listing, the rest a clean 409 ``token_locked``; a gift racing a
listing and its cancel never leaves a listed token with another owner. Never a 500."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from mall_api import Api, TenantFixture, ok
from test_api_market import _collection, _snapshot

RACERS = 16


def _all_at_once(base: str, calls: list[Callable[[Api], httpx.Response]]) -> list[httpx.Response]:
    def run(call: Callable[[Api], httpx.Response]) -> httpx.Response:
        client = Api(base)
        try:
            return call(client)
        finally:
            client.http.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _codes(answers: list[httpx.Response]) -> list[tuple[int, str]]:
    out = []
    for a in answers:
        error = a.json().get("error") if a.content else None
        out.append((a.status_code, "" if not isinstance(error, dict) else str(error["code"])))
    return sorted(out)


def test_many_listings_of_one_token_one_wins(api: Api, server: Any, tenant: TenantFixture) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    body = {"collection_id": cid, "serial": 1, "price": "120.00"}

    def list_it(client: Api) -> httpx.Response:
        return client.post(t.path("/market/orders/list"), t.consumer_token, json=body)

    codes = _codes(_all_at_once(server.base_url, [list_it] * RACERS))
    assert codes == [(200, "")] + [(409, "token_locked")] * (RACERS - 1)
    tokens, orders = _snapshot(server, t)
    assert tokens == [(cid, 1, t.consumer_id, "listed")]
    assert [status for _, status in orders] == ["open"]


def test_gift_against_cancel_and_listing_leaves_a_consistent_token(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    cid = _collection(server, t, t.consumer_id)
    listed = ok(
        api.post(
            t.path("/market/orders/list"),
            t.consumer_token,
            json={"collection_id": cid, "serial": 1, "price": "120.00"},
        )
    )
    gift = {"collection_id": cid, "serial": 1, "to_user_id": t.merchant_user_id}

    def cancel(client: Api) -> httpx.Response:
        return client.post(t.path(f"/market/orders/{listed['order_id']}/cancel"), t.consumer_token)

    def give(client: Api) -> httpx.Response:
        return client.post(t.path("/market/gifts"), t.consumer_token, json=gift)

    answers = _all_at_once(server.base_url, [cancel, give, give, give])
    assert all(a.status_code in (200, 403, 409) for a in answers), _codes(answers)
    tokens, orders = _snapshot(server, t)
    ((_, _, owner, state),) = tokens
    assert [status for _, status in orders] == ["cancelled"]
    assert state == "held"
    gifts = sum(1 for a in answers[1:] if a.status_code == 200)
    assert gifts == (1 if owner == t.merchant_user_id else 0)
