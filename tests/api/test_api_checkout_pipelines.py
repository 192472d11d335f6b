"""A shopper's checkout on PostgreSQL in two round trips (its reads together, then its writes
with the COMMIT), counted at the driver (psycopg): what reaches PostgreSQL, pipelines
included, which SQLAlchemy's events do not see. And what the reordered writes must keep on
both databases: never oversell under concurrency, several SKUs in any line order without a
deadlock, a line short of stock refused with nothing written, and the refusals the reads
answer (an unknown SKU, another's address) as before."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from driver_counts import at_the_driver
from mall_api import Api, TenantFixture, login, make_tenant, ok
from orders_helpers import audit_clean


def _postgres(server: Any) -> bool:
    return str(server.settings.database_url).startswith("postgresql")


def test_a_checkout_reaches_postgresql_in_two_round_trips(
    api: Api, operator_token: str, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _postgres(server):
        pytest.skip("round trips to PostgreSQL (SQLite: one transaction a request)")
    t = make_tenant(api, operator_token)
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    ok(api.post(t.path("/checkout"), t.consumer_token, json=body), 201)  # caches warm
    with at_the_driver(monkeypatch) as sent:
        ok(api.post(t.path("/checkout"), t.consumer_token, json=body), 201)
    print(f"checkout at the driver: {dict(sent)}")
    # The caller, the key's answer, the versions, the address and the SKUs in one pipeline;
    # the orders, lines, history, payments, the answer, the stock and the COMMIT in another.
    assert sent["round trips"] <= CHECKOUT_ROUND_TRIPS_PG
    assert sent["statements"] <= CHECKOUT_DRIVER_STATEMENTS_PG
    audit_clean(server, t)


CHECKOUT_ROUND_TRIPS_PG = 2
# Five reads; four inserts, the answer's, the stock's (one SKU: no lock of its own), COMMIT.
CHECKOUT_DRIVER_STATEMENTS_PG = 12


def _sku(api: Api, t: TenantFixture, stock: int) -> str:
    found = ok(
        api.post(
            t.path(f"/products/{t.product_id}/skus"),
            t.merchant_token,
            json={"name": f"limited {stock}", "price": "10.00", "stock": stock},
        ),
        201,
    )
    return str(found["sku_id"])


def _stock(api: Api, t: TenantFixture, sku_id: str) -> int:
    return int(ok(api.get(t.path(f"/skus/{sku_id}"), t.admin_token))["stock"])


def _orders(api: Api, t: TenantFixture) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(api.get(t.path("/orders"), t.consumer_token))["items"]
    return items


def _post_all(api: Api, t: TenantFixture, bodies: list[dict[str, Any]]) -> list[Any]:
    base = str(api.http.base_url)

    def attempt(body: dict[str, Any]) -> Any:
        client = Api(base)
        try:
            answer = client.post(t.path("/checkout"), t.consumer_token, json=body)
            return answer.status_code, answer.json()
        finally:
            client.http.close()

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(attempt, bodies))


def test_concurrent_checkouts_of_a_scarce_sku_never_oversell(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token)
    sku = _sku(api, t, 5)
    answers = _post_all(api, t, [{"lines": [{"sku_id": sku, "quantity": 1}]}] * 16)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * 5 + [409] * 11, answers
    refusals = {a["error"]["code"] for status, a in answers if status == 409}
    assert refusals == {"out_of_stock"}
    assert _stock(api, t, sku) == 0
    assert len(_orders(api, t)) == 5
    audit_clean(server, t)


def test_checkouts_of_several_skus_in_any_line_order_never_deadlock(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token)
    a, b = _sku(api, t, 20), _sku(api, t, 20)
    ab = {"lines": [{"sku_id": a, "quantity": 1}, {"sku_id": b, "quantity": 1}]}
    ba = {"lines": [{"sku_id": b, "quantity": 1}, {"sku_id": a, "quantity": 1}]}
    answers = _post_all(api, t, [ab, ba] * 8)
    assert [status for status, _ in answers] == [201] * 16, answers
    assert (_stock(api, t, a), _stock(api, t, b)) == (4, 4)
    audit_clean(server, t)


def test_a_line_short_of_stock_among_several_writes_nothing(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token)
    plenty, scarce = _sku(api, t, 10), _sku(api, t, 1)
    body = {"lines": [{"sku_id": plenty, "quantity": 2}, {"sku_id": scarce, "quantity": 2}]}
    refused = api.post(t.path("/checkout"), t.consumer_token, json=body, key="short")
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "out_of_stock"
    assert scarce in error["message"]
    assert "only 1 in stock" in error["message"]
    assert (_stock(api, t, plenty), _stock(api, t, scarce)) == (10, 1)
    assert _orders(api, t) == []
    # Nothing stored under the key: the same key with stock enough is a new checkout.
    fine = {"lines": [{"sku_id": plenty, "quantity": 2}, {"sku_id": scarce, "quantity": 1}]}
    again = api.post(t.path("/checkout"), t.consumer_token, json=fine, key="short")
    assert again.status_code == 201, again.text
    assert (_stock(api, t, plenty), _stock(api, t, scarce)) == (8, 0)
    audit_clean(server, t)


def test_a_sold_out_sku_is_refused_without_a_failed_write(
    api: Api, operator_token: str, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SKU sold out as the reads saw it is refused the usual way at once: no write is sent
    to fail in the pipeline first (a sold-out drop's checkouts cost one attempt, not two)."""
    if not _postgres(server):
        pytest.skip("round trips to PostgreSQL (SQLite: one transaction a request)")
    t = make_tenant(api, operator_token)
    sku = _sku(api, t, 1)
    body = {"lines": [{"sku_id": sku, "quantity": 1}]}
    ok(api.post(t.path("/checkout"), t.consumer_token, json=body), 201)
    with at_the_driver(monkeypatch) as sent:
        refused = api.post(t.path("/checkout"), t.consumer_token, json=body, key="sold-out")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "out_of_stock"
    print(f"a sold-out checkout at the driver: {dict(sent)}")
    assert sent["stock taken in the pipeline"] == 0  # no write sent to fail first
    assert _stock(api, t, sku) == 0
    assert len(_orders(api, t)) == 1
    audit_clean(server, t)


