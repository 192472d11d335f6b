"""Tenants and people: operators, registration, login, sessions, roles, KYC, invites, API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from mall_api import Api, TenantFixture, login, make_tenant, ok

from tokenmall.services.mall import auth
from tokenmall.services.mall.errors import Unauthenticated
from tokenmall.services.mall.uow import utc_now


def test_only_an_operator_creates_tenants_and_parameters_are_validated(
    api: Api, operator_token: str, tenant: TenantFixture
) -> None:
    body = {
        "tenant_id": "nope-tenant",
        "name": "x",
        "admin": {"email": "a@b.cn", "password": "password-one"},
    }
    # Given a tenant admin's token, when they try to create a tenant, then 403.
    refused = api.post("/api/v1/platform/tenants", tenant.admin_token, json=body)
    assert refused.status_code == 403
    assert api.post("/api/v1/platform/tenants", json=body).status_code == 401
    # An operator's parameters go through Params.updated; a bad combination names the field.
    bad = api.post(
        "/api/v1/platform/tenants",
        operator_token,
        json={**body, "params": {"grant_rate": "0.95", "referral_rates": ["0.10"]}},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "params.grant_rate"
    assert "price could fall" in bad.json()["error"]["message"]
    listed = ok(api.get("/api/v1/platform/tenants", operator_token, params={"limit": 200}))
    assert "nope-tenant" not in [t["tenant_id"] for t in listed["items"]]


def test_a_tenant_gets_its_own_parameters_and_changes_are_audited(
    api: Api, operator_token: str
) -> None:
    seeded = make_tenant(api, operator_token, preset="seed", params={"grant_on": "paid"})
    params = ok(api.get(seeded.path("/params"), seeded.consumer_token))
    assert params["params"]["dividend_rate"] == "0.1"  # the seed preset
    assert params["params"]["grant_on"] == "paid"
    assert params["params_version"] == 1
    changed = ok(
        api.patch(
            f"/api/v1/platform/tenants/{seeded.tenant_id}/params",
            operator_token,
            json={"params": {"sell_fee_rate": "0.05"}, "params_version": 1},
        )
    )
    assert changed["params"]["sell_fee_rate"] == "0.05"
    assert changed["params_version"] == 2
    # A stale version is refused, and nothing changes.
    stale = api.patch(
        f"/api/v1/platform/tenants/{seeded.tenant_id}/params",
        operator_token,
        json={"params": {"sell_fee_rate": "0.07"}, "params_version": 1},
    )
    assert stale.status_code == 409
    history = ok(
        api.get(f"/api/v1/platform/tenants/{seeded.tenant_id}/params/history", operator_token)
    )
    assert [h["params_version"] for h in history["items"]] == [1, 2]
    assert history["items"][1]["params"]["sell_fee_rate"] == "0.05"
    assert history["items"][0]["params"]["sell_fee_rate"] == "0.1"
    # Tenant admins read but do not change parameters.
    assert (
        api.patch(
            f"/api/v1/platform/tenants/{seeded.tenant_id}/params",
            seeded.admin_token,
            json={"params": {"sell_fee_rate": "0.01"}},
        ).status_code
        == 403
    )


def test_register_login_me_and_logout(api: Api, tenant: TenantFixture) -> None:
    user = ok(
        api.post(
            tenant.path("/register"),
            json={"email": " New@Shop.Test ", "password": "long-enough", "display_name": "小王"},
        ),
        201,
    )
    assert user["email"] == "new@shop.test"
    assert user["role"] == "consumer"
    assert user["kyc_status"] == "none"
    assert user["inviter_id"] is None
    token = login(api, tenant.tenant_id, "new@shop.test", "long-enough")
    assert ok(api.get(tenant.path("/me"), token))["display_name"] == "小王"
    # Wrong password and unknown email get the same 401.
    for email, password in (("new@shop.test", "wrong-password"), ("ghost@shop.test", "x" * 9)):
        refused = api.post(tenant.path("/login"), json={"email": email, "password": password})
        assert refused.status_code == 401
        assert refused.json()["error"]["message"] == "wrong email or password"
    # The same email cannot register twice in one tenant, and the answer does not say so:
    # the same status and shape as a new account, but nothing is made or changed.
    again = api.post(
        tenant.path("/register"), json={"email": "new@shop.test", "password": "other-secret-1"}
    )
    assert again.status_code == 201
    assert set(again.json()) == set(user)
    assert again.json()["user_id"] != user["user_id"]
    listed = ok(api.get(tenant.path("/users"), tenant.admin_token))["items"]
    assert [u["email"] for u in listed].count("new@shop.test") == 1
    refused = api.post(
        tenant.path("/login"), json={"email": "new@shop.test", "password": "other-secret-1"}
    )
    assert refused.status_code == 401
    assert api.post(tenant.path("/logout"), token).status_code == 204
    assert api.get(tenant.path("/me"), token).status_code == 401


def test_the_session_cookie_works_for_pages(
    api: Api, server_base: str, tenant: TenantFixture
) -> None:
    with httpx.Client(base_url=server_base) as browser:
        answer = browser.post(
            tenant.path("/login"), json={"email": "buyer@shop.test", "password": "buyer-password"}
        )
        assert answer.status_code == 200
        assert "httponly" in answer.headers["set-cookie"].lower()
        assert browser.get(tenant.path("/me")).json()["user_id"] == tenant.consumer_id
    assert api.get(tenant.path("/me")).status_code == 401  # no cookie, no token


def test_roles_are_checked_on_every_route_deny_by_default(api: Api, tenant: TenantFixture) -> None:
    consumer, merchant, admin = tenant.consumer_token, tenant.merchant_token, tenant.admin_token
    assert api.get(tenant.path("/users"), consumer).status_code == 403
    assert api.get(tenant.path("/users"), merchant).status_code == 403
    assert len(ok(api.get(tenant.path("/users"), admin))["items"]) == 3
    assert api.get(tenant.path("/users")).status_code == 401
    # A consumer cannot create users, merchants, products, SKUs or API keys.
    user_body = {"email": "x@shop.test", "password": "password-one", "role": "admin"}
    assert api.post(tenant.path("/users"), consumer, json=user_body).status_code == 403
    merchant_body = {"name": "m", "owner_user_id": tenant.consumer_id}
    assert api.post(tenant.path("/merchants"), consumer, json=merchant_body).status_code == 403
    assert api.post(tenant.path("/products"), consumer, json={"title": "t"}).status_code == 403
    sku_body = {"name": "s", "price": "1.00"}
    path = tenant.path(f"/products/{tenant.product_id}/skus")
    assert api.post(path, consumer, json=sku_body).status_code == 403
    assert api.post(tenant.path("/api-keys"), consumer, json={"name": "k"}).status_code == 403
    # Another user's profile is invisible to a consumer (404, as for a wrong id).
    assert api.get(tenant.path(f"/users/{tenant.admin_id}"), consumer).status_code == 404
    assert ok(api.get(tenant.path(f"/users/{tenant.consumer_id}"), consumer))["role"] == "consumer"


def test_an_admin_sets_kyc_and_roles_and_a_demotion_takes_effect_at_once(
    api: Api, tenant: TenantFixture
) -> None:
    path = tenant.path(f"/users/{tenant.consumer_id}")
    verified = ok(api.patch(path, tenant.admin_token, json={"kyc_status": "verified"}))
    assert verified["kyc_status"] == "verified"
    # A consumer cannot set their own KYC status.
    assert api.patch(path, tenant.consumer_token, json={"kyc_status": "none"}).status_code == 403
    assert ok(api.get(path, tenant.admin_token))["kyc_status"] == "verified"
    # Promote the consumer to admin: their existing token now lists users.
    ok(api.patch(path, tenant.admin_token, json={"role": "admin"}))
    assert api.get(tenant.path("/users"), tenant.consumer_token).status_code == 200
    ok(api.patch(path, tenant.admin_token, json={"role": "consumer"}))
    assert api.get(tenant.path("/users"), tenant.consumer_token).status_code == 403
    # An admin may not demote themselves (the tenant must keep an admin).
    own = tenant.path(f"/users/{tenant.admin_id}")
    assert api.patch(own, tenant.admin_token, json={"role": "consumer"}).status_code == 403
    assert ok(api.get(own, tenant.admin_token))["role"] == "admin"


def test_an_invite_code_binds_the_inviter_once(api: Api, tenant: TenantFixture) -> None:
    inviter = ok(api.get(tenant.path("/me"), tenant.consumer_token))
    invited = ok(
        api.post(
            tenant.path("/register"),
            json={
                "email": "friend@shop.test",
                "password": "password-one",
                "invite_code": inviter["invite_code"].lower(),
            },
        ),
        201,
    )
    assert invited["inviter_id"] == tenant.consumer_id
    unknown = api.post(
        tenant.path("/register"),
        json={"email": "f2@shop.test", "password": "password-one", "invite_code": "NOSUCH00"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "invite_code"
    # No endpoint rewrites it: inviter_id is not a field of the user update.
    rewrite = api.patch(
        tenant.path(f"/users/{invited['user_id']}"),
        tenant.admin_token,
        json={"inviter_id": tenant.admin_id},
    )
    assert rewrite.status_code == 422
    after = ok(api.get(tenant.path(f"/users/{invited['user_id']}"), tenant.admin_token))
    assert after["inviter_id"] == tenant.consumer_id


def test_api_keys_are_shown_once_act_as_their_owner_and_can_be_revoked(
    api: Api, tenant: TenantFixture
) -> None:
    created = api.post(
        tenant.path("/api-keys"),
        tenant.merchant_token,
        json={"name": "erp", "scopes": ["admin"]},
        key="key-1",
    )
    body = ok(created, 201)
    token = body["token"]
    assert token.startswith(f"tmk.{tenant.tenant_id}.")
    # An admin-scoped key acts as the merchant: it can add stock to the merchant's SKU.
    moved = api.post(
        tenant.path(f"/skus/{tenant.sku_id}/stock-movements"),
        token,
        json={"change": 5, "reason": "restock"},
    )
    assert ok(moved, 201)["stock_after"] == 15
    # A replay of the creating request answers the same key without the secret.
    replay = ok(
        api.post(
            tenant.path("/api-keys"),
            tenant.merchant_token,
            json={"name": "erp", "scopes": ["admin"]},
            key="key-1",
        ),
        201,
    )
    assert replay["key"] == body["key"]
    assert replay["token"] is None
    keys = ok(api.get(tenant.path("/api-keys"), tenant.merchant_token))["items"]
    assert [k["key_id"] for k in keys] == [body["key"]["key_id"]]
    # Revoked: it stops working at once.
    revoked = api.post(
        tenant.path(f"/api-keys/{body['key']['key_id']}/revoke"), tenant.merchant_token
    )
    assert ok(revoked)["revoked_at"] is not None
    assert api.get(tenant.path("/me"), token).status_code == 401
    # A forged secret with a real key id is refused.
    forged = ".".join([*token.split(".")[:3], "forged-secret"])
    assert api.get(tenant.path("/me"), forged).status_code == 401


def test_malformed_tokens_are_refused(api: Api, tenant: TenantFixture) -> None:
    for token in ("nonsense", "tms.x.y", "tms..."):
        answer = api.get(tenant.path("/me"), token)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
    basic = api.get(tenant.path("/me"), headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


def test_a_session_expires(server: Any, api: Api, tenant: TenantFixture) -> None:
    # Given a session issued now, when it is checked after its lifetime, then it is refused.
    hours = server.settings.session_hours
    with server.app.state.database.reading() as reader:
        now = utc_now()
        assert (
            auth.authenticate(reader, tenant.consumer_token, now).subject_id == tenant.consumer_id
        )
        with pytest.raises(Unauthenticated):
            auth.authenticate(
                reader, tenant.consumer_token, now + timedelta(hours=hours, minutes=1)
            )
