"""Withdrawals over real HTTP: KYC required, approval by an admin, two distinct admins above the
tenant's threshold, never by the requester, rejection returns the cash; bad input changes
nothing; ``audit`` is clean after."""

from __future__ import annotations

from typing import Any

import pytest
from mall_api import Api, TenantFixture, login, ok
from sqlalchemy import select
from wallet_helpers import audit_clean, buy, second_admin, snapshot, store_of, verify_kyc

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state
from tokenmall.domain.money import format_money, parse_money


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def cash_up(api: Api, tenant: TenantFixture, store: Store, user: str, token: str) -> int:
    """Give ``user`` cash: a 200.00 order booked, then every point sold back. Returns fen."""
    buy(store, tenant.tenant_id, user, 20_000)
    wallet = ok(api.get(tenant.path("/wallet"), token))
    ok(api.post(tenant.path("/wallet/sell"), token, json={"points": wallet["points"]}))
    return parse_money(ok(api.get(tenant.path("/wallet"), token))["cash"])


def aggregates(store: Store, tenant_id: str) -> tuple[int, int]:
    with store.read() as conn:
        row = conn.execute(
            select(economy_state.c.withdrawing, economy_state.c.withdrawn).where(
                economy_state.c.tenant_id == tenant_id
            )
        ).one()
    return int(row[0]), int(row[1])