def test_the_reads_refuse_as_before(api: Api, operator_token: str, server: Any) -> None:
    """An unknown SKU (422, naming the line), another buyer's address (404), a key reused
    for another request (409), a replayed key (the first answer): as a checkout read
    statement by statement answers them, nothing written."""
    t = make_tenant(api, operator_token)
    before = _stock(api, t, t.sku_id)
    unknown = {
        "lines": [{"sku_id": t.sku_id, "quantity": 1}, {"sku_id": "sku_none", "quantity": 1}]
    }
    refused = api.post(t.path("/checkout"), t.consumer_token, json=unknown)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "lines.1.sku_id"
    email = "another@shop.test"
    ok(api.post(t.path("/register"), json={"email": email, "password": "pass-word-1"}), 201)
    another = login(api, t.tenant_id, email, "pass-word-1")
    address = {"recipient": "A", "phone": "13800138000", "region": "R", "detail": "D"}
    theirs = ok(api.post(t.path("/me/addresses"), another, json=address), 201)
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}], "address_id": theirs["address_id"]}
    refused = api.post(t.path("/checkout"), t.consumer_token, json=body)
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["field"] == "address_id"
    assert _stock(api, t, t.sku_id) == before
    assert _orders(api, t) == []
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    first = ok(api.post(t.path("/checkout"), t.consumer_token, json=body, key="k"), 201)
    again = api.post(t.path("/checkout"), t.consumer_token, json=body, key="k")
    assert again.status_code == 201
    assert again.json() == first
    assert again.headers["Idempotency-Replayed"] == "true"
    other = {"lines": [{"sku_id": t.sku_id, "quantity": 2}]}
    assert api.post(t.path("/checkout"), t.consumer_token, json=other, key="k").status_code == 409
    assert _stock(api, t, t.sku_id) == before - 1
    assert len(_orders(api, t)) == 1
    audit_clean(server, t)
