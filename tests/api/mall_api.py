"""Helpers of the API tests: an httpx client over real HTTP and a ready-made tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

OPERATOR_EMAIL = "operator@platform.test"
OPERATOR_PASSWORD = "operator-password"
Token = str | None
Answer = httpx.Response


class Api:
    """httpx over real HTTP; mutating calls get a fresh Idempotency-Key unless one is given."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        key: str | None = "auto",
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if method in ("POST", "PATCH", "PUT", "DELETE") and key is not None:
            headers["Idempotency-Key"] = uuid.uuid4().hex if key == "auto" else key
        # Bearer tokens only: cookies from a login must not make later calls authenticated.
        self.http.cookies.clear()
        return self.http.request(method, path, json=json, headers=headers, **kwargs)

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return self.call("GET", path, token, **kw)

    def post(self, path: str, token: Token = None, json: Any = None, **kw: Any) -> Answer:
        return self.call("POST", path, token, json, **kw)

    def patch(self, path: str, token: Token = None, json: Any = None, **kw: Any) -> Answer:
        return self.call("PATCH", path, token, json, **kw)


@dataclass
class TenantFixture:
    """A tenant with an admin, a merchant (user + store), a consumer, a product and a SKU."""

    tenant_id: str
    admin_token: str
    admin_id: str
    merchant_token: str
    merchant_user_id: str
    merchant_id: str
    consumer_token: str
    consumer_id: str
    product_id: str
    sku_id: str

    def path(self, rest: str) -> str:
        return f"/api/v1/tenants/{self.tenant_id}{rest}"


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.status_code}: {answer.text}"
    return answer.json() if answer.content else None


def login(api: Api, tenant_id: str, email: str, password: str) -> str:
    answer = api.post(
        f"/api/v1/tenants/{tenant_id}/login", json={"email": email, "password": password}
    )
    return str(ok(answer)["token"])


def make_tenant(api: Api, operator_token: str, **extra: Any) -> TenantFixture:
    tenant_id = "t" + uuid.uuid4().hex[:10]
    base = f"/api/v1/tenants/{tenant_id}"
    created = ok(
        api.post(
            "/api/v1/platform/tenants",
            operator_token,
            json={
                "tenant_id": tenant_id,
                "name": f"Tenant {tenant_id}",
                "admin": {"email": "admin@shop.test", "password": "admin-password"},
                **extra,
            },
        ),
        201,
    )
    admin_token = login(api, tenant_id, "admin@shop.test", "admin-password")
    seller = ok(
        api.post(
            f"{base}/users",
            admin_token,
            json={"email": "seller@shop.test", "password": "seller-password", "role": "merchant"},
        ),
        201,
    )
    merchant = ok(
        api.post(
            f"{base}/merchants",
            admin_token,
            json={"name": "Wine House", "owner_user_id": seller["user_id"]},
        ),
        201,
    )
    merchant_token = login(api, tenant_id, "seller@shop.test", "seller-password")
    buyer = ok(
        api.post(
            f"{base}/register", json={"email": "buyer@shop.test", "password": "buyer-password"}
        ),
        201,
    )
    consumer_token = login(api, tenant_id, "buyer@shop.test", "buyer-password")
    product = ok(api.post(f"{base}/products", merchant_token, json={"title": "Red wine"}), 201)
    sku = ok(
        api.post(
            f"{base}/products/{product['product_id']}/skus",
            merchant_token,
            json={"name": "750ml", "price": "100.00", "stock": 10, "pool_contribution": "30.00"},
        ),
        201,
    )
    return TenantFixture(
        tenant_id=tenant_id,
        admin_token=admin_token,
        admin_id=created["admin"]["user_id"],
        merchant_token=merchant_token,
        merchant_user_id=seller["user_id"],
        merchant_id=merchant["merchant_id"],
        consumer_token=consumer_token,
        consumer_id=buyer["user_id"],
        product_id=product["product_id"],
        sku_id=sku["sku_id"],
    )
