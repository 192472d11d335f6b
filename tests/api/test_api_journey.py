"""One consumer's whole journey over real HTTP, every step through the public API (SQLite and
PostgreSQL): invited registration, a purchase paid on the sandbox gateway, completion, rewards
and the referrer's commission booked, a settled day's dividend, sell, convert, paying with stable
points, and a withdrawal approved by an admin — then the ledger audits clean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from mall_api import Api, TenantFixture, make_tenant, ok
from orders_helpers import audit_clean, checkout, sandbox_pay
from wallet_helpers import invite_code, register, verify_kyc


def wallet(api: Api, t: TenantFixture, token: str) -> dict[str, Any]:
    return dict(ok(api.get(t.path("/wallet"), token)))


def d(text: str) -> Decimal:
    return Decimal(text)


def test_a_consumers_journey_end_to_end(api: Api, operator_token: str, server: Any) -> None:
    t = make_tenant(api, operator_token, params={"commission_rates": ["0.05"]})
    # the fixture's consumer (verified: only verified inviters earn) invites a friend, who
    # registers from the invite code
    verify_kyc(api, t, t.consumer_id)
    code = invite_code(api, t, t.consumer_token)
    friend_id, friend = register(api, t, "friend@shop.test", code, name="Friend")
    referrals = ok(api.get(t.path("/referrals/me"), t.consumer_token))
    assert [i["display_name"] for i in referrals["invitees"]] == ["Friend"]

    # the friend buys two bottles (30.00 of each to the pool) and pays on the sandbox page
    done = checkout(api, t, [(t.sku_id, 2)], token=friend, payment_method="money")
    (payment,) = done["payments"]
    assert sandbox_pay(api, payment["redirect_url"]).status_code == 200
    order_id = done["orders"][0]["order_id"]
    assert ok(api.get(t.path(f"/orders/{order_id}"), friend))["status"] == "paid"
    # grant_on = completed: nothing booked until the return window is over
    assert d(wallet(api, t, friend)["points"]) == 0
    ok(api.post(t.path(f"/orders/{order_id}/ship"), t.merchant_token, json={"carrier": "SF"}))
    ok(api.post(t.path(f"/orders/{order_id}/confirm"), friend))
    ok(api.patch(t.path("/order-settings"), t.admin_token, json={"return_window_days": 0}))
    ok(api.post(t.path("/orders/run-due"), t.admin_token))
    finished = ok(api.get(t.path(f"/orders/{order_id}"), friend))
    assert finished["status"] == "completed"
    assert finished["rewards"]["booked"] is True
    # 0.70 × 60.00 at the initial price 1.00: 42 points; quota 2 × 200.00
    mine = wallet(api, t, friend)
    assert d(mine["points"]) == 42
    assert d(mine["quota_total"]) == 400
    assert d(mine["quota_left"]) == 400
    assert mine["backed_by"]["pool"] == "60.00"
    # the inviter: 10% referral points (6) and a 5% commission (10.00) released at completion
    inviter = wallet(api, t, t.consumer_token)
    assert d(inviter["points"]) == 6
    assert d(inviter["cash"]) == 10

    # an admin settles yesterday: the whole dividend pool (30% of 200.00) to the only holder
    # with quota left
    yesterday = (datetime.now(UTC) + timedelta(hours=8)).date() - timedelta(days=1)
    settled = ok(
        api.post(t.path("/settlements"), t.admin_token, json={"business_date": str(yesterday)})
    )
    assert settled["distributed"] == "60.00"
    assert settled["recipients"] == 1
    mine = wallet(api, t, friend)
    assert d(mine["dividends_received"]) == 60
    assert d(mine["cash"]) == 60
    assert d(mine["quota_left"]) == 340
    days = ok(api.get(t.path("/wallet/dividends"), friend))["items"]
    assert {"business_date": str(yesterday), "amount": "60.00"} in days

    # sell 10 points: the cash grows by exactly what the preview said
    preview = ok(api.get(t.path("/wallet/sell-preview"), friend, params={"points": "10"}))
    sold = ok(api.post(t.path("/wallet/sell"), friend, json={"points": "10"}))
    assert sold["receive"] == preview["receive"]
    assert d(wallet(api, t, friend)["cash"]) == 60 + d(preview["receive"])

    # convert 10 points to stable points: exactly the preview's amount
    preview = ok(api.get(t.path("/wallet/convert-preview"), friend, params={"points": "10"}))
    ok(api.post(t.path("/wallet/convert"), friend, json={"points": "10"}))
    stable = wallet(api, t, friend)["stable"]
    assert stable == preview["receive"]
    assert d(stable) > 0

    # pay part of the next bottle with every stable point, the rest through the gateway
    done = checkout(
        api, t, [(t.sku_id, 1)], token=friend, payment_method="mixed", stable_amount=stable
    )
    (payment,) = done["payments"]
    assert d(payment["amount"]) == 100 - d(stable)
    assert sandbox_pay(api, payment["redirect_url"]).status_code == 200
    assert (
        ok(api.get(t.path(f"/orders/{done['orders'][0]['order_id']}"), friend))["status"] == "paid"
    )
    assert d(wallet(api, t, friend)["stable"]) == 0
    merchant = ok(api.get(t.path(f"/merchants/{t.merchant_id}/wallet"), t.merchant_token))
    assert merchant["stable"] == stable

    # withdraw 5.00 of the cash: held, then paid once an admin approves
    cash = d(wallet(api, t, friend)["cash"])
    verify_kyc(api, t, friend_id)
    asked = ok(api.post(t.path("/withdrawals"), friend, json={"amount": "5.00"}), 201)
    assert asked["status"] == "pending"
    assert d(wallet(api, t, friend)["cash"]) == cash - 5
    approved = ok(api.post(t.path(f"/withdrawals/{asked['withdrawal_id']}/approve"), t.admin_token))
    assert approved["status"] == "paid"
    after = wallet(api, t, friend)
    assert d(after["cash"]) == cash - 5
    assert d(after["cash_withdrawing"]) == 0

    audit_clean(server, t)
