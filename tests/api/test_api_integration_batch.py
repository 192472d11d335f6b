"""The integration API's batch of paid orders over real HTTP (SQLite and PostgreSQL): each order
of a batch is the single paid event (same checks, rewards, idempotency by order), the batch
commits whole, bad input changes nothing, an order the ledger refuses is answered alone."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from test_api_integration import api_key, audit_clean, paid_body, push, snapshot


@pytest.fixture
def paid_tenant(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "paid"})


def order(oid: str, user: str = "U1", amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    return {"external_order_id": oid, **paid_body(user, amount), **extra}


def batch(api: Api, t: TenantFixture, token: str | None, orders: Any, **kw: Any) -> Any:
    return api.post(t.path("/integration/batches/paid"), token, json={"orders": orders}, **kw)


def test_a_batch_books_each_order_like_a_single_push(
    api: Api, paid_tenant: TenantFixture, db_url: str, server_base: str
) -> None:
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    referred = order("B-2", "FAN")
    referred["user"]["referrer_external_id"] = "BOSS"  # BOSS first seen here: made up
    orders = [
        order("B-1", "NEW", contribution="30.00"),
        referred,
        order("B-3", "BOSS", amount="50.00"),  # BOSS again: the user made up by B-2
        order("B-4", "NEW"),  # NEW again: the same user as B-1
        order("B-5", "FAN"),  # FAN's referrer stays BOSS
    ]
    answer = batch(api, t, key, orders)
    body = ok(answer)
    assert answer.headers["Idempotency-Replayed"] == "false"
    results = body["results"]
    assert [r["external_order_id"] for r in results] == [o["external_order_id"] for o in orders]
    assert all(r["status"] == 201 and not r["replayed"] and r["error"] is None for r in results)
    one, two, three, four, five = (r["order"] for r in results)
    assert one["rewards_booked"]
    assert one["rewards"]["pool_contribution"] == "30.00"
    assert one["user"]["user_id"] == four["user"]["user_id"]
    assert two["user"]["user_id"] == five["user"]["user_id"]
    levels = {g["external_id"]: g["level"] for g in two["rewards"]["points_granted"]}
    assert levels == {"FAN": 0, "BOSS": 1}
    levels = {g["external_id"]: g["level"] for g in five["rewards"]["points_granted"]}
    assert levels == {"FAN": 0, "BOSS": 1}
    boss = next(g["user_id"] for g in two["rewards"]["points_granted"] if g["level"] == 1)
    assert three["user"]["user_id"] == boss
    assert three["amount"] == "50.00"
    # prices never fall along the batch
    prices = [r["order"]["rewards"]["price"] for r in results]
    assert [Decimal(p) for p in prices] == sorted(Decimal(p) for p in prices)

    # Each order is there as if pushed alone: GET answers it; pushing it alone again with the
    # same body replays the batch's answer for it, and changes nothing.
    assert ok(api.get(t.path("/integration/orders/B-3"), key))["user"]["user_id"] == boss
    before = snapshot(server_base, db_url, t.tenant_id)
    single = push(api, t, key, "B-1", "paid", paid_body("NEW", contribution="30.00"))
    assert single.status_code == 201
    assert single.headers["Idempotency-Replayed"] == "true"
    assert single.json() == one
    rows = snapshot(server_base, db_url, t.tenant_id)
    assert rows["journals"] == before["journals"]
    assert rows["mall_integration_orders"] == before["mall_integration_orders"]
    assert len(rows["mall_integration_orders"]) == 5
    assert len(rows["mall_external_users"]) == 3
    assert len([e for e in rows["mall_events"] if "order.paid" in e]) == 5
    audit_clean(db_url, t.tenant_id)


def referrers(db_url: str, tenant_id: str) -> dict[str, str | None]:
    """The shop's users' bound referrers as stored: shop id → referrer's shop id."""
    from sqlalchemy import text

    from tokenmall.adapters.db.store import Store

    store = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        with store.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT u.external_id, r.external_id FROM mall_external_users u "
                    "LEFT JOIN mall_external_users r ON r.tenant_id = u.tenant_id "
                    "AND r.user_id = u.referrer_user_id WHERE u.tenant_id = :t"
                ),
                {"t": tenant_id},
            ).all()
        return {row[0]: row[1] for row in rows}
    finally:
        store.dispose()


