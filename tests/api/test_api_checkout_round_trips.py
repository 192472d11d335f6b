"""A shopper's checkout and its payment on the sandbox page, counted in statements and
transactions on the server's engine (the hot path of ``bench api``'s checkout scenario).

Counts, not times: each statement is a round trip to the database and ~0.2-0.5 ms of the
worker's Python; the bounds below are today's counts, so a change that adds reads to the
shopper's path shows here. The counts are printed for reading."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from mall_api import Api, make_tenant, ok
from orders_helpers import audit_clean, signed_webhook, success_event
from sqlalchemy import event, text


@contextmanager
def counting(server: Any) -> Iterator[Counter[str]]:
    engine = server.app.state.database.engine
    seen: Counter[str] = Counter()

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen["statements"] += 1
        seen[sql.split(None, 1)[0].upper()] += 1

    def checkout(*args: Any) -> None:
        seen["pool check-outs"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine.pool, "checkout", checkout)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine.pool, "checkout", checkout)


def test_a_checkout_and_its_payment_in_few_statements(
    api: Api, operator_token: str, server: Any
) -> None:
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    # One flow first: the tenant's caches (parameters, holders) are warm, as under load.
    for _ in range(2):
        with counting(server) as bought:
            done = ok(api.post(t.path("/checkout"), t.consumer_token, json=body), 201)
        (payment,) = done["payments"]
        with counting(server) as paid:
            page = api.http.post(payment["redirect_url"], data={"outcome": "approve"})
        assert page.status_code == 200, page.text
    print(f"checkout: {dict(bought)}; sandbox approve: {dict(paid)}")
    placed = ok(api.get(t.path(f"/orders/{done['orders'][0]['order_id']}"), t.admin_token))
    assert placed["status"] == "paid"
    assert placed["rewards"]["booked"] is True
    postgres = str(server.settings.database_url).startswith("postgresql")
    # PostgreSQL: the reads and the writes are two pipelines of fixed statements on the
    # driver's cursor, not seen here (test_api_checkout_pipelines.py counts them).
    assert bought["statements"] <= (CHECKOUT_READS_PG if postgres else CHECKOUT_STATEMENTS)
    # The checkout: the caller, its reads and its writes on one connection.
    assert bought["pool check-outs"] <= CHECKOUT_CHECKOUTS
    assert paid["statements"] <= (PAY_STATEMENTS_PG if postgres else PAY_STATEMENTS)
    # The payment: the page's read (with the sandbox's record of the approval), then the
    # tenant's writer (its connection kept while busy).
    assert paid["pool check-outs"] <= PAY_CHECKOUTS
    audit_clean(server, t)


# The counts (SQLite counts BEGIN as a statement). The payment's include the sandbox gateway's
# own record of the approval (its daily bill for reconciliation), which a real channel keeps on
# its side: on PostgreSQL in the page's read (one statement), on SQLite one INSERT after it in
# the same transaction. PostgreSQL's payment: the page's statement, the writer's tenant lock
# and one read of the payment with its order and lines (its writes are one pipeline on the
# driver's cursor, not counted; the webhook endpoints come from the process's cache).
# SQLite's checkout includes one read of the tenant's configuration version (its channels,
# rights, parameters and order settings are cached).
CHECKOUT_STATEMENTS = 13
CHECKOUT_READS_PG = 0
CHECKOUT_CHECKOUTS = 1
PAY_STATEMENTS = 13
PAY_STATEMENTS_PG = 6
PAY_CHECKOUTS = 1


def test_a_payment_whose_order_is_locked_waits_outside_the_writer(
    api: Api, operator_token: str, server: Any
) -> None:
    """The tenant's writer takes an order's lock only if it is free (it holds the tenant's
    lock, which a cancel or a refund holding the order's lock may be waiting for): a payment
    whose order is locked is applied in a transaction of its own once the lock is released,
    paid exactly once, the writer's other work not held up."""
    if not str(server.settings.database_url).startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite's transactions hold the database's lock)")
    t = make_tenant(api, operator_token, params={"grant_on": "paid"})
    body = {"lines": [{"sku_id": t.sku_id, "quantity": 1}]}
    held = ok(api.post(t.path("/checkout"), t.consumer_token, json=body), 201)
    free = ok(api.post(t.path("/checkout"), t.consumer_token, json=body), 201)
    held_id = held["orders"][0]["order_id"]
    engine = server.app.state.database.engine
    with ThreadPoolExecutor(1) as pool, engine.connect() as conn:
        txn = conn.begin()
        conn.execute(
            text("SELECT 1 FROM mall_orders WHERE tenant_id = :t AND order_id = :o FOR UPDATE"),
            {"t": t.tenant_id, "o": held_id},
        )
        waiting = pool.submit(signed_webhook, api, server, success_event(held["payments"][0]))
        # Another order's payment goes through the writer meanwhile.
        answer = signed_webhook(api, server, success_event(free["payments"][0]))
        assert answer.status_code == 200, answer.text
        assert answer.json()["order_status"] == "paid"
        time.sleep(0.5)
        assert not waiting.done()  # waiting for the order's lock, not refused
        txn.rollback()
        late = waiting.result(timeout=30)
    assert late.status_code == 200, late.text
    assert late.json()["order_status"] == "paid"
    placed = ok(api.get(t.path(f"/orders/{held_id}"), t.admin_token))
    assert placed["status"] == "paid"
    assert placed["rewards"]["booked"] is True
    audit_clean(server, t)
