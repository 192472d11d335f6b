"""Cross-tenant isolation of the wallet, referral and withdrawal endpoints: another tenant's
user or API key sees 404 for all of them, and A's ids under B's path are unknown ids."""

from __future__ import annotations

from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from wallet_helpers import buy, snapshot, store_of, verify_kyc

from tokenmall.adapters.db.store import Store


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def reads(a: TenantFixture, base: str, withdrawal_id: str) -> list[str]:
    return [
        f"{base}/wallet",
        f"{base}/users/{a.consumer_id}/wallet",
        f"{base}/wallet/dividends",
        f"{base}/users/{a.consumer_id}/wallet/dividends",
        f"{base}/wallet/sell-preview?points=1",
        f"{base}/wallet/convert-preview?points=1",
        f"{base}/merchants/{a.merchant_id}/wallet",
        f"{base}/leaderboard",
        f"{base}/economy/price-history",
        f"{base}/referrals/me",
        f"{base}/users/{a.consumer_id}/referrals",
        f"{base}/withdrawals",
        f"{base}/withdrawals/{withdrawal_id}",
        f"{base}/withdrawal-settings",
    ]


def writes(
    a: TenantFixture, base: str, withdrawal_id: str
) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", f"{base}/wallet/sell", {"points": "1"}),
        ("POST", f"{base}/wallet/convert", {"points": "1"}),
        ("POST", f"{base}/merchants/{a.merchant_id}/redeem", {"amount": "1.00"}),
        ("POST", f"{base}/withdrawals", {"amount": "1.00"}),
        ("POST", f"{base}/withdrawals/{withdrawal_id}/approve", {}),
        ("POST", f"{base}/withdrawals/{withdrawal_id}/reject", {"reason": "x"}),
        ("PATCH", f"{base}/withdrawal-settings", {"requires_kyc": False}),
    ]


def test_another_tenants_callers_see_nothing_of_wallets_referrals_withdrawals(
    api: Api, tenant: TenantFixture, other_tenant: TenantFixture, store: Store
) -> None:
    a, b = tenant, other_tenant
    buy(store, a.tenant_id, a.consumer_id, 20_000)
    verify_kyc(api, a, a.consumer_id)
    ok(api.post(a.path("/wallet/sell"), a.consumer_token, json={"points": "10"}))
    made = ok(api.post(a.path("/withdrawals"), a.consumer_token, json={"amount": "1.00"}), 201)
    wid = made["withdrawal_id"]
    buy(store, b.tenant_id, b.consumer_id, 20_000)  # B's callers have points of their own
    b_key = ok(api.post(b.path("/api-keys"), b.admin_token, json={"name": "b"}), 201)["token"]
    before = snapshot(store, a.tenant_id)
    a_base = f"/api/v1/tenants/{a.tenant_id}"
    for token in (b.admin_token, b.consumer_token, b.merchant_token, b_key):
        for path in reads(a, a_base, wid):
            answer = api.get(path, token)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        for method, path, body in writes(a, a_base, wid):
            answer = api.call(method, path, token, body)
            assert answer.status_code == 404, (method, path, answer.text)
    # under B's own path, A's ids are unknown ids
    b_base = f"/api/v1/tenants/{b.tenant_id}"
    for path in (
        f"{b_base}/users/{a.consumer_id}/wallet",
        f"{b_base}/users/{a.consumer_id}/wallet/dividends",
        f"{b_base}/users/{a.consumer_id}/referrals",
        f"{b_base}/merchants/{a.merchant_id}/wallet",
        f"{b_base}/withdrawals/{wid}",
    ):
        answer = api.get(path, b.admin_token)
        assert answer.status_code == 404, (path, answer.text)
    for method, path, body in writes(a, b_base, wid)[2:]:
        if wid not in path and a.merchant_id not in path:
            continue
        answer = api.call(method, path, b.admin_token, body)
        assert answer.status_code == 404, (method, path, answer.text)
    listed = ok(api.get(b.path("/withdrawals"), b.admin_token))["items"]
    assert listed == []
    board = ok(api.get(b.path("/leaderboard"), b.admin_token))["items"]
    assert len(board) == 1  # B's own buyer only
    assert snapshot(store, a.tenant_id) == before
