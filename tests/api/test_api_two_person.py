"""Two-person control of withdrawals over real HTTP (SQLite and PostgreSQL): an approver is
another person, the threshold cannot be raised just before asking, and every change of roles,
KYC and withdrawal settings is in the audit trail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mall_api import Api, TenantFixture, login, ok
from test_api_withdrawals import cash_up
from wallet_helpers import register, second_admin, snapshot, store_of, verify_kyc

from tokenmall.adapters.db.store import Store


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def admin_withdrawal(api: Api, t: TenantFixture, store: Store, amount: str) -> str:
    """The tenant's first admin asks for a withdrawal of ``amount``; returns its path."""
    verify_kyc(api, t, t.admin_id)
    cash_up(api, t, store, t.admin_id, t.admin_token)
    made = ok(api.post(t.path("/withdrawals"), t.admin_token, json={"amount": amount}), 201)
    return t.path(f"/withdrawals/{made['withdrawal_id']}")


def refused_and_unchanged(
    api: Api, t: TenantFixture, store: Store, path: str, token: str, wanted: str
) -> None:
    before = snapshot(store, t.tenant_id)
    answer = api.post(path + "/approve", token)
    assert answer.status_code == 403, answer.text
    assert wanted in answer.json()["error"]["message"]
    assert snapshot(store, t.tenant_id) == before
    assert ok(api.get(path, t.admin_token))["status"] == "pending"


