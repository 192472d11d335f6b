"""Paid callbacks applied as a set: the callbacks one batch of the tenant's writer holds are
read and written together (``paid_callbacks._CallbackUnit.run_set``), each still answered and
refused exactly as on its own.

The writer is held on the tenant's lock (taken from another connection, as another process's
writer would) while the callbacks queue up behind a first one, so they reach it as one batch.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from orders_helpers import audit_clean, signed_webhook, success_event
from sqlalchemy import event, text

from tokenmall.adapters.db.store import Store
from tokenmall.services.writers.units import writers_for
from tokenmall.web import callback_gate as gate


def _orders(api: Api, t: TenantFixture, n: int) -> list[dict[str, Any]]:
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    return [ok(api.post(t.path("/checkout"), t.consumer_token, json=body), 201) for _ in range(n)]


def _state(api: Api, t: TenantFixture, done: dict[str, Any]) -> tuple[str, Any, str]:
    order = ok(api.get(t.path(f"/orders/{done['orders'][0]['order_id']}"), t.admin_token))
    payment = ok(api.get(t.path(f"/payments/{done['payments'][0]['payment_id']}"), t.admin_token))
    return order["status"], order["rewards"], payment["status"]


@pytest.fixture(autouse=True)
def _all_callbacks_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """More callbacks in the serving threads at once than the gate's usual four."""
    monkeypatch.setattr(gate, "AT_ONCE", 32)
    monkeypatch.setattr(gate, "_gates", weakref.WeakKeyDictionary())


def _in_one_batch(
    api: Api, server: Any, tenant_id: str, events: list[dict[str, Any]]
) -> tuple[list[httpx.Response], Counter[str]]:
    """Deliver ``events`` so that the tenant's writer takes them as one batch: the writer is
    held on the tenant's lock by another connection with a first callback (``events[0]``)
    while the others queue, and they join its batch when the lock is granted; the
    statements the server ran once the lock is released are counted."""
    engine = server.app.state.database.engine
    store = Store(engine)
    seen: Counter[str] = Counter()
    counting = False

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if counting:
            seen["statements"] += 1

    writer = writers_for(engine)
    with ThreadPoolExecutor(len(events)) as pool:
        with engine.connect() as conn:
            txn = conn.begin()
            store.lock_tenant(conn, tenant_id)
            futures: list[Future[httpx.Response]] = [
                pool.submit(signed_webhook, api, server, events[0])
            ]
            time.sleep(0.4)  # the writer took the first callback and waits for the lock
            futures += [pool.submit(signed_webhook, api, server, e) for e in events[1:]]
            time.sleep(0.8)  # the others are queued behind it
            before = writer.writer(tenant_id)
            assert before is not None
            batches = before.batches
            event.listen(engine, "before_cursor_execute", statement)
            counting = True
            txn.rollback()
        try:
            answers = [f.result(timeout=60) for f in futures]
        finally:
            event.remove(engine, "before_cursor_execute", statement)
    # One batch: the first callback's, which the others queued meanwhile joined once the
    # lock was granted (``UnitWriter._join_late``).
    assert before.batches - batches == 1
    return answers, seen