def test_settings_are_the_admins_and_kyc_is_required_by_default(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    path = tenant.path("/withdrawal-settings")
    settings = ok(api.get(path, tenant.admin_token))
    assert settings["requires_kyc"] is True
    assert settings["min_amount"] == "1.00"
    assert settings["two_approver_threshold"] == "5000.00"
    assert api.get(path, tenant.consumer_token).status_code == 403
    assert api.patch(path, tenant.consumer_token, json={"min_amount": "2.00"}).status_code == 403
    for bad in (
        {"min_amount": "0"},
        {"min_amount": 1},
        {"two_approver_threshold": "-5.00"},
        {"two_approver_threshold": "abc"},
        {"requires_kyc": "no"},
        {"x": 1},
        {},
    ):
        assert api.patch(path, tenant.admin_token, json=bad).status_code == 422, bad
    assert ok(api.get(path, tenant.admin_token)) == settings

    cash = cash_up(api, tenant, store, tenant.consumer_id, tenant.consumer_token)
    assert cash > 1_000
    before = snapshot(store, tenant.tenant_id)
    refused = api.post(tenant.path("/withdrawals"), tenant.consumer_token, json={"amount": "5.00"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "kyc_required"
    assert snapshot(store, tenant.tenant_id) == before

    changed = ok(api.patch(path, tenant.admin_token, json={"requires_kyc": False}))
    assert changed["requires_kyc"] is False
    assert changed["updated_by"] == tenant.admin_id
    made = ok(
        api.post(tenant.path("/withdrawals"), tenant.consumer_token, json={"amount": "5.00"}), 201
    )
    assert made["status"] == "pending"
    audit_clean(store, tenant.tenant_id)


def test_approval_two_distinct_admins_above_the_threshold_never_oneself(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t, me, token = tenant.tenant_id, tenant.consumer_id, tenant.consumer_token
    admin2, admin2_token = second_admin(api, tenant)
    ok(
        api.patch(
            tenant.path("/withdrawal-settings"),
            tenant.admin_token,
            json={"two_approver_threshold": "20.00"},
        )
    )
    verify_kyc(api, tenant, me)
    cash = cash_up(api, tenant, store, me, token)

    # below the threshold: one admin's approval pays it out
    small = ok(api.post(tenant.path("/withdrawals"), token, json={"amount": "10.00"}), 201)
    assert small["approvals_required"] == 1
    assert small["amount"] == "10.00"
    wallet = ok(api.get(tenant.path("/wallet"), token))
    assert parse_money(wallet["cash"]) == cash - 1_000
    assert wallet["cash_withdrawing"] == "10.00"
    assert aggregates(store, t) == (1_000, 0)
    approve = tenant.path(f"/withdrawals/{small['withdrawal_id']}/approve")
    assert api.post(approve, token).status_code == 403  # consumers do not approve
    paid = ok(api.post(approve, tenant.admin_token))
    assert paid["status"] == "paid"
    assert paid["approved_by"] == [tenant.admin_id]
    assert paid["decided_by"] == tenant.admin_id
    assert aggregates(store, t) == (0, 1_000)
    assert api.post(approve, admin2_token).status_code == 409  # already paid

    # above it: two different admins
    big = ok(api.post(tenant.path("/withdrawals"), token, json={"amount": "30.00"}), 201)
    assert big["approvals_required"] == 2
    approve = tenant.path(f"/withdrawals/{big['withdrawal_id']}/approve")
    first = ok(api.post(approve, tenant.admin_token))
    assert first["status"] == "pending"
    assert first["approved_by"] == [tenant.admin_id]
    before = snapshot(store, t)
    again = api.post(approve, tenant.admin_token)
    assert again.status_code == 409  # the same admin twice is not two approvers
    assert snapshot(store, t) == before
    done = ok(api.post(approve, admin2_token))
    assert done["status"] == "paid"
    assert done["approved_by"] == [tenant.admin_id, admin2]
    assert aggregates(store, t) == (0, 4_000)
    wallet = ok(api.get(tenant.path("/wallet"), token))
    assert parse_money(wallet["cash"]) == cash - 4_000
    assert wallet["cash_withdrawing"] == "0.00"

    # an admin's own withdrawal: they cannot approve (or reject) it, nor can an admin they
    # created; an admin someone else created can
    _, admin3_token = admin_made_by(api, tenant, admin2_token, "admin3@shop.test")
    verify_kyc(api, tenant, tenant.admin_id)
    cash_up(api, tenant, store, tenant.admin_id, tenant.admin_token)
    own = ok(
        api.post(tenant.path("/withdrawals"), tenant.admin_token, json={"amount": "3.00"}), 201
    )
    before = snapshot(store, t)
    path = tenant.path(f"/withdrawals/{own['withdrawal_id']}")
    assert api.post(path + "/approve", tenant.admin_token).status_code == 403
    rej = api.post(path + "/reject", tenant.admin_token, json={"reason": "mine"})
    assert rej.status_code == 403
    assert snapshot(store, t) == before
    assert api.post(path + "/approve", admin2_token).status_code == 403
    assert snapshot(store, t) == before
    assert ok(api.post(path + "/approve", admin3_token))["status"] == "paid"

    # lists: consumers see their own, admins all and by status
    mine = ok(api.get(tenant.path("/withdrawals"), token))["items"]
    assert {w["withdrawal_id"] for w in mine} == {small["withdrawal_id"], big["withdrawal_id"]}
    every = ok(api.get(tenant.path("/withdrawals?status=paid"), tenant.admin_token))["items"]
    assert len(every) == 3
    assert (
        ok(api.get(tenant.path("/withdrawals?status=pending"), tenant.admin_token))["items"] == []
    )
    assert api.get(tenant.path("/withdrawals?status=odd"), tenant.admin_token).status_code == 422
    page = ok(api.get(tenant.path("/withdrawals?limit=2"), tenant.admin_token))
    assert len(page["items"]) == 2
    assert page["next_after"] == page["items"][1]["withdrawal_id"]
    assert api.get(path, token).status_code == 404  # not theirs
    assert ok(api.get(path, tenant.admin_token))["user_id"] == tenant.admin_id
    audit_clean(store, t)


def admin_made_by(api: Api, tenant: TenantFixture, token: str, email: str) -> tuple[str, str]:
    """An admin created by the admin of ``token``, and their session."""
    user = ok(
        api.post(
            tenant.path("/users"),
            token,
            json={"email": email, "password": "admin3-password", "role": "admin"},
        ),
        201,
    )
    return user["user_id"], login(api, tenant.tenant_id, email, "admin3-password")


def test_rejection_returns_the_cash(api: Api, tenant: TenantFixture, store: Store) -> None:
    t, me, token = tenant.tenant_id, tenant.consumer_id, tenant.consumer_token
    verify_kyc(api, tenant, me)
    cash = cash_up(api, tenant, store, me, token)
    made = ok(api.post(tenant.path("/withdrawals"), token, json={"amount": "20.00"}), 201)
    path = tenant.path(f"/withdrawals/{made['withdrawal_id']}")
    before = snapshot(store, t)
    for bad in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 5}, {"reason": "x" * 501}):
        assert api.post(path + "/reject", tenant.admin_token, json=bad).status_code == 422, bad
    assert api.post(path + "/reject", token, json={"reason": "no"}).status_code == 403
    assert snapshot(store, t) == before
    rejected = ok(api.post(path + "/reject", tenant.admin_token, json={"reason": "bank refused"}))
    assert rejected["status"] == "rejected"
    assert rejected["reason"] == "bank refused"
    assert parse_money(ok(api.get(tenant.path("/wallet"), token))["cash"]) == cash
    assert aggregates(store, t) == (0, 0)
    assert api.post(path + "/approve", tenant.admin_token).status_code == 409
    assert api.post(path + "/reject", tenant.admin_token, json={"reason": "x"}).status_code == 409
    missing = tenant.path("/withdrawals/wdr_nobody/approve")
    assert api.post(missing, tenant.admin_token).status_code == 404
    audit_clean(store, t)


def test_bad_withdrawal_requests_change_nothing(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t, me, token = tenant.tenant_id, tenant.consumer_id, tenant.consumer_token
    verify_kyc(api, tenant, me)
    cash = cash_up(api, tenant, store, me, token)
    before = snapshot(store, t)
    bads: list[Any] = [
        "-1.00",
        "0",
        "0.00",
        "0.50",  # below the minimum 1.00
        "1.001",
        "1e3",
        "abc",
        "",
        "１０",
        "99999999999999999.00",
        format_money(cash + 1),  # more than the cash
        10,
        10.5,
        None,
        True,
    ]
    for bad in bads:
        answer = api.post(tenant.path("/withdrawals"), token, json={"amount": bad})
        assert 400 <= answer.status_code < 500, (bad, answer.text)
        assert answer.json()["error"]["message"]
    for body in ({}, {"amount": "5.00", "iban": "x"}, ["5.00"]):
        assert api.post(tenant.path("/withdrawals"), token, json=body).status_code == 422
    no_key = api.post(tenant.path("/withdrawals"), token, json={"amount": "5.00"}, key=None)
    assert no_key.status_code == 400
    assert api.post(tenant.path("/withdrawals"), json={"amount": "5.00"}).status_code == 401
    assert snapshot(store, t) == before
    # a replay of a good request changes nothing more
    first = api.post(tenant.path("/withdrawals"), token, json={"amount": "5.00"}, key="w-1")
    after = snapshot(store, t)
    second = api.post(tenant.path("/withdrawals"), token, json={"amount": "5.00"}, key="w-1")
    assert second.json() == first.json()
    assert second.headers["Idempotency-Replayed"] == "true"
    assert snapshot(store, t) == after
    audit_clean(store, t)
