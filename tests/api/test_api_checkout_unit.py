"""A checkout of given lines paid with money is planned, then written in one pipeline on
PostgreSQL (``services/mall/checkout_unit.py``; SQLite: one transaction a request). Either way
a key replays its first answer, a race of one key makes one order, a refusal leaves nothing
behind, and a SKU locked by another transaction is waited for, holding up no other SKU."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mall_api import Api, make_tenant, ok
from orders_helpers import audit_clean
from sqlalchemy import select, text, update

from tokenmall.adapters.db.mall.tables import sessions


def _stock(api: Api, t: Any, sku_id: str | None = None) -> int:
    return int(ok(api.get(t.path(f"/skus/{sku_id or t.sku_id}"), t.admin_token))["stock"])


def _orders(api: Api, t: Any) -> list[dict[str, Any]]:
    page = ok(api.get(t.path("/orders"), t.consumer_token))
    items: list[dict[str, Any]] = page["items"]
    return items


def test_a_replayed_key_answers_the_first_checkout(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token)
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    before = _stock(api, t)
    first = api.post(t.path("/checkout"), t.consumer_token, json=body, key="buy-1")
    assert first.status_code == 201, first.text
    assert first.headers["Idempotency-Replayed"] == "false"
    again = api.post(t.path("/checkout"), t.consumer_token, json=body, key="buy-1")
    assert again.status_code == 201, again.text
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    other = api.post(
        t.path("/checkout"),
        t.consumer_token,
        json={"lines": [{"sku_id": t.sku_id, "quantity": 2}]},
        key="buy-1",
    )
    assert other.status_code == 409, other.text
    assert _stock(api, t) == before - 1
    assert len(_orders(api, t)) == 1
    audit_clean(server, t)


def test_a_race_of_one_key_makes_one_order(api: Api, operator_token: str, server: Any) -> None:
    t = make_tenant(api, operator_token)
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    before = _stock(api, t)
    base = str(api.http.base_url)

    def attempt(_: int) -> tuple[int, Any]:
        client = Api(base)
        try:
            answer = client.post(t.path("/checkout"), t.consumer_token, json=body, key="same")
            return answer.status_code, answer.json()
        finally:
            client.http.close()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attempt, range(8)))
    assert {status for status, _ in answers} == {201}, answers
    assert len({a["checkout_id"] for _, a in answers}) == 1
    assert _stock(api, t) == before - 1
    assert len(_orders(api, t)) == 1
    audit_clean(server, t)


def test_a_refused_checkout_changes_nothing(api: Api, operator_token: str, server: Any) -> None:
    t = make_tenant(api, operator_token)
    before = _stock(api, t)
    too_many = {"lines": [{"sku_id": t.sku_id, "quantity": before + 1}]}
    refused = api.post(t.path("/checkout"), t.consumer_token, json=too_many, key="too-many")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "out_of_stock"
    assert str(before) in refused.json()["error"]["message"]
    assert _stock(api, t) == before
    assert _orders(api, t) == []
    # Nothing stored under the key: the same request is tried afresh (and refused again).
    again = api.post(t.path("/checkout"), t.consumer_token, json=too_many, key="too-many")
    assert again.status_code == 409, again.text
    assert again.headers.get("Idempotency-Replayed") != "true"
    # The writer goes on with the next checkout.
    fine = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    ok(api.post(t.path("/checkout"), t.consumer_token, json=fine), 201)
    assert _stock(api, t) == before - 1
    audit_clean(server, t)


def test_a_checkout_of_a_locked_sku_waits_for_it_alone(
    api: Api, operator_token: str, server: Any
) -> None:
    """A SKU locked by another transaction (a cancel giving stock back) is waited for, then
    taken; the tenant's checkouts of other SKUs go on meanwhile."""
    if not str(server.settings.database_url).startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite's transactions hold the database's lock)")
    t = make_tenant(api, operator_token)
    other = ok(
        api.post(
            t.path(f"/products/{t.product_id}/skus"),
            t.merchant_token,
            json={"name": "another", "price": "10.00", "stock": 5},
        ),
        201,
    )["sku_id"]
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    before = _stock(api, t)
    engine = server.app.state.database.engine
    with ThreadPoolExecutor(1) as pool, engine.connect() as conn:
        txn = conn.begin()
        conn.execute(
            text("SELECT 1 FROM mall_skus WHERE tenant_id = :t AND sku_id = :s FOR UPDATE"),
            {"t": t.tenant_id, "s": t.sku_id},
        )
        waiting = pool.submit(api.post, t.path("/checkout"), t.consumer_token, body)
        # Another SKU's checkout goes on meanwhile.
        elsewhere = {"lines": [{"sku_id": other, "quantity": 1}]}
        ok(api.post(t.path("/checkout"), t.consumer_token, json=elsewhere), 201)
        time.sleep(0.5)
        assert not waiting.done()  # waiting for the SKU's lock, not refused
        txn.rollback()
        late = waiting.result(timeout=30)
    assert late.status_code == 201, late.text
    assert _stock(api, t) == before - 1
    assert _stock(api, t, other) == 4
    assert len(_orders(api, t)) == 2
    audit_clean(server, t)


def test_a_checkout_with_a_bad_credential_is_refused_and_changes_nothing(
    api: Api, operator_token: str, server: Any
) -> None:
    """The caller is signed in on the checkout's own connection: a bad or revoked credential
    is 401 before anything is read or written."""
    t = make_tenant(api, operator_token)
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    kind, tenant_id, session_id, secret = t.consumer_token.split(".")
    before = (_stock(api, t), _orders(api, t))
    for bad in (
        f"{kind}.{tenant_id}.{session_id}.{secret}x",  # a wrong secret
        f"{kind}.{tenant_id}.ses_nothing.{secret}",  # no such session
        "tms.too.short",
    ):
        answer = api.post(t.path("/checkout"), bad, json=body)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthenticated"
    anonymous = api.post(t.path("/checkout"), None, json=body)
    assert anonymous.status_code == 401, anonymous.text
    assert (_stock(api, t), _orders(api, t)) == before


def test_a_checkout_slides_a_session_near_its_idle_deadline(
    api: Api, operator_token: str, server: Any
) -> None:
    """A session whose idle slide is due is signed in with the checkout's writes (the usual
    way): the order is made and the session's deadline moved in the same transaction."""
    t = make_tenant(api, operator_token)
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    session_id = t.consumer_token.split(".")[2]
    s = sessions.c
    where = (s.tenant_id == t.tenant_id, s.session_id == session_id)
    soon = datetime.now(UTC) + timedelta(minutes=5)  # well past a tenth of the idle time
    db = server.app.state.database
    with db.transaction() as conn:
        conn.execute(update(sessions).where(*where).values(expires_at=soon))
    ok(api.post(t.path("/checkout"), t.consumer_token, json=body), 201)
    with db.read() as conn:
        slid = conn.execute(select(s.expires_at).where(*where)).scalar_one()
    slid = slid.replace(tzinfo=UTC) if slid.tzinfo is None else slid
    idle = timedelta(minutes=server.settings.session_idle_minutes)
    assert slid > datetime.now(UTC) + idle - timedelta(minutes=1)
    assert len(_orders(api, t)) == 1
