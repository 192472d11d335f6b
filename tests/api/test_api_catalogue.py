"""Catalogue and stock: merchants, products, SKUs with decimal-string prices, stock movements."""

from __future__ import annotations

from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import store_of
from sqlalchemy import update

from tokenmall.adapters.db.mall.tables import skus


def test_a_merchant_lists_a_product_with_a_sku_and_a_fixed_pool_contribution(
    api: Api, tenant: TenantFixture
) -> None:
    detail = ok(api.get(tenant.path(f"/products/{tenant.product_id}"), tenant.consumer_token))
    assert detail["title"] == "Red wine"
    assert detail["merchant_id"] == tenant.merchant_id
    [sku] = detail["skus"]
    assert sku["price"] == "100.00"
    assert sku["pool_contribution"] == "30.00"
    assert sku["stock"] == 10
    # Without a fixed contribution the tenant's pool_rate applies (null).
    plain = ok(
        api.post(
            tenant.path(f"/products/{tenant.product_id}/skus"),
            tenant.merchant_token,
            json={"name": "1.5l", "price": "0.5"},
        ),
        201,
    )
    assert plain["price"] == "0.50"
    assert plain["pool_contribution"] is None
    assert plain["stock"] == 0


def test_merchants_manage_only_their_own_catalogue(api: Api, tenant: TenantFixture) -> None:
    rival = ok(
        api.post(
            tenant.path("/users"),
            tenant.admin_token,
            json={"email": "rival@shop.test", "password": "rival-password", "role": "merchant"},
        ),
        201,
    )
    ok(
        api.post(
            tenant.path("/merchants"),
            tenant.admin_token,
            json={"name": "Rival", "owner_user_id": rival["user_id"]},
        ),
        201,
    )
    token = ok(
        api.post(
            tenant.path("/login"), json={"email": "rival@shop.test", "password": "rival-password"}
        )
    )["token"]
    # The rival sees the product but may not change it, its SKUs or its stock.
    assert api.get(tenant.path(f"/products/{tenant.product_id}"), token).status_code == 200
    path = tenant.path(f"/products/{tenant.product_id}")
    assert api.patch(path, token, json={"title": "Mine now"}).status_code == 403
    sku_path = tenant.path(f"/skus/{tenant.sku_id}")
    assert api.patch(sku_path, token, json={"price": "1.00"}).status_code == 403
    stock = api.post(
        f"{sku_path}/stock-movements", token, json={"change": -10, "reason": "adjustment"}
    )
    assert stock.status_code == 403
    # Nor may they list under the first merchant's name.
    other = api.post(
        tenant.path("/products"), token, json={"title": "x", "merchant_id": tenant.merchant_id}
    )
    assert other.status_code == 422
    assert other.json()["error"]["field"] == "merchant_id"
    sku = ok(api.get(sku_path, tenant.admin_token))
    assert (sku["price"], sku["stock"]) == ("100.00", 10)
    assert ok(api.get(path, tenant.admin_token))["title"] == "Red wine"


def test_a_hidden_product_is_invisible_to_consumers(api: Api, tenant: TenantFixture) -> None:
    path = tenant.path(f"/products/{tenant.product_id}")
    assert (
        ok(api.patch(path, tenant.merchant_token, json={"status": "hidden"}))["status"] == "hidden"
    )
    assert api.get(path, tenant.consumer_token).status_code == 404
    assert api.get(tenant.path(f"/skus/{tenant.sku_id}"), tenant.consumer_token).status_code == 404
    assert ok(api.get(tenant.path("/products"), tenant.consumer_token))["items"] == []
    assert len(ok(api.get(tenant.path("/products"), tenant.merchant_token))["items"]) == 1


def test_sku_changes_keep_the_contribution_within_the_price(
    api: Api, tenant: TenantFixture
) -> None:
    path = tenant.path(f"/skus/{tenant.sku_id}")
    # A price below the fixed contribution (30.00) is refused, and nothing changes.
    low = api.patch(path, tenant.merchant_token, json={"price": "20.00"})
    assert low.status_code == 422
    assert low.json()["error"]["field"] == "price"
    changed = ok(api.patch(path, tenant.merchant_token, json={"price": "120.00", "name": "Magnum"}))
    assert (changed["price"], changed["name"], changed["pool_contribution"]) == (
        "120.00",
        "Magnum",
        "30.00",
    )
    cleared = ok(api.patch(path, tenant.merchant_token, json={"pool_contribution": ""}))
    assert cleared["pool_contribution"] is None


