"""The holder limit of the market's gifts and trades, over HTTP on SQLite and PostgreSQL: the
buyer of an open drop reservation takes a holder place (as for primary sales), so a newcomer is
refused while a reserving buyer still receives; ``tokenmall market replay`` refuses what the
service refuses; a collection without a limit costs no lock and no extra read."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from mall_api import Api, TenantFixture, ok
from market_holders_kit import (
    PRICE,
    collection,
    granted,
    holders,
    market,
    people,
    principal,
    refused_holder_limit,
    state,
)
from market_money_kit import audit_clean, db_of
from sqlalchemy import event
from test_api_nfg_drop import buyer, make_collection, reserve

from tokenmall.services.market import orders

FUNDS = 100_00


def _gift(api: Api, t: TenantFixture, cid: str, serial: int, to: str) -> httpx.Response:
    body = {"collection_id": cid, "serial": serial, "to_user_id": to}
    return api.post(t.path("/market/gifts"), t.consumer_token, json=body)


def _offer(api: Api, t: TenantFixture, cid: str, serial: int, to: str, price: str) -> int:
    body = {"collection_id": cid, "serial": serial, "to_user_id": to, "price": price}
    made = ok(api.post(t.path("/market/orders/offer"), t.consumer_token, json=body))
    return int(made["order_id"])


def _verified(api: Api, t: TenantFixture, user_id: str) -> None:
    ok(api.patch(t.path(f"/users/{user_id}"), t.admin_token, json={"kyc_status": "verified"}))


def test_an_open_reservation_keeps_its_holder_place_from_gifts_and_trades(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    market(api, t, "cn-licensed")
    _verified(api, t, t.consumer_id)
    cid = make_collection(server, t, edition=10, limit=3)  # on sale at 50.00
    path = t.path(f"/market/collections/{cid}/settings")
    ok(api.post(path, t.admin_token, json={"holder_limit": 3}))
    serials = granted(server, t, cid, t.consumer_id, 4)
    reserving = [buyer(api, t) for _ in range(2)]
    for token, user_id in reserving:
        _verified(api, t, user_id)
        ok(reserve(api, t, cid, token), 201)  # the places: the holder, two reservations
    ((newcomer, newcomer_token),) = people(api, server, t, 1, FUNDS)
    offered = _offer(api, t, cid, serials[1], newcomer, "50.00")
    users = (t.consumer_id, newcomer, *(u for _, u in reserving))
    before = state(server, t, *users)
    refused_holder_limit(_gift(api, t, cid, serials[0], newcomer))
    refused_holder_limit(api.post(t.path(f"/market/orders/{offered}/accept"), newcomer_token))
    assert state(server, t, *users) == before
    first = reserving[0][1]
    assert ok(_gift(api, t, cid, serials[0], first))["owner_id"] == first
    assert holders(server, t, cid) == {t.consumer_id, first}
    refused_holder_limit(_gift(api, t, cid, serials[2], newcomer))
    ok(api.post(path, t.admin_token, json={"holder_limit": 4}))
    trade = ok(api.post(t.path(f"/market/orders/{offered}/accept"), newcomer_token))
    assert trade["buyer_id"] == newcomer
    audit_clean(server, t)


# --- the replay refuses what the service refuses ----------------------------------------------


def _replay(events: list[dict[str, Any]], profile: str) -> list[str | bool]:
    args = [sys.executable, "-m", "tokenmall", "market", "replay", "-", "--profile", profile]
    text = "".join(json.dumps(e) + "\n" for e in events)
    done = subprocess.run(args, input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()][:-1]
    return [True if line["ok"] else line["code"] for line in lines]


def test_the_replay_refuses_the_same_gifts_and_trades(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    market(api, t, "cn-licensed")
    cid = collection(api, t, limit=2)
    _verified(api, t, t.consumer_id)
    a = t.consumer_id
    (b, b_token), (x, _), (y, y_token) = people(api, server, t, 3, 200_00)
    serials = granted(server, t, cid, a, 3)
    tokens = {f"c/{n}": s for n, s in enumerate(serials, 1)}
    orders_ = {}

    bearer = {a: t.consumer_token, b: b_token}
    names = {a: "a", b: "b", x: "x", y: "y"}

    def gift(giver: str, token: str, to: str) -> tuple[dict[str, Any], Any]:
        def http() -> httpx.Response:
            body = {"collection_id": cid, "serial": tokens[token], "to_user_id": to}
            return api.post(t.path("/market/gifts"), bearer[giver], json=body)

        return {"op": "gift", "user": names[giver], "token": token, "to": names[to]}, http

    def offer(token: str, to: str, name: str, n: int) -> tuple[dict[str, Any], Any]:
        def http() -> httpx.Response:
            body = {"collection_id": cid, "serial": tokens[token], "to_user_id": to,
                    "price": PRICE}  # fmt: skip
            answer = api.post(t.path("/market/orders/offer"), t.consumer_token, json=body)
            orders_[n] = answer.json().get("order_id")
            return answer

        return {"op": "offer", "user": "a", "token": token, "to": name, "price": PRICE}, http

    def accept(token: str, name: str, n: int) -> tuple[dict[str, Any], Any]:
        def http() -> httpx.Response:
            return api.post(t.path(f"/market/orders/{orders_[n]}/accept"), token)

        return {"op": "accept", "user": name, "order": n}, http

    steps = [
        gift(a, "c/1", b),  # the second holder: the limit
        gift(a, "c/2", x),  # a third: refused
        gift(b, "c/1", a),  # a held before
        offer("c/3", y, "y", 1),
        accept(y_token, "y", 1),  # a third, through a trade: refused
        gift(a, "c/2", b),  # b held once
        offer("c/3", b, "b", 2),
        accept(b_token, "b", 2),  # b buys: fine
    ]
    setup = [
        {"op": "collection", "id": "c", "issuer": "brand", "editions": 10, "price": PRICE,
         "fee_rate": "0", "royalty_rate": "0", "holder_limit": 2},
        {"op": "mint", "collection": "c", "to": "a", "count": 3},
        *({"op": "kyc", "user": u} for u in "abxy"),
        *({"op": "deposit", "user": u, "amount": "200.00"} for u in "bxy"),
        *({"op": "day"} for _ in range(5)),
    ]  # fmt: skip
    replayed = _replay([*setup, *(e for e, _ in steps)], "cn-licensed")[len(setup) :]
    served: list[str | bool] = []
    for _, http in steps:
        answer = http()
        served.append(True if answer.status_code == 200 else answer.json()["error"]["code"])
    assert replayed == served == [True, "holder_limit", True, True, "holder_limit", True,
                                  True, True]  # fmt: skip


# --- no lock and no extra read without a limit -------------------------------------------------


@contextmanager
def _statements(server: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = db_of(server).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _gift_counted(server: Any, t: TenantFixture, cid: str, serial: int, to: str) -> list[str]:
    with _statements(server) as seen, db_of(server).unit() as unit:
        orders.gift(
            unit, principal(t, t.consumer_id), t.tenant_id, cid, serial, to,
            now=datetime.now(UTC), config=server.app.state.log_config,
        )  # fmt: skip
    return list(seen)


def _newcomer_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "advisory" in s or "nfg_reservations" in s]


def test_a_collection_without_a_limit_takes_no_newcomer_lock(
    api: Api, server: Any, tenant: TenantFixture
) -> None:
    t = tenant
    market(api, t, "open")
    free = collection(api, t, limit=None)
    limited = collection(api, t, limit=5)
    newcomers = [u for u, _ in people(api, server, t, 3)]
    (free_serial,) = granted(server, t, free, t.consumer_id)
    limited_serials = granted(server, t, limited, t.consumer_id, 2)
    assert _newcomer_reads(_gift_counted(server, t, free, free_serial, newcomers[0])) == []
    found = _newcomer_reads(_gift_counted(server, t, limited, limited_serials[0], newcomers[1]))
    assert any("nfg_reservations" in s for s in found)  # the places a newcomer counts
    postgres = server.settings.database_url.startswith("postgresql")
    assert any("advisory" in s for s in found) == postgres
    # a user who already held is no newcomer: no lock
    with db_of(server).unit() as unit:
        orders.gift(
            unit, principal(t, newcomers[1]), t.tenant_id, limited, limited_serials[0],
            t.consumer_id, now=datetime.now(UTC), config=server.app.state.log_config,
        )  # fmt: skip
    again = _gift_counted(server, t, limited, limited_serials[1], newcomers[1])
    assert not any("advisory" in s for s in again)
