"""The shopper's pay step (the sandbox page's Approve, then the paid callback in the tenant's
writer), SQLite and PostgreSQL: the webhook endpoints the writer emits to are cached per
process against the tenant's configuration version (every endpoint write bumps it), and the
sandbox's record of an approval is kept once, for a payable payment only."""

from __future__ import annotations

from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from orders_helpers import (
    audit_clean,
    checkout,
    paid_by_callback,
    paid_order,
    payment_fen,
    sandbox_pay,
)
from sqlalchemy import event, select

from tokenmall.adapters.db.mall.payouts import sandbox_transactions
from tokenmall.services.mall.uow import Database


@pytest.fixture
def shop(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "paid"})


def _paid_by_page(api: Api, t: TenantFixture) -> str:
    """A new order paid on the sandbox's page (the server's writer): its id."""
    return str(paid_order(api, t)["order_id"])


def _granted_events_to(api: Api, t: TenantFixture, endpoint_id: str) -> int:
    items = ok(api.get(t.path("/webhook-deliveries"), t.admin_token))["items"]
    return sum(
        1 for d in items if d["endpoint_id"] == endpoint_id and d["event_type"] == "points.granted"
    )


def _register(api: Api, t: TenantFixture) -> str:
    body = {"url": "https://hooks.example.com/in", "event_types": ["points.granted"]}
    created = ok(api.post(t.path("/webhook-endpoints"), t.admin_token, json=body), 201)
    return str(created["endpoint"]["endpoint_id"])


def test_a_new_or_deleted_endpoint_is_seen_by_the_next_paid_callback(
    api: Api, server: Any, shop: TenantFixture, second: Database
) -> None:
    # Both engines' caches hold the tenant's endpoints (none) at its current version.
    _paid_by_page(api, shop)
    paid_by_callback(second, server, api, shop)
    endpoint_id = _register(api, shop)
    _paid_by_page(api, shop)
    assert _granted_events_to(api, shop, endpoint_id) == 1
    paid_by_callback(second, server, api, shop)
    assert _granted_events_to(api, shop, endpoint_id) == 2
    ok(api.call("DELETE", shop.path(f"/webhook-endpoints/{endpoint_id}"), shop.admin_token))
    _paid_by_page(api, shop)
    paid_by_callback(second, server, api, shop)
    assert _granted_events_to(api, shop, endpoint_id) == 2  # nothing for a deleted endpoint
    audit_clean(server, shop)


def test_the_endpoints_are_read_once_per_configuration_version(
    api: Api, server: Any, shop: TenantFixture
) -> None:
    engine = server.app.state.database.engine
    reads: list[str] = []

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "mall_webhook_endpoints" in sql:
            reads.append(sql)

    def reads_paying() -> int:
        before = len(reads)
        _paid_by_page(api, shop)
        return len(reads) - before

    endpoint_id = _register(api, shop)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        assert reads_paying() <= 1  # read at this version (unless cached already)
        assert reads_paying() == 0  # then from the cache
        assert reads_paying() == 0
        _register(api, shop)  # a new version
        assert reads_paying() == 1
        assert reads_paying() == 0
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert _granted_events_to(api, shop, endpoint_id) == 5


def _bill(server: Any, t: TenantFixture) -> list[tuple[str, str, int]]:
    with server.app.state.database.engine.connect() as conn:
        rows = conn.execute(
            select(
                sandbox_transactions.c.txn_id,
                sandbox_transactions.c.reference,
                sandbox_transactions.c.amount_fen,
            ).where(sandbox_transactions.c.tenant_id == t.tenant_id)
        )
        return sorted((str(r[0]), str(r[1]), int(r[2])) for r in rows)


def test_the_sandbox_keeps_an_approval_once_and_only_of_a_payable_payment(
    api: Api, server: Any, shop: TenantFixture
) -> None:
    done = checkout(api, shop, [(shop.sku_id, 2)])
    payment = done["payments"][0]
    url = payment["redirect_url"]
    assert api.http.post(url, data={"outcome": "approve"}).status_code == 200
    kept = [(f"sbx_{payment['payment_id']}", payment["payment_id"], payment_fen(payment))]
    assert _bill(server, shop) == kept
    again = api.http.post(url, data={"outcome": "approve"})
    assert again.status_code == 409  # paid: the page's payment is closed
    assert _bill(server, shop) == kept
    # A failed payment may still be approved (kept once); a cancelled order's may not.
    failed = checkout(api, shop, [(shop.sku_id, 1)])["payments"][0]
    assert api.http.post(failed["redirect_url"], data={"outcome": "fail"}).status_code == 200
    assert _bill(server, shop) == kept
    assert api.http.post(failed["redirect_url"], data={"outcome": "approve"}).status_code == 200
    kept.append((f"sbx_{failed['payment_id']}", failed["payment_id"], payment_fen(failed)))
    assert _bill(server, shop) == sorted(kept)
    dropped = checkout(api, shop, [(shop.sku_id, 1)])
    order_id = dropped["orders"][0]["order_id"]
    ok(api.post(shop.path(f"/orders/{order_id}/cancel"), shop.consumer_token, json={}))
    closed = api.http.post(dropped["payments"][0]["redirect_url"], data={"outcome": "approve"})
    assert closed.status_code == 409
    assert _bill(server, shop) == sorted(kept)
    # A reference naming a payment with another reference keeps nothing either.
    other = checkout(api, shop, [(shop.sku_id, 1)])["payments"][0]
    forged = other["redirect_url"].rsplit("/", 1)[0] + f"/{shop.tenant_id}.{other['payment_id']}x"
    assert api.http.post(forged, data={"outcome": "approve"}).status_code == 404
    assert _bill(server, shop) == sorted(kept)
    audit_clean(server, shop)


def test_an_order_of_several_lines_is_paid_with_all_its_lines(
    api: Api, server: Any, shop: TenantFixture
) -> None:
    """The writer reads a payment's order with its lines in its one read (one row a line); an
    order mixing a line with a fixed contribution and one without (``pool_rate``'s share)
    has the tenant's parameters read before the writer's pipeline, not refused inside it."""
    placed_sku = ok(api.get(shop.path(f"/skus/{shop.sku_id}"), shop.admin_token))
    other = ok(
        api.post(
            shop.path(f"/products/{placed_sku['product_id']}/skus"),
            shop.admin_token,
            json={"name": "large", "price": "80.00", "stock": 50},
        ),
        201,
    )
    done = checkout(api, shop, [(shop.sku_id, 1), (other["sku_id"], 2)])
    (placed,) = done["orders"]
    before = ok(api.get(shop.path(f"/orders/{placed['order_id']}"), shop.admin_token))
    assert len(before["lines"]) == 2
    answer = sandbox_pay(api, done["payments"][0]["redirect_url"])
    assert answer.status_code == 200, answer.text
    after = ok(api.get(shop.path(f"/orders/{placed['order_id']}"), shop.admin_token))
    assert after["status"] == "paid"
    assert after["lines"] == before["lines"]
    assert after["rewards"]["booked"] is True
    audit_clean(server, shop)
