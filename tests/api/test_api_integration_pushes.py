"""Single paid pushes coalesced (``services/mall/integration_pushes.py``) over real HTTP, on
SQLite and PostgreSQL: a crowd of pushes at once, good ones and every kind of refusal mixed,
each answered exactly as it would be alone; nothing of a refused push is written."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from mall_api import Api, TenantFixture, make_tenant, ok
from test_api_integration import api_key, audit_clean, paid_body, push, snapshot


def test_a_mixed_crowd_is_answered_push_by_push(
    api: Api,
    operator_token: str,
    other_tenant: TenantFixture,
    db_url: str,
    server_base: str,
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    key = api_key(api, t, t.admin_token)
    other_key = api_key(api, other_tenant, other_tenant.admin_token)
    # before the crowd: an order already paid, a key already used, a referrer bound
    ok(push(api, t, key, "OLD-1", "paid", paid_body("U1")), 201)
    ok(push(api, t, key, "OLD-2", "paid", paid_body("U2"), key="used-key"), 201)
    bound = paid_body("FAN")
    bound["user"]["referrer_external_id"] = "BOSS"
    ok(push(api, t, key, "OLD-3", "paid", bound), 201)
    before = snapshot(server_base, db_url, t.tenant_id)

    rebind = paid_body("FAN")
    rebind["user"]["referrer_external_id"] = "U1"
    cases: list[tuple[str, str, Any, str, int, bool | None]] = [
        # (token, order, body, Idempotency-Key, status expected, replayed expected)
        *[(key, f"NEW-{n}", paid_body(f"C{n % 4}"), f"k-{n}", 201, False) for n in range(24)],
        (other_key, "X-1", paid_body(), "x-1", 404, None),
        (t.consumer_token, "X-2", paid_body(), "x-2", 403, None),
        ("tmk.nope.nope.nope", "X-3", paid_body(), "x-3", 401, None),
        (key, "X-4", paid_body(amount="-1.00"), "x-4", 422, None),
        (key, "X-5", paid_body(contribution="500.00"), "x-5", 422, None),
        (key, "OLD-1", paid_body("U1", amount="5.00"), "x-6", 409, None),  # another body
        (key, "X-7", paid_body(), "used-key", 409, None),  # the key for another request
        (key, "OLD-2", paid_body("U2"), "used-key", 201, True),  # the key's own replay
        (key, "OLD-1", paid_body("U1"), "x-9", 201, True),  # the event again, a new key
        (key, "X-10", rebind, "x-10", 409, None),  # FAN is bound to BOSS
    ]
    answers: dict[int, httpx.Response] = {}
    lock = threading.Lock()
    start = threading.Barrier(len(cases))

    def send(n: int) -> None:
        token, order, body, idem, _, _ = cases[n]
        with httpx.Client(base_url=server_base, timeout=60) as http:
            start.wait()
            answer = http.post(
                t.path(f"/integration/orders/{order}/paid"),
                json=body,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idem},
            )
        with lock:
            answers[n] = answer

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for n, (_, order, _, _, status, replayed) in enumerate(cases):
        answer = answers[n]
        assert answer.status_code == status, (order, answer.text)
        if replayed is not None:
            assert answer.headers["Idempotency-Replayed"] == str(replayed).lower(), order
            assert answer.json()["external_order_id"] == order
        else:
            assert answer.json()["error"]["message"]
    users = {answers[n].json()["user"]["external_id"]: set() for n in range(24)}
    for n in range(24):
        body = answers[n].json()
        users[body["user"]["external_id"]].add(body["user"]["user_id"])
    assert all(len(ids) == 1 for ids in users.values())  # C0..C3 made once each
    after = snapshot(server_base, db_url, t.tenant_id)
    orders = [row for row in after["mall_integration_orders"] if "'NEW-" in row]
    assert len(orders) == 24
    assert len(after["mall_integration_orders"]) == len(before["mall_integration_orders"]) + 24
    for refused in ("X-1", "X-2", "X-3", "X-4", "X-5", "X-7", "X-10"):
        assert not any(f"'{refused}'" in row for row in after["mall_integration_orders"])
    # the replayed event under a new key stored that key; the refused ones stored nothing
    assert len(after["mall_idempotency"]) == len(before["mall_idempotency"]) + 24 + 1
    audit_clean(db_url, t.tenant_id)
    # every good push replays its answer under its key, unchanged
    again = push(api, t, key, "NEW-3", "paid", paid_body("C3"), key="k-3")
    assert again.status_code == 201
    assert again.json() == answers[3].json()
    assert again.headers["Idempotency-Replayed"] == "true"


def test_without_group_commit_each_push_is_its_own_transaction(
    api: Api,
    operator_token: str,
    db_url: str,
    server_base: str,
    server: Any,
    monkeypatch: Any,
) -> None:
    """Group commit off (``TOKENMALL_GROUP_COMMIT=false``): single pushes and batches answer
    the same, through one transaction each (no coalescer, no writer); an order pushed with
    group commit replays."""
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    key = api_key(api, t, t.admin_token)
    grouped = ok(push(api, t, key, "G-1", "paid", paid_body("U1")), 201)
    monkeypatch.setattr(server.app.state.settings, "group_commit", False)
    alone = ok(push(api, t, key, "A-1", "paid", paid_body("U1"), key="alone-1"), 201)
    assert alone["user"]["user_id"] == grouped["user"]["user_id"]
    again = push(api, t, key, "A-1", "paid", paid_body("U1"), key="alone-1")
    assert again.status_code == 201
    assert again.json() == alone
    assert again.headers["Idempotency-Replayed"] == "true"
    replayed = push(api, t, key, "G-1", "paid", paid_body("U1"))
    assert replayed.status_code == 201
    assert replayed.json() == grouped
    refused = push(api, t, key, "A-2", "paid", paid_body(amount="0"))
    assert refused.status_code == 422
    orders = [
        {"external_order_id": "A-3", **paid_body("U3")},
        {"external_order_id": "G-1", **paid_body("U1")},
    ]
    results = ok(api.post(t.path("/integration/batches/paid"), key, json={"orders": orders}))
    assert [(r["status"], r["replayed"]) for r in results["results"]] == [(201, False), (201, True)]
    rows = snapshot(server_base, db_url, t.tenant_id)
    assert len(rows["mall_integration_orders"]) == 3
    audit_clean(db_url, t.tenant_id)


def test_one_callers_key_from_two_of_its_keys_at_once(
    api: Api, operator_token: str, db_url: str, server_base: str
) -> None:
    """Idempotency-Keys belong to the user, not to one API key: two of an admin's API keys
    pushing different orders under the same Idempotency-Key at once — one is written, the other
    is told the key was used for another request (never both, never a server error)."""
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    keys = [api_key(api, t, t.admin_token), api_key(api, t, t.admin_token)]
    for round_ in range(3):
        answers: dict[int, httpx.Response] = {}
        start = threading.Barrier(2)

        def send(
            n: int,
            round_: int = round_,
            start: threading.Barrier = start,
            answers: dict[int, httpx.Response] = answers,
        ) -> None:
            with httpx.Client(base_url=server_base, timeout=60) as http:
                start.wait()
                answers[n] = http.post(
                    t.path(f"/integration/orders/K{round_}-{n}/paid"),
                    json=paid_body(f"U{n}"),
                    headers={
                        "Authorization": f"Bearer {keys[n]}",
                        "Idempotency-Key": f"shared-{round_}",
                    },
                )

        threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(a.status_code for a in answers.values())
        assert statuses == [201, 409], [a.text for a in answers.values()]
    rows = snapshot(server_base, db_url, t.tenant_id)
    assert len(rows["mall_integration_orders"]) == 3
    audit_clean(db_url, t.tenant_id)
