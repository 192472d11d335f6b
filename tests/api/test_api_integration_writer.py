"""Integration ``paid`` orders under load over real HTTP (SQLite and PostgreSQL), through the
tenant's unit writer (group commit, ``services/writers/units.py``): many clients at once, the
same order from several clients at once, replays, refusals among them — each order booked
once, each answer the committed one, nothing of a refused push left, and a clean audit."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx
from mall_api import Api, TenantFixture, make_tenant, ok
from sqlalchemy import text
from test_api_integration import api_key, audit_clean, paid_body, snapshot

from tokenmall.adapters.db.store import Store
from tokenmall.domain.money import parse_points


def _post(
    http: httpx.Client, t: TenantFixture, token: str, order: str, body: Any, key: str
) -> httpx.Response:
    return http.post(
        t.path(f"/integration/orders/{order}/paid"),
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


def _purchase_prices(db_url: str, tenant_id: str) -> list[int]:
    store = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        with store.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT result FROM journals WHERE tenant_id = :t AND code = 'purchase' "
                    "ORDER BY journal_id"
                ),
                {"t": tenant_id},
            )
            return [parse_points(json.loads(row[0])["price"]) for row in rows]
    finally:
        store.dispose()


def _same_times(view: dict[str, Any]) -> dict[str, Any]:
    """The view with its timestamps in one spelling (the GET writes UTC as Z)."""
    return {k: v.replace("+00:00", "Z") if k.endswith("_at") and v else v for k, v in view.items()}


def test_a_crowd_of_pushes_books_each_order_once(
    api: Api, operator_token: str, db_url: str, server_base: str
) -> None:
    # given a grant_on=paid tenant and twelve shop clients pushing orders at once: buyers with
    # referrers (bound on their first order), replays with the same Idempotency-Key and with
    # a new one, and pushes the ledger refuses (a buyer naming a second referrer)
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    token = api_key(api, t, t.admin_token)
    ok(api.post(t.path("/integration/orders/SEED-0/paid"), token, json=paid_body("B0")), 201)
    for n in range(1, 18):  # B1…B17 bound to B0 by a first order each
        body = paid_body(f"B{n}")
        body["user"]["referrer_external_id"] = "B0"
        ok(api.post(t.path(f"/integration/orders/SEED-{n}/paid"), token, json=body), 201)
    answers: dict[str, dict[str, Any]] = {}
    refused: list[str] = []
    problems: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=server_base, timeout=60) as http:
            for step in range(12):
                order = f"C{n}-{step}"
                user = f"B{(n * 5 + step) % 17 + 1}"
                body = paid_body(user, amount=f"{50 + step}.00")
                body["user"]["referrer_external_id"] = "B0"
                if step == 7:  # this buyer was bound to B0: another referrer is refused
                    body["user"]["referrer_external_id"] = f"B{(n * 5 + step) % 17 + 2}"
                key = uuid.uuid4().hex
                answer = _post(http, t, token, order, body, key)
                if step == 7:
                    with lock:
                        if answer.status_code == 409:
                            refused.append(order)
                        else:
                            problems.append(f"{order}: {answer.status_code} {answer.text}")
                    continue
                if answer.status_code != 201:
                    with lock:
                        problems.append(f"{order}: {answer.status_code} {answer.text}")
                    continue
                again = _post(http, t, token, order, body, key if step % 2 else uuid.uuid4().hex)
                if again.json() != answer.json() or again.headers["Idempotency-Replayed"] != (
                    "true"
                ):
                    with lock:
                        problems.append(f"{order}: the replay answered {again.text}")
                with lock:
                    answers[order] = answer.json()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every push was answered as expected
    assert problems == []
    assert len(answers) == 12 * 11
    # and a buyer already bound to B0 who named another referrer got 409 and left nothing
    rows = snapshot(server_base, db_url, t.tenant_id)
    stored_orders = rows["mall_integration_orders"]
    assert len(refused) == 12
    assert len(stored_orders) == len(answers) + 18
    for order in refused:
        assert api.get(t.path(f"/integration/orders/{order}"), token).status_code == 404
    # and each order reads back as it was answered (the answer is what was committed)
    for order, body in list(answers.items())[::7]:
        got = ok(api.get(t.path(f"/integration/orders/{order}"), token))
        assert _same_times({**got, "event": "paid"}) == _same_times(body)
        levels = {g["external_id"]: g["level"] for g in body["rewards"]["points_granted"]}
        assert levels.get("B0") == 1
    # and the price never fell, and the audit is clean
    prices = _purchase_prices(db_url, t.tenant_id)
    assert len(prices) == len(stored_orders)
    assert prices == sorted(prices)
    audit_clean(db_url, t.tenant_id)


def test_one_order_pushed_by_many_clients_at_once_is_booked_once(
    api: Api, operator_token: str, db_url: str, server_base: str
) -> None:
    # given five orders, each of a first-seen buyer, each pushed by eight clients at once
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    token = api_key(api, t, t.admin_token)
    users_before = len(snapshot(server_base, db_url, t.tenant_id)["mall_users"])
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def push(order: str, user: str) -> None:
        with httpx.Client(base_url=server_base, timeout=60) as http:
            answer = _post(http, t, token, order, paid_body(user), uuid.uuid4().hex)
        with lock:
            answers.append(answer)

    jobs = [(f"SAME-{n}", f"FRESH-{n}") for n in range(5) for _ in range(8)]
    threads = [threading.Thread(target=push, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then all are answered 201 with the one first answer of their order
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    by_order: dict[str, list[dict[str, Any]]] = {}
    for a in answers:
        by_order.setdefault(a.json()["external_order_id"], []).append(a.json())
    assert all(len(b) == 8 and all(x == b[0] for x in b) for b in by_order.values())
    assert sum(a.headers["Idempotency-Replayed"] == "false" for a in answers) == 5
    # and each order, its buyer and its journals exist once
    rows = snapshot(server_base, db_url, t.tenant_id)
    assert len(rows["mall_integration_orders"]) == 5
    assert len(rows["mall_external_users"]) == 5
    assert len(rows["mall_users"]) == users_before + 5
    assert len(rows["journals"]) == 5 * 2  # payment and purchase (no commission rates)
    audit_clean(db_url, t.tenant_id)
