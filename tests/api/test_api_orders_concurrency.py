"""Stock is never oversold when many consumers check out the last units at once (threads over
real HTTP), and every refused checkout leaves nothing behind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mall_api import Api, TenantFixture, login, ok


def test_concurrent_checkouts_never_oversell(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    sku = ok(
        api.post(
            t.path(f"/products/{t.product_id}/skus"),
            t.merchant_token,
            json={"name": "last ones", "price": "10.00", "stock": 5},
        ),
        201,
    )["sku_id"]
    buyers = []
    for i in range(4):
        email = f"buyer{i}@race.test"
        ok(api.post(t.path("/register"), json={"email": email, "password": "pass-word-1"}), 201)
        buyers.append(login(api, t.tenant_id, email, "pass-word-1"))
    base = str(api.http.base_url)

    def attempt(n: int) -> tuple[int, str]:
        client = Api(base)
        try:
            answer = client.post(
                t.path("/checkout"),
                buyers[n % len(buyers)],
                json={"lines": [{"sku_id": sku, "quantity": 2 if n % 3 == 0 else 1}]},
            )
            code = answer.json().get("error", {}).get("code", "") if answer.content else ""
            return answer.status_code, code
        finally:
            client.http.close()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(12)))
    assert {status for status, _ in results} <= {201, 409}
    assert all(code == "out_of_stock" for status, code in results if status == 409)
    orders = ok(api.get(t.path("/orders?limit=200"), t.admin_token))["items"]
    sold = sum(line["quantity"] for o in orders for line in o["lines"] if line["sku_id"] == sku)
    assert len(orders) == sum(1 for status, _ in results if status == 201)
    stock = ok(api.get(t.path(f"/skus/{sku}"), t.admin_token))["stock"]
    assert stock >= 0
    assert sold + stock == 5
    movements = ok(api.get(t.path(f"/skus/{sku}/stock-movements?limit=200"), t.admin_token))
    reserved = [m for m in movements["items"] if m["reason"] == "reservation"]
    assert -sum(m["change"] for m in reserved) == sold
    assert len(reserved) == len(orders)