def test_callbacks_in_one_batch_are_applied_as_a_set_with_refusals_alone(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    done = _orders(api, t, 7)
    replayed = success_event(done[6]["payments"][0])
    first = signed_webhook(api, server, replayed)
    assert first.status_code == 200, first.text
    mismatch = success_event(done[4]["payments"][0])
    mismatch["amount"] = "0.01"
    unknown = success_event(done[5]["payments"][0])
    ref = unknown["payment_ref"]  # another payment id of the same shape, none such
    unknown["payment_ref"] = ref[:-1] + ("0" if ref[-1] != "0" else "1")
    good = [success_event(d["payments"][0]) for d in done[:4]]
    before_refused = [_state(api, t, d) for d in (done[4], done[5])]

    answers, seen = _in_one_batch(
        api, server, t.tenant_id, [good[0], good[1], mismatch, good[2], unknown, good[3]]
    )
    print(f"the set's statements: {dict(seen)}")
    # Four callbacks paid and two refused (each refusal recorded in a transaction of its
    # own), in a few statements, not a dozen a callback.
    postgres = str(server.settings.database_url).startswith("postgresql")
    assert seen["statements"] <= (SET_STATEMENTS_PG if postgres else SET_STATEMENTS_SQLITE)

    codes = [a.status_code for a in answers]
    assert codes == [200, 200, 422, 200, 404, 200], [a.text for a in answers]
    for answer in (answers[0], answers[1], answers[3], answers[5]):
        assert answer.json()["order_status"] == "paid"
        assert answer.json()["outcome"] == "order paid"
    for d in done[:4]:
        status, rewards, payment = _state(api, t, d)
        assert (status, payment) == ("paid", "succeeded")
        assert rewards["booked"] is True
    # The refused ones changed nothing.
    assert [_state(api, t, d) for d in (done[4], done[5])] == before_refused
    assert before_refused[0][0] == "created"
    audit_clean(server, t)


# SQLAlchemy's statements (PostgreSQL's pipelined writes on the driver's cursor are not in
# them; SQLite counts BEGIN and COMMIT). One at a time they were 38 and 54.
SET_STATEMENTS_PG = 18
SET_STATEMENTS_SQLITE = 40


def test_a_replayed_event_in_a_set_is_refused_alone_and_the_others_commit(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    done = _orders(api, t, 4)
    replayed = success_event(done[3]["payments"][0])
    assert signed_webhook(api, server, replayed).status_code == 200
    paid_once = _state(api, t, done[3])
    good = [success_event(d["payments"][0]) for d in done[:3]]

    answers, _ = _in_one_batch(api, server, t.tenant_id, [good[0], good[1], replayed, good[2]])

    assert [a.status_code for a in answers] == [200, 200, 409, 200], [a.text for a in answers]
    assert answers[2].json()["error"]["code"] == "replayed"
    for d in done[:3]:
        assert _state(api, t, d)[0] == "paid"
    assert _state(api, t, done[3]) == paid_once
    audit_clean(server, t)


def test_a_callback_whose_order_is_locked_goes_alone_and_the_set_commits(
    api: Api, operator_token: str, server: Any
) -> None:
    if not str(server.settings.database_url).startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite's transactions hold the database's lock)")
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    done = _orders(api, t, 4)
    held_id = done[2]["orders"][0]["order_id"]
    events = [success_event(d["payments"][0]) for d in done]
    engine = server.app.state.database.engine
    with ThreadPoolExecutor(1) as pool, engine.connect() as conn:
        txn = conn.begin()
        conn.execute(
            text("SELECT 1 FROM mall_orders WHERE tenant_id = :t AND order_id = :o FOR UPDATE"),
            {"t": t.tenant_id, "o": held_id},
        )
        batch = pool.submit(_in_one_batch, api, server, t.tenant_id, events)
        # The others are answered while the locked order's callback waits for its lock.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(_state(api, t, done[n])[0] == "paid" for n in (0, 1, 3)):
                break
            time.sleep(0.2)
        assert _state(api, t, done[2])[0] == "created"
        assert not batch.done()
        txn.rollback()
        answers, _ = batch.result(timeout=60)
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert all(_state(api, t, d)[0] == "paid" for d in done)
    audit_clean(server, t)


def test_a_set_books_the_rewards_one_at_a_time_books(
    api: Api, operator_token: str, server: Any
) -> None:
    alone = make_tenant(api, operator_token, params={"grant_on": "paid"})
    together = make_tenant(api, operator_token, params={"grant_on": "paid"})
    n = 5
    one_by_one = _orders(api, alone, n)
    for d in one_by_one:
        assert signed_webhook(api, server, success_event(d["payments"][0])).status_code == 200
    as_set = _orders(api, together, n)
    answers, _ = _in_one_batch(
        api, server, together.tenant_id, [success_event(d["payments"][0]) for d in as_set]
    )
    assert [a.status_code for a in answers] == [200] * n

    def booked(t: TenantFixture, done: list[dict[str, Any]]) -> list[Any]:
        return sorted((r["points"], r["price"]) for _, r, _ in (_state(api, t, d) for d in done))

    assert booked(together, as_set) == booked(alone, one_by_one)
    wallets = [ok(api.get(t.path("/wallet"), t.consumer_token)) for t in (alone, together)]
    for wallet in wallets:
        del wallet["user_id"]
    assert wallets[0] == wallets[1]
    assert wallets[0]["points"] != "0"
    audit_clean(server, alone)
    audit_clean(server, together)
