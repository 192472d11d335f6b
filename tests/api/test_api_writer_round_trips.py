"""The paid callbacks' writer on PostgreSQL, counted at the driver (psycopg) on the writer's own
thread: while it holds the tenant's lock, a batch is four round trips — the lock with the
payments and their orders (one pipeline), the ledger keys with the buyers not in its book (one
pipeline), the writes (one pipeline), the COMMIT. And what that must keep: two writers (two
engines, as two processes) paying the same buyer's orders in turn each see the other's
writes, and the books stay balanced."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from orders_helpers import audit_clean, checkout, sandbox_pay

from tokenmall.adapters.db.engine import make_engine
from tokenmall.bootstrap import payment_gateway
from tokenmall.services.mall import paid_callbacks
from tokenmall.services.mall.uow import Database, utc_now


@pytest.fixture
def shop(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "paid"})


@contextmanager
def writer_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Round trips the unit writers' threads (``units-…``) make: a statement outside a
    pipeline (with psycopg's BEGIN before it when a transaction starts), a pipeline, a
    COMMIT or ROLLBACK on its own."""
    import psycopg
    from psycopg import pq

    seen: Counter[str] = Counter()
    execute, pipeline = psycopg.Cursor.execute, psycopg.Connection.pipeline
    commit = psycopg.Connection.commit

    def ours() -> bool:
        return threading.current_thread().name.startswith("units-")

    def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        conn = self.connection
        if ours() and not conn.pgconn.pipeline_status:
            seen["round trips"] += 1
            idle = conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
            if idle and not conn.autocommit:
                seen["round trips"] += 1  # psycopg's BEGIN
        return execute(self, query, *args, **kwargs)

    def counted_pipeline(self: Any) -> Any:
        if ours() and not self.pgconn.pipeline_status:
            seen["round trips"] += 1
        return pipeline(self)

    def counted_commit(self: Any) -> Any:
        if ours() and self.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            seen["round trips"] += 1
            seen["commits"] += 1
        return commit(self)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
    monkeypatch.setattr(psycopg.Connection, "pipeline", counted_pipeline)
    monkeypatch.setattr(psycopg.Connection, "commit", counted_commit)
    try:
        yield seen
    finally:
        monkeypatch.undo()


def _paid_by_page(api: Api, t: TenantFixture) -> str:
    done = checkout(api, t, [(t.sku_id, 1)])
    answer = sandbox_pay(api, done["payments"][0]["redirect_url"])
    assert answer.status_code == 200, answer.text
    return str(done["orders"][0]["order_id"])


def _order(api: Api, t: TenantFixture, order_id: str) -> dict[str, Any]:
    return dict(ok(api.get(t.path(f"/orders/{order_id}"), headers=_buyer(t))))


def _buyer(t: TenantFixture) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.consumer_token}"}


def _points(api: Api, t: TenantFixture) -> Decimal:
    return Decimal(ok(api.get(t.path("/wallet"), headers=_buyer(t)))["points"])


def test_a_paid_callback_holds_the_tenant_lock_for_four_round_trips(
    api: Api, shop: TenantFixture, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not str(server.settings.database_url).startswith("postgresql"):
        pytest.skip("round trips to PostgreSQL (SQLite: no pipelines)")
    # The first: the writer starts, reads the webhook endpoints, loads the buyer.
    _paid_by_page(api, shop)
    with writer_round_trips(monkeypatch) as seen:
        order_id = _paid_by_page(api, shop)
    assert _order(api, shop, order_id)["status"] == "paid"
    assert seen == Counter({"round trips": 4, "commits": 1}), seen
    audit_clean(server, shop)


@pytest.fixture
def second(server: Any) -> Iterator[Database]:
    """Another engine on the server's database, with writers of its own (another process)."""
    db = Database(make_engine(str(server.settings.database_url)))
    yield db
    db.dispose()


def _paid_through(db: Database, server: Any, api: Api, t: TenantFixture) -> str:
    done = checkout(api, t, [(t.sku_id, 1)])
    payment = done["payments"][0]
    ref = payment["redirect_url"].rsplit("/", 1)[1]
    gateway: Any = payment_gateway(
        True, server.settings.secret_key.get_secret_value(), server.base_url
    )
    now = utc_now()
    yuan, _, fen = str(payment["amount"]).partition(".")
    amount = int(yuan) * 100 + int((fen + "00")[:2])
    body = gateway.event_body(
        provider_ref=ref, outcome="payment.succeeded", amount_fen=amount, now=now
    )
    result = paid_callbacks.handle_callback(
        db, gateway, gateway.signed_headers(body, now), body, now
    )
    assert result.order_status == "paid"
    return str(done["orders"][0]["order_id"])


def test_two_writers_paying_one_buyer_in_turn_each_read_the_others_writes(
    api: Api, shop: TenantFixture, server: Any, second: Database
) -> None:
    """The buyer's holder row is changed by each writer in turn: each batch finds its book
    behind the tenant's row, rebuilds it and reads the buyer again (in the keys' pipeline),
    so no points are lost or counted twice."""
    before = _points(api, shop)
    paid = [
        _paid_through(second, server, api, shop) if n % 2 else _paid_by_page(api, shop)
        for n in range(6)
    ]
    orders = [_order(api, shop, order_id) for order_id in paid]
    assert [order["status"] for order in orders] == ["paid"] * 6
    granted = sum(Decimal(order["rewards"]["points"]) for order in orders)
    assert granted > 0
    assert _points(api, shop) == before + granted
    audit_clean(server, shop)
