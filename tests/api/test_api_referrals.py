"""Referrals over real HTTP: an invite link binds the inviter once, in the ledger too; referral
points earned are visible; the tree cannot be rewritten."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from sqlalchemy import select
from wallet_helpers import (
    audit_clean,
    buy,
    invite_code,
    register,
    snapshot,
    store_of,
    verify_kyc,
)

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import holders, journals
from tokenmall.domain.errors import RuleViolation
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import parse_points
from tokenmall.services.ledger.execute import execute


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def referrer_in_ledger(store: Store, tenant_id: str, user_id: str) -> str | None:
    with store.read() as conn:
        return conn.execute(
            select(holders.c.referrer).where(
                holders.c.tenant_id == tenant_id, holders.c.name == user_id
            )
        ).scalar_one_or_none()


def test_invite_link_registration_binds_the_inviter_once(
    api: Api, tenant: TenantFixture, store: Store, server_base: str
) -> None:
    t = tenant.tenant_id
    amy, amy_token = register(api, tenant, "amy@shop.test", name="Amy")
    verify_kyc(api, tenant, amy)  # only verified inviters earn (the tenant requires KYC)
    mine = ok(api.get(tenant.path("/referrals/me"), amy_token))
    code = mine["invite_code"]
    assert mine["invite_path"] == f"/{t}/register?invite={code}"
    assert mine["invite_url"] == server_base + mine["invite_path"]
    assert mine["inviter"] is None
    assert mine["invitees"] == []

    bob, bob_token = register(api, tenant, "bob@shop.test", code, name="Bob")
    assert referrer_in_ledger(store, t, bob) == amy  # Join ran in the registration
    bobs = ok(api.get(tenant.path("/referrals/me"), bob_token))
    assert bobs["inviter"] == {"user_id": amy, "display_name": "Amy"}
    assert bobs["bound_in_ledger"] is True
    amys = ok(api.get(tenant.path("/referrals/me"), amy_token))
    assert [i["display_name"] for i in amys["invitees"]] == ["Bob"]
    assert "@" not in str(amys["invitees"])

    # bob's purchase grants amy referral points (referral_rates level 1)
    buy(store, t, bob, 10_000)
    with store.read() as conn:
        result = conn.execute(
            select(journals.c.result).where(
                journals.c.tenant_id == t, journals.c.code == "purchase"
            )
        ).scalar_one()
    grants = [g for g in json.loads(result)["grants"] if g["level"] >= 1]
    assert [g["holder"] for g in grants] == [amy]
    amys = ok(api.get(tenant.path("/referrals/me"), amy_token))
    points = amys["referral_points"]
    assert parse_points(points["total"]) == parse_points(grants[0]["points"]) > 0
    assert points["by_level"] == [{"level": 1, "points": grants[0]["points"]}]
    # no commission_rates on this tenant: no commissions
    assert amys["commissions"]["frozen"] == "0.00"
    assert amys["commissions"]["recent"] == []

    # the tree is never rewritten: not by the ledger, not by any endpoint
    before = snapshot(store, t)
    with pytest.raises(RuleViolation):
        execute(
            store,
            c.Join(tenant_id=t, idempotency_key="rebind", user=bob, referrer=tenant.consumer_id),
        )
    with pytest.raises(RuleViolation):  # a cycle
        execute(store, c.Join(tenant_id=t, idempotency_key="cycle", user=amy, referrer=bob))
    answer = api.patch(tenant.path(f"/users/{bob}"), tenant.admin_token, json={"inviter_id": amy})
    assert answer.status_code == 422
    again = api.post(
        tenant.path("/register"),
        json={"email": "bob@shop.test", "password": "password-123", "invite_code": code},
    )
    assert again.status_code == 201  # the same answer as a new address: nothing is told
    assert snapshot(store, t) == before
    assert referrer_in_ledger(store, t, bob) == amy

    # a chain: carl invited by bob
    carl, _ = register(api, tenant, "carl@shop.test", invite_code(api, tenant, bob_token), "Carl")
    # bob is not verified yet: carl is bound once bob is (only verified inviters earn)
    assert referrer_in_ledger(store, t, carl) is None
    verify_kyc(api, tenant, bob)
    assert referrer_in_ledger(store, t, carl) == bob
    # admins read anyone's referrals; consumers only their own
    seen = ok(api.get(tenant.path(f"/users/{bob}/referrals"), tenant.admin_token))
    assert seen["inviter"]["user_id"] == amy
    assert [i["display_name"] for i in seen["invitees"]] == ["Carl"]
    assert api.get(tenant.path(f"/users/{amy}/referrals"), bob_token).status_code == 403
    assert api.get(tenant.path("/users/usr_x/referrals"), tenant.admin_token).status_code == 404
    assert api.get(tenant.path("/referrals/me")).status_code == 401
    audit_clean(store, t)


def test_an_unknown_invite_code_registers_nobody(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    before = snapshot(store, tenant.tenant_id)
    answer = api.post(
        tenant.path("/register"),
        json={"email": "x@shop.test", "password": "password-123", "invite_code": "NOSUCH00"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "invite_code"
    assert snapshot(store, tenant.tenant_id) == before