def test_an_admin_cannot_approve_their_own_withdrawal_with_an_admin_they_created(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    _, b_token = second_admin(api, t)  # A creates admin B
    path = admin_withdrawal(api, t, store, "10.00")
    refused_and_unchanged(api, t, store, path, b_token, "created or made admin")


def test_an_admin_the_requester_promoted_cannot_approve(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    c, c_token = register(api, t, "c@shop.test")
    ok(api.patch(t.path(f"/users/{c}"), t.admin_token, json={"role": "admin"}))
    path = admin_withdrawal(api, t, store, "10.00")
    refused_and_unchanged(api, t, store, path, c_token, "created or made admin")


def test_an_admin_made_after_the_request_cannot_approve(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    me, token = t.consumer_id, t.consumer_token
    verify_kyc(api, t, me)
    cash_up(api, t, store, me, token)
    made = ok(api.post(t.path("/withdrawals"), token, json={"amount": "10.00"}), 201)
    path = t.path(f"/withdrawals/{made['withdrawal_id']}")
    _, late_token = second_admin(api, t, "late@shop.test")
    refused_and_unchanged(api, t, store, path, late_token, "after the withdrawal was requested")
    # An admin of before the request, independent of the requester, approves.
    assert ok(api.post(path + "/approve", t.admin_token))["status"] == "paid"


def test_an_independent_admin_approves_an_admins_withdrawal(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    _, b_token = second_admin(api, t)
    # C is created by B, not by A: independent of A.
    ok(
        api.post(
            t.path("/users"),
            b_token,
            json={"email": "c@shop.test", "password": "c-password-1", "role": "admin"},
        ),
        201,
    )
    c_token = login(api, t.tenant_id, "c@shop.test", "c-password-1")
    path = admin_withdrawal(api, t, store, "10.00")
    assert ok(api.post(path + "/approve", c_token))["status"] == "paid"


def test_raising_the_threshold_just_before_asking_does_not_help(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    settings = t.path("/withdrawal-settings")
    ok(api.patch(settings, t.admin_token, json={"two_approver_threshold": "20.00"}))
    me, token = t.consumer_id, t.consumer_token
    verify_kyc(api, t, me)
    cash_up(api, t, store, me, token)
    # Raised just before asking: the threshold of the cooling window (20.00) still applies.
    ok(api.patch(settings, t.admin_token, json={"two_approver_threshold": "1000.00"}))
    big = ok(api.post(t.path("/withdrawals"), token, json={"amount": "30.00"}), 201)
    assert big["approvals_required"] == 2
    path = t.path(f"/withdrawals/{big['withdrawal_id']}")
    assert ok(api.post(path + "/approve", t.admin_token))["status"] == "pending"


def test_a_threshold_lowered_after_the_request_applies_at_approval(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    settings = t.path("/withdrawal-settings")
    ok(api.patch(settings, t.admin_token, json={"two_approver_threshold": "20.00"}))
    me, token = t.consumer_id, t.consumer_token
    verify_kyc(api, t, me)
    cash_up(api, t, store, me, token)
    small = ok(api.post(t.path("/withdrawals"), token, json={"amount": "10.00"}), 201)
    assert small["approvals_required"] == 1
    ok(api.patch(settings, t.admin_token, json={"two_approver_threshold": "5.00"}))
    path = t.path(f"/withdrawals/{small['withdrawal_id']}")
    first = ok(api.post(path + "/approve", t.admin_token))
    assert first["status"] == "pending"
    assert first["approvals_required"] == 2


def test_role_kyc_and_settings_changes_are_in_the_audit_trail(
    api: Api, tenant: TenantFixture
) -> None:
    t = tenant
    b, _ = second_admin(api, t)
    ok(api.patch(t.path(f"/users/{t.consumer_id}"), t.admin_token, json={"role": "merchant"}))
    verify_kyc(api, t, t.consumer_id)
    ok(api.patch(t.path("/withdrawal-settings"), t.admin_token, json={"requires_kyc": False}))
    trail = ok(api.get(t.path("/audit-trail"), t.admin_token))["items"]
    seen = {(e["action"], e["subject_id"]): e for e in trail}
    created = seen[("user.create", b)]
    assert created["actor_id"] == t.admin_id
    assert created["actor_via"] == "session"
    assert created["before"] is None
    assert created["after"]["role"] == "admin"
    role = seen[("user.role", t.consumer_id)]
    assert (role["before"], role["after"]) == ({"role": "consumer"}, {"role": "merchant"})
    kyc = seen[("user.kyc", t.consumer_id)]
    assert (kyc["before"], kyc["after"]) == ({"kyc_status": "none"}, {"kyc_status": "verified"})
    changed = seen[("settings.withdrawal", t.tenant_id)]
    assert changed["before"]["requires_kyc"] is True
    assert changed["after"]["requires_kyc"] is False
    assert all(e["at"] for e in trail)
    # Newest first; only admins read it.
    assert trail[0]["action"] == "settings.withdrawal"
    assert api.get(t.path("/audit-trail"), t.consumer_token).status_code == 403
    one = ok(api.get(t.path(f"/audit-trail?subject_id={b}"), t.admin_token))["items"]
    assert [e["action"] for e in one] == ["user.create"]


def test_a_refused_change_leaves_no_audit_entry(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    before = ok(api.get(t.path("/audit-trail"), t.admin_token))["items"]
    bad = api.patch(t.path(f"/users/{t.consumer_id}"), t.admin_token, json={"role": "king"})
    assert bad.status_code == 422
    own = api.patch(t.path(f"/users/{t.admin_id}"), t.admin_token, json={"role": "consumer"})
    assert own.status_code == 403
    assert ok(api.get(t.path("/audit-trail"), t.admin_token))["items"] == before


def test_the_console_shows_the_trail_keys_and_flags(api: Api, tenant: TenantFixture) -> None:
    t = tenant
    second_admin(api, t)
    key = ok(
        api.post(t.path("/api-keys"), t.admin_token, json={"name": "erp", "scopes": ["read"]}),
        201,
    )
    page = console_get(api, f"/{t.tenant_id}/admin/access?lang=en", t.admin_token)
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-action="user.create"' in html
    assert 'data-action="api_key.create"' in html
    assert f'data-key="{key["key"]["key_id"]}"' in html
    assert '<span class="tag">read</span>' in html
    assert "Self-referral flags" in html
    refused = console_get(api, f"/{t.tenant_id}/admin/access", t.consumer_token)
    assert refused.status_code in (403, 404)
    assert "<td>admin2</td>" in html  # the new admin, by name, as the subject of an entry


def console_get(api: Api, path: str, session: str) -> httpx.Response:
    with httpx.Client(base_url=str(api.http.base_url), cookies={"tokenmall_session": session}) as c:
        return c.get(path)
