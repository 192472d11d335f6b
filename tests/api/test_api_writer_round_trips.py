"""The paid callbacks' writer on PostgreSQL, counted at the driver (psycopg) on the writer's own
thread: while it holds the tenant's lock, a batch is four round trips — the lock with the
payments and their orders (one pipeline), the ledger keys with the buyers not in its book (one
pipeline), the writes (one pipeline), the COMMIT. And what that must keep: two writers (two
engines, as two processes) paying the same buyer's orders in turn each see the other's
writes, and the books stay balanced."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from driver_counts import at_the_driver
from mall_api import Api, TenantFixture, make_tenant, ok
from orders_helpers import audit_clean, paid_by_callback, paid_order

from tokenmall.services.mall.uow import Database


@pytest.fixture
def shop(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "paid"})


def _paid_by_page(api: Api, t: TenantFixture) -> str:
    return str(paid_order(api, t)["order_id"])


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
    with at_the_driver(monkeypatch, threads="units-") as seen:
        order_id = _paid_by_page(api, shop)
    assert _order(api, shop, order_id)["status"] == "paid"
    print(f"a paid callback's batch at the driver: {dict(seen)}")
    assert (seen["round trips"], seen["commits"], seen["rollbacks"]) == (4, 1, 0), seen
    # The order paid and its rewards shown on it: one update of its row.
    assert seen["order updates"] == 1, seen
    assert _order(api, shop, order_id)["rewards"]["points"]
    audit_clean(server, shop)


def test_two_writers_paying_one_buyer_in_turn_each_read_the_others_writes(
    api: Api, shop: TenantFixture, server: Any, second: Database
) -> None:
    """The buyer's holder row is changed by each writer in turn: each batch finds its book
    behind the tenant's row, rebuilds it and reads the buyer again (in the keys' pipeline),
    so no points are lost or counted twice."""
    before = _points(api, shop)
    paid = [
        paid_by_callback(second, server, api, shop) if n % 2 else _paid_by_page(api, shop)
        for n in range(6)
    ]
    orders = [_order(api, shop, order_id) for order_id in paid]
    assert [order["status"] for order in orders] == ["paid"] * 6
    granted = sum(Decimal(order["rewards"]["points"]) for order in orders)
    assert granted > 0
    assert _points(api, shop) == before + granted
    audit_clean(server, shop)
