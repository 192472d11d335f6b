"""Self-referral over real HTTP (SQLite and PostgreSQL): when the tenant requires real-name
verification for withdrawals, only verified inviters earn referral points and commissions, and
inviters and invitees that registered from one client are flagged for the admins."""

from __future__ import annotations

from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from wallet_helpers import buy, complete, invite_code, register, store_of, verify_kyc

from tokenmall.adapters.db.store import Store


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


@pytest.fixture
def shop(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"commission_rates": ["0.05"]})


def earned(api: Api, t: TenantFixture, token: str) -> tuple[str, str, str]:
    """(referral points, released commissions, cash) of the caller."""
    mine = ok(api.get(t.path("/referrals/me"), token))
    cash = ok(api.get(t.path("/wallet"), token))["cash"]
    return mine["referral_points"]["total"], mine["commissions"]["released"], cash


def test_a_fake_unverified_inviter_earns_nothing_on_its_invitees_spend(
    api: Api, shop: TenantFixture, store: Store
) -> None:
    t = shop
    fake, fake_token = register(api, t, "fake@shop.test")
    me, _ = register(api, t, "me@shop.test", invite_code(api, t, fake_token))
    before = earned(api, t, fake_token)
    complete(store, t.tenant_id, buy(store, t.tenant_id, me, 10_000))
    assert earned(api, t, fake_token) == before == ("0.00000000", "0.00", "0.00")
    # Verified later: purchases from then on earn (the invitee is bound now).
    verify_kyc(api, t, fake)
    complete(store, t.tenant_id, buy(store, t.tenant_id, me, 10_000))
    points, released, _ = earned(api, t, fake_token)
    assert released == "5.00"
    assert points != "0.00000000"


def test_a_verified_inviter_earns(api: Api, shop: TenantFixture, store: Store) -> None:
    t = shop
    amy, amy_token = register(api, t, "amy@shop.test")
    verify_kyc(api, t, amy)
    bob, _ = register(api, t, "bob@shop.test", invite_code(api, t, amy_token))
    complete(store, t.tenant_id, buy(store, t.tenant_id, bob, 10_000))
    assert earned(api, t, amy_token)[1] == "5.00"


def test_without_kyc_for_withdrawals_any_inviter_earns(
    api: Api, shop: TenantFixture, store: Store
) -> None:
    t = shop
    ok(api.patch(t.path("/withdrawal-settings"), t.admin_token, json={"requires_kyc": False}))
    _, amy_token = register(api, t, "amy@shop.test")
    bob, _ = register(api, t, "bob@shop.test", invite_code(api, t, amy_token))
    complete(store, t.tenant_id, buy(store, t.tenant_id, bob, 10_000))
    assert earned(api, t, amy_token)[1] == "5.00"


def test_an_inviter_and_invitee_of_one_client_are_flagged(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    one = {"User-Agent": "same-phone/1.0"}
    made = api.post(
        t.path("/register"),
        json={"email": "a@shop.test", "password": "password-123"},
        headers=one,
    )
    a = ok(made, 201)
    b = ok(
        api.post(
            t.path("/register"),
            json={
                "email": "b@shop.test",
                "password": "password-123",
                "invite_code": a["invite_code"],
            },
            headers=one,
        ),
        201,
    )
    other = ok(
        api.post(
            t.path("/register"),
            json={
                "email": "c@shop.test",
                "password": "password-123",
                "invite_code": a["invite_code"],
            },
            headers={"User-Agent": "another-laptop/2.0"},
        ),
        201,
    )
    flags = ok(api.get(t.path("/referral-flags"), t.admin_token))["items"]
    assert flags == [
        {"invitee_id": b["user_id"], "inviter_id": a["user_id"], "reason": "same_signup_client"}
    ]
    assert other["user_id"] not in str(flags)
    assert api.get(t.path("/referral-flags"), t.consumer_token).status_code == 403
