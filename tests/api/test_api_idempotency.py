"""Idempotency-Key on every mutating endpoint: a replay answers the first response and changes
nothing; the same key with a different request is a 409; keys belong to their caller."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mall_api import Api, TenantFixture, ok


def _stock(api: Api, t: TenantFixture) -> int:
    return int(ok(api.get(t.path(f"/skus/{t.sku_id}"), t.admin_token))["stock"])


def test_a_replay_answers_the_first_response_and_changes_nothing(
    api: Api, tenant: TenantFixture
) -> None:
    path = tenant.path(f"/skus/{tenant.sku_id}/stock-movements")
    body = {"change": -3, "reason": "adjustment"}
    first = api.post(path, tenant.merchant_token, body, key="take-3")
    again = api.post(path, tenant.merchant_token, body, key="take-3")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert (first.headers["idempotency-replayed"], again.headers["idempotency-replayed"]) == (
        "false",
        "true",
    )
    assert _stock(api, tenant) == 7
    movements = ok(api.get(path, tenant.merchant_token))["items"]
    assert len(movements) == 2  # the opening restock and one adjustment


def test_the_same_key_with_another_request_is_a_conflict(api: Api, tenant: TenantFixture) -> None:
    path = tenant.path(f"/skus/{tenant.sku_id}/stock-movements")
    ok(api.post(path, tenant.merchant_token, {"change": -1, "reason": "adjustment"}, key="k"), 201)
    clash = api.post(path, tenant.merchant_token, {"change": -2, "reason": "adjustment"}, key="k")
    assert clash.status_code == 409
    assert clash.json()["error"]["field"] == "Idempotency-Key"
    # The same key on another endpoint is another request too.
    other = api.post(tenant.path("/products"), tenant.merchant_token, {"title": "x"}, key="k")
    assert other.status_code == 409
    assert _stock(api, tenant) == 9


def test_keys_belong_to_their_caller(api: Api, tenant: TenantFixture) -> None:
    # Two callers may use the same key for their own requests.
    body = {"title": "Same key"}
    mine = ok(api.post(tenant.path("/products"), tenant.merchant_token, body, key="shared"), 201)
    theirs = ok(
        api.post(
            tenant.path("/products"),
            tenant.admin_token,
            {**body, "merchant_id": tenant.merchant_id},
            key="shared",
        ),
        201,
    )
    assert mine["product_id"] != theirs["product_id"]


def test_a_refused_request_is_not_remembered(api: Api, tenant: TenantFixture) -> None:
    path = tenant.path(f"/skus/{tenant.sku_id}/stock-movements")
    refused = api.post(
        path, tenant.merchant_token, {"change": -50, "reason": "adjustment"}, key="r"
    )
    assert refused.status_code == 409
    ok(api.post(path, tenant.merchant_token, {"change": 50, "reason": "restock"}, key="r2"), 201)
    # Now the same request under the same key can succeed: nothing was stored for the refusal.
    ok(api.post(path, tenant.merchant_token, {"change": -50, "reason": "adjustment"}, key="r"), 201)
    assert _stock(api, tenant) == 10


def test_concurrent_identical_requests_make_one_change(api: Api, tenant: TenantFixture) -> None:
    path = tenant.path(f"/skus/{tenant.sku_id}/stock-movements")
    body = {"change": -1, "reason": "adjustment", "reference": "race"}

    def send(_: int) -> tuple[int, str]:
        client = Api(str(api.http.base_url))
        try:
            answer = client.post(path, tenant.merchant_token, body, key="race-key")
            return answer.status_code, answer.json()["movement_id"]
        finally:
            client.http.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(16)))
    assert {status for status, _ in results} == {201}
    assert len({movement for _, movement in results}) == 1
    assert _stock(api, tenant) == 9


def test_tenant_creation_and_parameter_changes_replay(api: Api, operator_token: str) -> None:
    body = {
        "tenant_id": "replayed-tenant",
        "name": "Replayed",
        "admin": {"email": "boss@replay.test", "password": "password-one"},
    }
    first = ok(api.post("/api/v1/platform/tenants", operator_token, body, key="mk"), 201)
    assert ok(api.post("/api/v1/platform/tenants", operator_token, body, key="mk"), 201) == first
    path = "/api/v1/platform/tenants/replayed-tenant/params"
    change = {"params": {"sell_fee_rate": "0.05"}}
    changed = ok(api.patch(path, operator_token, change, key="p1"))
    assert ok(api.patch(path, operator_token, change, key="p1")) == changed
    assert changed["params_version"] == 2
    history = ok(api.get(f"{path}/history", operator_token))["items"]
    assert [h["params_version"] for h in history] == [1, 2]