def test_a_user_made_in_a_batch_is_bound_later_in_it(
    api: Api, operator_token: str, db_url: str
) -> None:
    """A user first seen without a referrer and bound by a later order of the same batch is
    stored bound (its row was still held back when the binding came), as pushes one by one
    would store it; a grandparent made in the batch is named in the rewards."""
    params = {"grant_on": "paid", "referral_rates": ["0.1", "0.05"]}
    t = make_tenant(api, operator_token, params=params)
    key = api_key(api, t, t.admin_token)
    later = order("L-2", "KID")
    later["user"]["referrer_external_id"] = "MOM"  # KID (made in L-1) is bound now
    grand = order("L-4", "BABY")
    grand["user"]["referrer_external_id"] = "KID"  # KID's referrer MOM is BABY's level 2
    body = ok(batch(api, t, key, [order("L-1", "KID"), later, order("L-3", "MOM"), grand]))
    assert [r["status"] for r in body["results"]] == [201, 201, 201, 201]
    grants = {
        g["external_id"]: g["level"]
        for g in body["results"][3]["order"]["rewards"]["points_granted"]
    }
    assert grants == {"BABY": 0, "KID": 1, "MOM": 2}
    assert referrers(db_url, t.tenant_id) == {"KID": "MOM", "MOM": None, "BABY": "KID"}
    # bound once: another referrer later is refused, alone or in a batch
    again = order("L-5", "KID")
    again["user"]["referrer_external_id"] = "BABY"
    refused = ok(batch(api, t, key, [again]))["results"][0]
    assert refused["status"] == 409
    audit_clean(db_url, t.tenant_id)


def test_the_batch_key_replays_and_conflicts(
    api: Api, paid_tenant: TenantFixture, db_url: str, server_base: str
) -> None:
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    orders = [order("K-1"), order("K-2", "U2")]
    first = ok(batch(api, t, key, orders, key="batch-key"))
    before = snapshot(server_base, db_url, t.tenant_id)
    again = batch(api, t, key, orders, key="batch-key")
    assert again.status_code == 200
    assert again.json() == first
    assert again.headers["Idempotency-Replayed"] == "true"
    other = batch(api, t, key, [order("K-3")], key="batch-key")
    assert other.status_code == 409
    assert other.json()["error"]["field"] == "Idempotency-Key"
    # the same batch under a new key: every order answers its first result, nothing changes
    replayed = ok(batch(api, t, key, orders))
    assert [r["status"] for r in replayed["results"]] == [201, 201]
    assert all(r["replayed"] for r in replayed["results"])
    assert [r["order"] for r in replayed["results"]] == [r["order"] for r in first["results"]]
    after = snapshot(server_base, db_url, t.tenant_id)
    assert len(after.pop("mall_idempotency")) == len(before.pop("mall_idempotency")) + 1
    assert after == before
    audit_clean(db_url, t.tenant_id)


def test_refused_and_conflicting_orders_are_answered_alone(
    api: Api, paid_tenant: TenantFixture, db_url: str, server_base: str
) -> None:
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    bound = paid_body("FAN")
    bound["user"]["referrer_external_id"] = "BOSS"
    ok(push(api, t, key, "P-1", "paid", bound), 201)
    ok(push(api, t, key, "P-2", "paid", paid_body("OTHER")), 201)
    rebind = order("Q-2", "FAN")
    rebind["user"]["referrer_external_id"] = "OTHER"  # FAN is bound to BOSS: the ledger refuses
    orders = [
        order("Q-1", "U1"),
        rebind,
        order("P-2", "OTHER", amount="99.00"),  # P-2 was paid with another body: a conflict
        order("P-1", "FAN") | {"user": bound["user"]},  # P-1 exactly as before: replayed
        order("Q-3", "U3"),
    ]
    body = ok(batch(api, t, key, orders))
    statuses = [(r["external_order_id"], r["status"], r["replayed"]) for r in body["results"]]
    assert statuses == [
        ("Q-1", 201, False),
        ("Q-2", 409, False),
        ("P-2", 409, False),
        ("P-1", 201, True),
        ("Q-3", 201, False),
    ]
    refused = body["results"][1]
    assert refused["order"] is None
    assert "already bound" in refused["error"]["message"]
    assert "different request" in body["results"][2]["error"]["message"]
    assert api.get(t.path("/integration/orders/Q-2"), key).status_code == 404
    assert ok(api.get(t.path("/integration/orders/P-2"), key))["amount"] == "100.00"
    assert ok(api.get(t.path("/integration/orders/Q-3"), key))["state"] == "paid"
    rows = snapshot(server_base, db_url, t.tenant_id)
    assert len(rows["mall_integration_orders"]) == 4  # P-1, P-2, Q-1, Q-3
    audit_clean(db_url, t.tenant_id)


