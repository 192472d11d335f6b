"""Races over real HTTP, 40 requests at once (threads against the server): no answer is a 500,
the loser of each race gets a documented 409, and the books stay consistent (audit clean).

* cancel vs the gateway's ``payment.succeeded`` (every use case locks the order row first);
* identical integration ``refunded``/``completed`` pushes (read again and replay);
* parallel approvals of one refund (one wins, the others 409);
* shipping vs a refund request (a pending refund blocks shipping, under concurrency too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import httpx
from mall_api import Api, TenantFixture, make_tenant, ok
from orders_helpers import (
    audit_clean,
    checkout,
    order,
    paid_order,
    signed_webhook,
    store_of,
    success_event,
)
from sqlalchemy import select
from test_api_market_races import _all_at_once
from wallet_helpers import second_admin

from tokenmall.adapters.db.mall.orders import order_events

WAYS = 40


def _restock(api: Api, t: TenantFixture, units: int = 200) -> None:
    path = t.path(f"/skus/{t.sku_id}/stock-movements")
    ok(api.post(path, t.merchant_token, json={"change": units, "reason": "restock"}), 201)


def _codes(answers: list[httpx.Response]) -> list[tuple[int, str]]:
    out = []
    for a in answers:
        error = a.json().get("error") if a.content else None
        out.append((a.status_code, "" if not isinstance(error, dict) else str(error["code"])))
    return out


def _ms(made_id: str) -> str:
    """The milliseconds part of an id (``services/mall/ids.py``): sortable as text."""
    return made_id.split("_", 1)[1][:10]


def _shipped_event(server: Any, t: TenantFixture, order_id: str) -> str:
    e = order_events
    with store_of(server).read() as conn:
        return str(
            conn.execute(
                select(e.c.event_id).where(
                    e.c.tenant_id == t.tenant_id,
                    e.c.order_id == order_id,
                    e.c.to_status == "shipped",
                )
            ).scalar_one()
        )


def _no_500(answers: list[httpx.Response]) -> None:
    assert [a.text for a in answers if a.status_code >= 500] == []


def test_cancel_against_payment_succeeded_never_deadlocks(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    _restock(api, t)
    placed = [checkout(api, t, [(t.sku_id, 1)]) for _ in range(WAYS // 2)]
    calls: list[Callable[[Api], httpx.Response]] = []
    for done in placed:
        order_id, payment = done["orders"][0]["order_id"], done["payments"][0]
        event = success_event(payment)

        def cancel(c: Api, order_id: str = order_id) -> httpx.Response:
            return c.post(t.path(f"/orders/{order_id}/cancel"), t.consumer_token)

        def pay(c: Api, event: dict[str, Any] = event) -> httpx.Response:
            return signed_webhook(c, server, event)

        calls += [cancel, pay]
    answers = _all_at_once(str(api.http.base_url), calls)
    _no_500(answers)
    for (status, code), call in zip(_codes(answers), calls, strict=True):
        if call.__name__ == "cancel":
            assert status in (200, 409), (status, code)
        else:
            assert status == 200, (status, code)
    for done in placed:
        found = order(api, t, done["orders"][0]["order_id"])
        assert found["status"] in ("paid", "cancelled")
        payment = found["payments"][0]["status"]
        # Money for a cancelled order is given straight back, never kept.
        assert payment == ("succeeded" if found["status"] == "paid" else "refunded"), found
    audit_clean(server, t)


def _key(api: Api, t: TenantFixture) -> str:
    created = ok(api.post(t.path("/api-keys"), t.admin_token, json={"name": "shop"}), 201)
    return str(created["token"])


def _push(key: str, t: TenantFixture, order_id: str, event: str, idem: str, body: Any = None):
    def call(c: Api) -> httpx.Response:
        return c.post(t.path(f"/integration/orders/{order_id}/{event}"), key, json=body, key=idem)

    return call


def test_identical_integration_pushes_at_once_replay(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    key = _key(api, t)
    paid = {"user": {"external_id": "U1", "display_name": "U1"}, "amount": "100.00"}
    for ref in ("R-1", "C-1", "C-2"):  # C-2: revenue for the refund to come out of
        ok(api.post(t.path(f"/integration/orders/{ref}/paid"), key, json=paid), 201)
    # Half the pushes of an event share one Idempotency-Key, half have their own.
    same, also = uuid4().hex, uuid4().hex
    refunds = [
        _push(key, t, "R-1", "refunded", same if i % 2 else uuid4().hex, {"adjustment": True})
        for i in range(WAYS // 2)
    ]
    completes = [
        _push(key, t, "C-1", "completed", also if i % 2 else uuid4().hex) for i in range(WAYS // 2)
    ]
    answers = _all_at_once(str(api.http.base_url), refunds + completes)
    _no_500(answers)
    refused = [a.text for a in answers if a.status_code != 200]
    assert refused == []
    bodies = {a.json()["state"] for a in answers}
    assert bodies == {"refunded", "completed"}
    got = ok(api.get(t.path("/integration/orders/R-1"), key))
    assert got["refunded"] == "100.00"
    audit_clean(server, t)


def test_parallel_approvals_of_one_refund_one_wins_the_rest_409(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    _restock(api, t)
    for _ in range(3):
        paid_order(api, t, quantity=2)  # revenue to refund from
    bought = paid_order(api, t)
    asked = ok(
        api.post(
            t.path(f"/orders/{bought['order_id']}/refunds"), t.consumer_token, json={"reason": "r"}
        ),
        201,
    )
    path = t.path(f"/orders/{bought['order_id']}/refunds/{asked['refund_id']}/approve")
    _, other_admin = second_admin(api, t)
    admins = (t.admin_token, other_admin)
    calls = [
        (lambda c, i=i: c.post(path, admins[i % 2], json={"note": f"approver {i}"}))
        for i in range(WAYS)
    ]
    answers = _all_at_once(str(api.http.base_url), calls)
    _no_500(answers)
    codes = _codes(answers)
    assert sum(1 for s, _ in codes if s == 200) == 1, codes
    assert {s for s, _ in codes} <= {200, 409}, codes
    for a in answers:  # no internal ledger key is ever named
        assert "order:" not in a.text
    assert order(api, t, bought["order_id"])["status"] == "refunded"
    audit_clean(server, t)


def test_ship_against_a_refund_request_never_both(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    _restock(api, t)
    orders = [paid_order(api, t) for _ in range(WAYS // 2)]
    calls: list[Callable[[Api], httpx.Response]] = []
    for placed in orders:
        order_id = placed["order_id"]
        calls.append(
            lambda c, o=order_id: c.post(
                t.path(f"/orders/{o}/ship"), t.merchant_token, json={"carrier": "SF"}
            )
        )
        calls.append(
            lambda c, o=order_id: c.post(
                t.path(f"/orders/{o}/refunds"), t.consumer_token, json={"reason": "r"}
            )
        )
    answers = _all_at_once(str(api.http.base_url), calls)
    _no_500(answers)
    assert {s for s, _ in _codes(answers)} <= {200, 201, 409}
    for i, placed in enumerate(orders):
        shipped, requested = answers[2 * i], answers[2 * i + 1]
        found = order(api, t, placed["order_id"])
        pending = [r for r in found["refunds"] if r["status"] == "requested"]
        if shipped.status_code == 200:
            # Shipped first: a refund may still be asked of a shipped order, never both
            # succeeding with the refund asked before shipping.
            assert found["status"] == "shipped"
        if requested.status_code == 201 and pending and shipped.status_code == 200:
            # Both succeeded: the shipping must have come first. Ids start with their
            # creation's milliseconds, made under the order's lock.
            assert _ms(_shipped_event(server, t, placed["order_id"])) <= _ms(
                pending[0]["refund_id"]
            ), found
        if requested.status_code == 201 and shipped.status_code != 200:
            assert found["status"] == "paid"
            assert shipped.json()["error"]["code"] in ("conflict", "Conflict", "refund_pending")
    audit_clean(server, t)
