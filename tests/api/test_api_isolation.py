"""Cross-tenant isolation: another tenant's user or API key sees nothing (404, not 403).

For every endpoint family, B's admin, consumer and API key try A's resources two ways: under
A's path (their token is not A's) and under their own path with A's ids (the ids are not B's).
"""

from __future__ import annotations

from mall_api import Api, TenantFixture, ok


def _reads(a: TenantFixture, base: str) -> list[str]:
    return [
        f"{base}/params",
        f"{base}/me",
        f"{base}/users",
        f"{base}/users/{a.consumer_id}",
        f"{base}/api-keys",
        f"{base}/merchants",
        f"{base}/merchants/{a.merchant_id}",
        f"{base}/products",
        f"{base}/products/{a.product_id}",
        f"{base}/skus/{a.sku_id}",
        f"{base}/skus/{a.sku_id}/stock-movements",
    ]


def _writes(a: TenantFixture, base: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("POST", f"{base}/users", {"email": "x@y.cn", "password": "password-one", "role": "admin"}),
        ("PATCH", f"{base}/users/{a.consumer_id}", {"kyc_status": "verified"}),
        ("POST", f"{base}/api-keys", {"name": "k"}),
        ("POST", f"{base}/merchants", {"name": "m", "owner_user_id": a.merchant_user_id}),
        ("POST", f"{base}/products", {"title": "t", "merchant_id": a.merchant_id}),
        ("PATCH", f"{base}/products/{a.product_id}", {"title": "stolen"}),
        ("POST", f"{base}/products/{a.product_id}/skus", {"name": "s", "price": "1.00"}),
        ("PATCH", f"{base}/skus/{a.sku_id}", {"price": "0.01"}),
        (
            "POST",
            f"{base}/skus/{a.sku_id}/stock-movements",
            {"change": -10, "reason": "adjustment"},
        ),
    ]


def _snapshot(api: Api, a: TenantFixture) -> object:
    return (
        ok(api.get(a.path("/users"), a.admin_token)),
        ok(api.get(a.path("/merchants"), a.admin_token)),
        ok(api.get(a.path(f"/products/{a.product_id}"), a.admin_token)),
        ok(api.get(a.path(f"/skus/{a.sku_id}/stock-movements"), a.admin_token)),
        ok(api.get(a.path("/api-keys"), a.admin_token)),
    )


def test_another_tenants_callers_see_nothing_of_every_family(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    a, b = tenant, other_tenant
    b_key = ok(api.post(b.path("/api-keys"), b.admin_token, json={"name": "b"}), 201)["token"]
    before = _snapshot(api, a)
    for token in (b.admin_token, b.consumer_token, b.merchant_token, b_key):
        # Under A's path: B's credentials do not belong to A, so A "does not exist".
        for path in _reads(a, f"/api/v1/tenants/{a.tenant_id}"):
            answer = api.get(path, token)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        for method, path, body in _writes(a, f"/api/v1/tenants/{a.tenant_id}"):
            answer = api.call(method, path, token, body)
            assert answer.status_code == 404, (method, path, answer.text)
    # Under B's own path, A's ids are unknown ids.
    for path in _reads(a, f"/api/v1/tenants/{b.tenant_id}")[3:]:
        if path.endswith(("/merchants", "/products", "/api-keys", "/users")):
            continue
        answer = api.get(path, b.admin_token)
        assert answer.status_code == 404, (path, answer.text)
    a_ids = (a.consumer_id, a.merchant_user_id, a.merchant_id, a.product_id, a.sku_id)
    for method, path, body in _writes(a, f"/api/v1/tenants/{b.tenant_id}"):
        if not any(i in path + str(body) for i in a_ids):
            continue
        answer = api.call(method, path, b.admin_token, body)
        assert answer.status_code in (404, 422), (method, path, answer.text)
        assert "stolen" not in answer.text
    # B's lists hold none of A's rows.
    assert a.product_id not in str(ok(api.get(b.path("/products"), b.admin_token)))
    assert a.merchant_id not in str(ok(api.get(b.path("/merchants"), b.admin_token)))
    assert a.consumer_id not in str(ok(api.get(b.path("/users"), b.admin_token)))
    # And nothing of A changed.
    assert _snapshot(api, a) == before


def test_credentials_do_not_cross_tenants(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    # B's consumer's email and password do not log in to A.
    refused = api.post(
        tenant.path("/login"), json={"email": "nobody@b.test", "password": "buyer-password"}
    )
    assert refused.status_code == 401
    # A token of B with A's tenant id spliced in is refused.
    kind, _, session_id, secret = other_tenant.consumer_token.split(".")
    spliced = ".".join([kind, tenant.tenant_id, session_id, secret])
    assert api.get(tenant.path("/me"), spliced).status_code == 401


def test_tenant_users_cannot_use_platform_endpoints(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    for token in (tenant.admin_token, other_tenant.admin_token):
        assert api.get("/api/v1/platform/tenants", token).status_code == 403
        assert api.get(f"/api/v1/platform/tenants/{tenant.tenant_id}", token).status_code == 403
    assert api.get("/api/v1/platform/tenants").status_code == 401