@pytest.mark.parametrize(
    ("orders", "field"),
    [
        ([order("A-1"), order("A-2", amount="-1.00")], "orders.1.amount"),
        ([order("A-1"), order("A-2", amount="0")], "orders.1.amount"),
        ([order("A-1", amount="1e3")], "orders.0.amount"),
        ([order("A-1", amount="10000000000.01")], "orders.0.amount"),
        ([order("A-1") | {"amount": 100}], "orders.0.amount"),
        ([order("A-1", contribution="200.00")], "orders.0.contribution"),
        ([order("A-1"), order("bad id!")], "orders.1.external_order_id"),
        ([order("A-1"), order("A-2", user="bad id!")], "orders.1.user.external_id"),
        ([order("A-1"), order("A-1", user="U2")], "orders.1.external_order_id"),
        ([order("A-1", extra="x")], "orders.0.extra"),
        ([], "orders"),
        ([order(f"A-{n}") for n in range(101)], "orders"),
        ([{"user": {"external_id": "U1"}, "amount": "1.00"}], "orders.0.external_order_id"),
    ],
)
def test_bad_input_refuses_the_whole_batch_and_changes_nothing(
    api: Api, paid_tenant: TenantFixture, orders: Any, field: str, db_url: str, server_base: str
) -> None:
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    before = snapshot(server_base, db_url, t.tenant_id)
    answer = batch(api, t, key, orders)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert snapshot(server_base, db_url, t.tenant_id) == before
    assert batch(api, t, key, [order("A-9")], key=None).status_code == 400
    not_a_list = api.post(t.path("/integration/batches/paid"), key, json={"orders": {"x": 1}})
    assert not_a_list.status_code == 422
    assert snapshot(server_base, db_url, t.tenant_id) == before


def test_roles_and_tenants(
    api: Api,
    paid_tenant: TenantFixture,
    other_tenant: TenantFixture,
    db_url: str,
    server_base: str,
) -> None:
    t = paid_tenant
    before = snapshot(server_base, db_url, t.tenant_id)
    merchant_key = api_key(api, t, t.merchant_token)
    for token in (t.consumer_token, merchant_key):
        assert batch(api, t, token, [order("X-1")]).status_code == 403
    other_key = api_key(api, other_tenant, other_tenant.admin_token)
    assert batch(api, t, other_key, [order("X-1")]).status_code == 404
    assert batch(api, t, None, [order("X-1")]).status_code == 401
    after = snapshot(server_base, db_url, t.tenant_id)
    assert after["journals"] == before["journals"]
    assert after["mall_integration_orders"] == []
    assert after["mall_external_users"] == []


def test_concurrent_batches_and_single_pushes_book_each_order_once(
    api: Api, paid_tenant: TenantFixture, db_url: str, server_base: str
) -> None:
    """Overlapping batches and single pushes of the same orders at once: every order is
    booked once, each answer is its first result, the first-seen user is made once."""
    t = paid_tenant
    key = api_key(api, t, t.admin_token)
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    orders = [order(f"C-{n}", "SHARED") for n in range(8)]

    def send(path: str, body: Any) -> None:
        with httpx.Client(base_url=server_base, timeout=60) as http:
            answer = http.post(
                t.path(path),
                json=body,
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex},
            )
        with lock:
            answers.append(answer)

    jobs: list[tuple[str, Any]] = [
        ("/integration/batches/paid", {"orders": orders}),
        ("/integration/batches/paid", {"orders": orders[4:] + orders[:2]}),
        ("/integration/batches/paid", {"orders": orders[::-1]}),
    ]
    jobs += [
        (f"/integration/orders/{o['external_order_id']}/paid", paid_body("SHARED"))
        for o in orders[1:5]
    ]
    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    seen: dict[str, Any] = {}
    for answer in answers:
        payload = answer.json()
        found = [r["order"] for r in payload["results"]] if "results" in payload else [payload]
        if "results" in payload:
            assert all(r["status"] == 201 for r in payload["results"]), payload
        for one in found:
            first = seen.setdefault(one["external_order_id"], one)
            assert one == first  # every answer for an order is its first result
    assert sorted(seen) == sorted(o["external_order_id"] for o in orders)
    assert len({one["user"]["user_id"] for one in seen.values()}) == 1
    rows = snapshot(server_base, db_url, t.tenant_id)
    assert len(rows["mall_integration_orders"]) == 8
    assert len(rows["mall_external_users"]) == 1
    audit_clean(db_url, t.tenant_id)


def test_a_batch_for_a_tenant_granting_on_completion(
    api: Api, operator_token: str, db_url: str
) -> None:
    """``grant_on = completed``: the batch records the money in escrow, no rewards yet; each
    order's ``completed`` event books them as for an order pushed alone."""
    t = make_tenant(api, operator_token, params={"grant_on": "completed"})
    key = api_key(api, t, t.admin_token)
    body = ok(batch(api, t, key, [order("W-1", "U1"), order("W-2", "U2", amount="20.00")]))
    assert [r["status"] for r in body["results"]] == [201, 201]
    for result in body["results"]:
        assert result["order"]["rewards_booked"] is False
        assert result["order"]["rewards"] is None
        assert result["order"]["state"] == "paid"
    done = ok(push(api, t, key, "W-2", "completed"))
    assert done["rewards_booked"] is True
    assert done["state"] == "completed"
    assert done["rewards"]["points_granted"][0]["external_id"] == "U2"
    refunded = ok(push(api, t, key, "W-1", "refunded"))
    assert refunded["state"] == "refunded"
    assert refunded["refunded"] == "100.00"
    audit_clean(db_url, t.tenant_id)
