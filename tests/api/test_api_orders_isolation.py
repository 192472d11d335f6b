"""Another tenant's users and API keys see nothing of a tenant's carts, orders, payments,
refunds and order settings: 404 under the tenant's path, and its ids unknown under their own."""

from __future__ import annotations

from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import add_to_cart, checkout, economy, paid_order


def _a_world(api: Api, a: TenantFixture) -> dict[str, str]:
    paid = paid_order(api, a)
    refund = ok(
        api.post(
            a.path(f"/orders/{paid['order_id']}/refunds"), a.consumer_token, json={"reason": "r"}
        ),
        201,
    )
    unpaid = checkout(api, a, [(a.sku_id, 1)])
    add_to_cart(api, a, quantity=1)
    return {
        "paid": paid["order_id"],
        "payment": paid["payments"][0]["payment_id"],
        "refund": refund["refund_id"],
        "unpaid": unpaid["orders"][0]["order_id"],
        "unpaid_payment": unpaid["payments"][0]["payment_id"],
    }


def _reads(w: dict[str, str], base: str, a: TenantFixture) -> list[str]:
    return [
        f"{base}/cart",
        f"{base}/orders",
        f"{base}/orders/{w['paid']}",
        f"{base}/orders/{w['unpaid']}",
        f"{base}/payments/{w['payment']}",
        f"{base}/order-settings",
    ]


def _writes(w: dict[str, str], base: str, a: TenantFixture) -> list[tuple[str, str, Any]]:
    return [
        ("POST", f"{base}/cart/lines", {"sku_id": a.sku_id, "quantity": 1}),
        ("PATCH", f"{base}/cart/lines/{a.sku_id}", {"quantity": 3}),
        ("DELETE", f"{base}/cart/lines/{a.sku_id}", None),
        ("POST", f"{base}/checkout", {"lines": [{"sku_id": a.sku_id, "quantity": 1}]}),
        ("POST", f"{base}/orders/{w['unpaid']}/cancel", None),
        ("POST", f"{base}/orders/{w['unpaid']}/payments", None),
        ("POST", f"{base}/orders/{w['paid']}/ship", None),
        ("POST", f"{base}/orders/{w['paid']}/confirm", None),
        ("POST", f"{base}/orders/{w['paid']}/refunds", {"reason": "mine now"}),
        ("POST", f"{base}/orders/{w['paid']}/refunds/{w['refund']}/approve", None),
        ("POST", f"{base}/orders/{w['paid']}/refunds/{w['refund']}/reject", None),
        ("POST", f"{base}/orders/run-due", None),
        ("PATCH", f"{base}/order-settings", {"return_window_days": 0}),
    ]


def _snapshot(api: Api, a: TenantFixture, server: Any, w: dict[str, str]) -> object:
    return (
        ok(api.get(a.path(f"/orders/{w['paid']}"), a.admin_token)),
        ok(api.get(a.path(f"/orders/{w['unpaid']}"), a.admin_token)),
        ok(api.get(a.path("/cart"), a.consumer_token)),
        ok(api.get(a.path("/order-settings"), a.admin_token)),
        ok(api.get(a.path(f"/skus/{a.sku_id}"), a.admin_token)),
        economy(server, a),
    )


def test_another_tenants_callers_see_nothing_of_orders_and_payments(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture, server: Any
) -> None:
    a, b = tenant, other_tenant
    w = _a_world(api, a)
    # B's strongest key: an admin-scoped one.
    b_key = ok(
        api.post(b.path("/api-keys"), b.admin_token, json={"name": "b", "scopes": ["admin"]}),
        201,
    )["token"]
    before = _snapshot(api, a, server, w)
    a_base = f"/api/v1/tenants/{a.tenant_id}"
    for token in (b.admin_token, b.consumer_token, b.merchant_token, b_key):
        for path in _reads(w, a_base, a):
            answer = api.get(path, token)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        for method, path, body in _writes(w, a_base, a):
            answer = api.call(method, path, token, body)
            assert answer.status_code == 404, (method, path, answer.text)
    # Under B's own path, A's ids are unknown: 404 for ids in the path, 422 for ids in a body.
    b_base = f"/api/v1/tenants/{b.tenant_id}"
    for path in _reads(w, b_base, a)[2:5]:
        for token in (b.admin_token, b.consumer_token, b_key):
            assert api.get(path, token).status_code == 404, path
    assert ok(api.get(f"{b_base}/orders", b.admin_token))["items"] == []
    for method, path, body in _writes(w, b_base, a):
        token = b.admin_token if "refunds/" in path or "ship" in path else b.consumer_token
        if path.endswith(("run-due", "order-settings")):
            continue  # B's own tenant-wide actions, nothing of A's in them
        answer = api.call(method, path, token, body)
        assert answer.status_code in (404, 422), (method, path, answer.text)
    # A's payment page and webhook belong to A alone: the tenant is part of the gateway's
    # reference, so B has nothing to call there either.
    assert _snapshot(api, a, server, w) == before


def test_within_a_tenant_consumers_and_merchants_see_only_their_own(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    w = _a_world(api, t)
    ok(api.post(t.path("/register"), json={"email": "z@shop.test", "password": "z-password"}), 201)
    zed = ok(api.post(t.path("/login"), json={"email": "z@shop.test", "password": "z-password"}))
    for path in (f"/orders/{w['paid']}", f"/payments/{w['payment']}"):
        assert api.get(t.path(path), zed["token"]).status_code == 404
    for method, path in (
        ("POST", f"/orders/{w['unpaid']}/cancel"),
        ("POST", f"/orders/{w['unpaid']}/payments"),
        ("POST", f"/orders/{w['paid']}/refunds"),
    ):
        answer = api.call(
            method, t.path(path), zed["token"], {"reason": "r"} if "refunds" in path else None
        )
        assert answer.status_code == 404, (path, answer.text)
    assert ok(api.get(t.path("/cart"), zed["token"]))["lines"] == []
    assert ok(api.get(t.path("/payments/" + w["payment"]), t.merchant_token))["status"] == (
        "succeeded"
    )