def test_stock_moves_by_recorded_movements_and_never_below_zero(
    api: Api, tenant: TenantFixture
) -> None:
    path = tenant.path(f"/skus/{tenant.sku_id}/stock-movements")
    taken = ok(
        api.post(
            path,
            tenant.merchant_token,
            json={"change": -4, "reason": "adjustment", "reference": "breakage"},
        ),
        201,
    )
    assert (taken["change"], taken["stock_after"]) == (-4, 6)
    refused = api.post(path, tenant.merchant_token, json={"change": -7, "reason": "adjustment"})
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "out_of_stock",
        "message": "only 6 in stock, cannot take 7",
        "field": "change",
    }
    # A restock must add.
    assert (
        api.post(path, tenant.merchant_token, json={"change": -1, "reason": "restock"}).status_code
        == 422
    )
    movements = ok(api.get(path, tenant.merchant_token))["items"]
    assert [(m["reason"], m["change"], m["stock_after"]) for m in movements] == [
        ("restock", 10, 10),
        ("adjustment", -4, 6),
    ]
    assert ok(api.get(tenant.path(f"/skus/{tenant.sku_id}"), tenant.admin_token))["stock"] == 6
    assert api.get(path, tenant.consumer_token).status_code == 403


def test_lists_page_by_cursor(api: Api, tenant: TenantFixture) -> None:
    for n in range(3):
        ok(api.post(tenant.path("/products"), tenant.merchant_token, json={"title": f"p{n}"}), 201)
    first = ok(api.get(tenant.path("/products"), tenant.consumer_token, params={"limit": 2}))
    assert len(first["items"]) == 2
    second = ok(
        api.get(
            tenant.path("/products"),
            tenant.consumer_token,
            params={"limit": 2, "after": first["next_after"]},
        )
    )
    assert len(second["items"]) == 2
    assert second["next_after"] is None or len(second["items"]) == 2
    ids = [p["product_id"] for p in first["items"] + second["items"]]
    assert len(set(ids)) == 4
    assert ids == sorted(ids)


# -- SKUs that could be paid but never booked --------------------------------------------------
# The default parameters give 30 % of an order's amount to the dividend pool and pay no money
# commissions: a unit priced 100.00 may carry a fixed pool contribution of at most 70.00.


def _skus(api: Api, tenant: TenantFixture) -> list[Any]:
    path = tenant.path(f"/products/{tenant.product_id}")
    return list(ok(api.get(path, tenant.admin_token))["skus"])


def test_a_sku_whose_orders_could_never_be_booked_is_refused(
    api: Api, tenant: TenantFixture
) -> None:
    before = _skus(api, tenant)
    path = tenant.path(f"/products/{tenant.product_id}/skus")
    for contribution in ("70.01", "100.00"):
        body = {"name": "magnum", "price": "100.00", "pool_contribution": contribution}
        refused = api.post(path, tenant.merchant_token, json=body)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["field"] == "pool_contribution"
        assert "at most 70.00" in error["message"]
    assert _skus(api, tenant) == before
    # At the limit the SKU is accepted
    body = {"name": "magnum", "price": "100.00", "pool_contribution": "70.00"}
    assert ok(api.post(path, tenant.merchant_token, json=body), 201)["pool_contribution"] == (
        "70.00"
    )


def test_a_sku_change_that_would_leave_it_unbookable_is_refused(
    api: Api, tenant: TenantFixture
) -> None:
    path = tenant.path(f"/skus/{tenant.sku_id}")
    before = ok(api.get(path, tenant.admin_token))
    # 30.00 on 100.00 now: a contribution of 80.00, or a price of 40.00 (room for 28.00)
    for body, field in (
        ({"pool_contribution": "80.00"}, "pool_contribution"),
        ({"price": "40.00"}, "price"),
        ({"price": "40.00", "pool_contribution": "29.00"}, "pool_contribution"),
    ):
        refused = api.patch(path, tenant.merchant_token, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["field"] == field, (body, refused.json())
    assert ok(api.get(path, tenant.admin_token)) == before
    changed = ok(api.patch(path, tenant.merchant_token, json={"price": "42.86"}))
    assert (changed["price"], changed["pool_contribution"]) == ("42.86", "30.00")


def test_checkout_refuses_a_sku_that_could_never_be_booked(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    # Given a SKU stored with a contribution the parameters leave no room for (a row from
    # before the check, or written around it): 90.00 on 100.00
    with store_of(server).transaction() as conn:
        conn.execute(
            update(skus)
            .where(skus.c.tenant_id == tenant.tenant_id, skus.c.sku_id == tenant.sku_id)
            .values(pool_contribution_fen=90_00)
        )
    before = ok(api.get(tenant.path(f"/skus/{tenant.sku_id}"), tenant.admin_token))
    # When the consumer checks it out, the checkout is refused before anything is reserved
    body = {"lines": [{"sku_id": tenant.sku_id, "quantity": 1}]}
    refused = api.post(tenant.path("/checkout"), tenant.consumer_token, json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "lines.0.sku_id"
    assert "at most 70.00" in refused.json()["error"]["message"]
    assert ok(api.get(tenant.path(f"/skus/{tenant.sku_id}"), tenant.admin_token)) == before
    orders = ok(api.get(tenant.path("/orders"), tenant.consumer_token))
    assert orders["items"] == []
