"""The integration API over real HTTP (SQLite and PostgreSQL): an existing shop pushes its
orders' paid/completed/refunded events with its own ids and gets the rewards back."""

from __future__ import annotations

from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok

from tokenmall.adapters.db.store import Store
from tokenmall.services.ledger.audit import audit


def api_key(api: Api, t: TenantFixture, token: str) -> str:
    created = ok(api.post(t.path("/api-keys"), token, json={"name": "shop"}), 201)
    return str(created["token"])


@pytest.fixture
def paid_tenant(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "paid"})


@pytest.fixture
def completed_tenant(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "completed"})


def push(
    api: Api,
    t: TenantFixture,
    token: str | None,
    order: str,
    event: str,
    body: Any = None,
    **kw: Any,
) -> Any:
    return api.post(t.path(f"/integration/orders/{order}/{event}"), token, json=body, **kw)


def paid_body(user: str = "U1", amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    return {
        "user": {"external_id": user, "display_name": f"Shop user {user}"},
        "amount": amount,
        **extra,
    }


def snapshot(server_url: str, db_url: str, tenant_id: str) -> dict[str, Any]:
    """Every row of the tenant that an event could change (ledger and integration tables)."""
    from sqlalchemy import text

    store = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        out: dict[str, Any] = {}
        with store.read() as conn:
            for table in (
                "journals",
                "postings",
                "holders",
                "economy_state",
                "mall_users",
                "mall_external_users",
                "mall_integration_orders",
                "mall_integration_events",
                "mall_events",
                "mall_idempotency",
            ):
                rows = conn.execute(
                    text(f"SELECT * FROM {table} WHERE tenant_id = :t"), {"t": tenant_id}
                ).all()
                out[table] = sorted(repr(tuple(r)) for r in rows)
        return out
    finally:
        store.dispose()


def audit_clean(db_url: str, tenant_id: str) -> None:
    store = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        (report,) = audit(store, tenant_id)
        assert report.findings == []
    finally:
        store.dispose()


def test_paid_books_rewards_at_once_when_grant_on_paid(
    api: Api, paid_tenant: TenantFixture, db_url: str, server_base: str
) -> None:
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    first = push(api, t, key, "A-1001", "paid", paid_body("U1", contribution="30.00"))
    body = ok(first, 201)
    assert first.headers["Idempotency-Replayed"] == "false"
    assert body["state"] == "paid"
    assert body["rewards_booked"] is True
    assert body["amount"] == "100.00"
    assert body["contribution"] == "30.00"
    rewards = body["rewards"]
    assert rewards["pool_contribution"] == "30.00"
    (grant,) = rewards["points_granted"]
    assert grant["external_id"] == "U1"
    assert grant["level"] == 0
    assert grant["points"] == rewards["buyer_points"]
    assert grant["points"] != "0.00000000"
    assert rewards["quota_added"] == "200.00"
    # the same event again (another Idempotency-Key): the first answer, nothing changed
    before = snapshot(server_base, db_url, t.tenant_id)
    again = push(api, t, key, "A-1001", "paid", paid_body("U1", contribution="30.00"))
    assert again.status_code == 201
    assert again.json() == body
    assert again.headers["Idempotency-Replayed"] == "true"
    after = snapshot(server_base, db_url, t.tenant_id)
    after.pop("mall_idempotency"), before.pop("mall_idempotency")
    assert after == before
    # same order id, different amount: 409 and nothing changed
    conflict = push(api, t, key, "A-1001", "paid", paid_body("U1", amount="99.00"))
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["error"]["code"] == "conflict"
    assert snapshot(server_base, db_url, t.tenant_id)["journals"] == before["journals"]
    got = ok(api.get(t.path("/integration/orders/A-1001"), key))
    assert got["rewards"] == rewards
    assert got["event"] is None
    audit_clean(db_url, t.tenant_id)


def test_same_idempotency_key_replays_the_first_answer(
    api: Api, paid_tenant: TenantFixture
) -> None:
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    first = ok(push(api, t, key, "K-1", "paid", paid_body(), key="same-key"), 201)
    again = push(api, t, key, "K-1", "paid", paid_body(), key="same-key")
    assert again.json() == first
    assert again.headers["Idempotency-Replayed"] == "true"
    other = push(api, t, key, "K-2", "paid", paid_body(), key="same-key")
    assert other.status_code == 409


def test_referrers_are_bound_once_and_get_points(
    api: Api, paid_tenant: TenantFixture, db_url: str
) -> None:
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    ok(push(api, t, key, "R-0", "paid", paid_body("BOSS")), 201)
    body = paid_body("FAN")
    body["user"]["referrer_external_id"] = "BOSS"
    answer = ok(push(api, t, key, "R-1", "paid", body), 201)
    levels = {g["external_id"]: g["level"] for g in answer["rewards"]["points_granted"]}
    assert levels["FAN"] == 0
    assert levels.get("BOSS") == 1
    # a different referrer later is the ledger's refusal (bound once), nothing changes
    ok(push(api, t, key, "R-2", "paid", paid_body("OTHER")), 201)
    body = paid_body("FAN")
    body["user"]["referrer_external_id"] = "OTHER"
    refused = push(api, t, key, "R-3", "paid", body)
    assert refused.status_code == 409
    assert "already bound" in refused.json()["error"]["message"]
    assert api.get(t.path("/integration/orders/R-3"), key).status_code == 404
    audit_clean(db_url, t.tenant_id)


def test_completed_books_rewards_when_grant_on_completed(
    api: Api, completed_tenant: TenantFixture, db_url: str
) -> None:
    t = completed_tenant
    key = api_key(api, t, t.admin_token)
    # out of order: completed before paid
    early = push(api, t, key, "C-1", "completed")
    assert early.status_code == 409
    assert "not been reported paid" in early.text
    paid = ok(push(api, t, key, "C-1", "paid", paid_body("U7")), 201)
    assert paid["rewards_booked"] is False
    assert paid["rewards"] is None
    done = ok(push(api, t, key, "C-1", "completed"))
    assert done["state"] == "completed"
    assert done["rewards_booked"] is True
    assert done["rewards"]["points_granted"][0]["external_id"] == "U7"
    again = push(api, t, key, "C-1", "completed", {})
    assert again.status_code == 200
    assert again.json() == done
    audit_clean(db_url, t.tenant_id)


def test_refund_before_booking_returns_escrow(
    api: Api, completed_tenant: TenantFixture, db_url: str
) -> None:
    t = completed_tenant
    key = api_key(api, t, t.admin_token)
    ok(push(api, t, key, "F-1", "paid", paid_body()), 201)
    partial = push(api, t, key, "F-1", "refunded", {"amount": "10.00"})
    assert partial.status_code == 422
    refunded = ok(push(api, t, key, "F-1", "refunded"))
    assert refunded["state"] == "refunded"
    assert refunded["refunded"] == "100.00"
    assert refunded["rewards_booked"] is False
    late = push(api, t, key, "F-1", "completed")
    assert late.status_code == 409
    audit_clean(db_url, t.tenant_id)


def test_refund_after_booking_needs_an_adjustment(
    api: Api, paid_tenant: TenantFixture, db_url: str, server_base: str
) -> None:
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    ok(push(api, t, key, "B-1", "paid", paid_body()), 201)
    before = snapshot(server_base, db_url, t.tenant_id)
    refused = push(api, t, key, "B-1", "refunded", {"amount": "20.00"})
    assert refused.status_code == 409
    assert "adjustment" in refused.json()["error"]["message"]
    after = snapshot(server_base, db_url, t.tenant_id)
    assert after == before
    adjusted = ok(push(api, t, key, "B-1", "refunded", {"amount": "20.00", "adjustment": True}))
    assert adjusted["refunded"] == "20.00"
    assert adjusted["rewards_booked"] is True
    audit_clean(db_url, t.tenant_id)


def test_roles_and_tenants(
    api: Api, paid_tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    t = paid_tenant
    ok(push(api, t, api_key(api, t, t.admin_token), "X-1", "paid", paid_body()), 201)
    merchant_key = api_key(api, t, t.merchant_token)
    for token in (t.consumer_token, merchant_key):
        answer = push(api, t, token, "X-2", "paid", paid_body())
        assert answer.status_code == 403, answer.text
        assert api.get(t.path("/integration/orders/X-1"), token).status_code == 403
    other_key = api_key(api, other_tenant, other_tenant.admin_token)
    assert push(api, t, other_key, "X-3", "paid", paid_body()).status_code == 404
    assert api.get(t.path("/integration/orders/X-1"), other_key).status_code == 404
    assert push(api, t, None, "X-4", "paid", paid_body()).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (paid_body(amount="-1.00"), "amount"),
        (paid_body(amount="0"), "amount"),
        (paid_body(amount="abc"), "amount"),
        (paid_body(amount="1e3"), "amount"),
        (paid_body(amount="10000000000.01"), "amount"),
        ({"user": {"external_id": "U1"}, "amount": 100}, "amount"),
        ({"user": {"external_id": "U1"}}, "amount"),
        (paid_body(extra="x"), "extra"),
        (paid_body(contribution="200.00"), "contribution"),
        ({"user": {"external_id": "bad id!"}, "amount": "1.00"}, "user.external_id"),
        (
            {"user": {"external_id": "U1", "referrer_external_id": "U1"}, "amount": "1.00"},
            "user.referrer_external_id",
        ),
    ],
)
def test_bad_input_changes_nothing(
    api: Api, tenant: TenantFixture, body: Any, field: str, db_url: str, server_base: str
) -> None:
    key = api_key(api, tenant, tenant.admin_token)
    before = snapshot(server_base, db_url, tenant.tenant_id)
    answer = push(api, tenant, key, "BAD-1", "paid", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert snapshot(server_base, db_url, tenant.tenant_id) == before
    missing_key = push(api, tenant, key, "BAD-1", "paid", paid_body(), key=None)
    assert missing_key.status_code == 400


def test_concurrent_pushes_of_one_event_book_it_once(
    api: Api, paid_tenant: TenantFixture, db_url: str, server_base: str
) -> None:
    import threading

    import httpx

    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def push_one(order: str, user: str) -> None:
        with httpx.Client(base_url=server_base, timeout=30) as http:
            answer = http.post(
                t.path(f"/integration/orders/{order}/paid"),
                json=paid_body(user),
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid4().hex},
            )
        with lock:
            answers.append(answer)

    from uuid import uuid4

    # the same order 6 times at once, and 6 orders of one first-seen user at once
    jobs = [("SAME-1", "NEW-A")] * 6 + [(f"MANY-{n}", "NEW-B") for n in range(6)]
    threads = [threading.Thread(target=push_one, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    same = [a.json() for a in answers if a.json()["external_order_id"] == "SAME-1"]
    assert all(body == same[0] for body in same)
    users = {
        a.json()["user"]["user_id"] for a in answers if a.json()["user"]["external_id"] == "NEW-B"
    }
    assert len(users) == 1
    rows = snapshot(server_base, db_url, t.tenant_id)
    assert len(rows["mall_integration_orders"]) == 7
    assert len(rows["mall_external_users"]) == 2
    audit_clean(db_url, t.tenant_id)
