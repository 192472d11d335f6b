"""With ``sandbox_gateway`` off (production without a real gateway configured): the sandbox's
payment page and webhook answer 404, and a checkout with a money part is refused with 409
``no_gateway`` and changes nothing; paying wholly in stable points still works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, ok
from orders_helpers import economy, give_stable, holder, signed_webhook
from sqlalchemy import func, select

from served import Server, app_settings, served
from tokenmall.adapters.db.mall.orders import orders as orders_table
from tokenmall.adapters.db.mall.payments import payment_callbacks


@pytest.fixture(scope="module")
def server(db_url: str) -> Iterator[Server]:
    settings = app_settings(
        db_url,
        operator_email=OPERATOR_EMAIL,
        operator_password=OPERATOR_PASSWORD,
        sandbox_gateway=False,
    )
    with served(settings) as (base, app):
        yield Server(base, settings, app)


def _count(server: Any, table: Any, tenant_id: str) -> int:
    with server.app.state.database.read() as conn:
        found = conn.execute(
            select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
        ).scalar_one()
    return int(found)


def _state(api: Api, t: TenantFixture, server: Any) -> object:
    return (
        ok(api.get(t.path(f"/skus/{t.sku_id}"), t.admin_token))["stock"],
        ok(api.get(t.path("/cart"), t.consumer_token)),
        ok(api.get(t.path("/orders"), t.admin_token)),
        holder(server, t, t.consumer_id),
        economy(server, t),
        _count(server, orders_table, t.tenant_id),
    )


def test_money_checkouts_are_refused_and_stable_ones_work(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    give_stable(server, t, t.consumer_id, 100_000)
    ok(api.post(t.path("/cart/lines"), t.consumer_token, json={"sku_id": t.sku_id, "quantity": 1}))
    before = _state(api, t, server)
    for plan in (
        {},
        {"payment_method": "money"},
        {"payment_method": "mixed", "stable_amount": "30.00"},
        {
            "payment_method": "mixed",
            "stable_amount": "30.00",
            "lines": [{"sku_id": t.sku_id, "quantity": 2}],
        },
    ):
        answer = api.post(t.path("/checkout"), t.consumer_token, json=plan)
        assert answer.status_code == 409, answer.text
        error = answer.json()["error"]
        assert error["code"] == "no_gateway"
        assert "no payment gateway" in error["message"]
        assert error["field"] == "payment_method"
        assert _state(api, t, server) == before
    # Wholly in stable points there is nothing for a gateway to do.
    done = ok(
        api.post(t.path("/checkout"), t.consumer_token, json={"payment_method": "stable"}), 201
    )
    assert done["payments"] == []
    assert done["orders"][0]["status"] == "paid"


def test_the_sandbox_page_and_webhook_are_gone(
    api: Api, tenant: TenantFixture, server: Any
) -> None:
    t = tenant
    ref = f"{t.tenant_id}.pay_{'0' * 26}"
    assert api.http.get(f"/sandbox/pay/{ref}").status_code == 404
    assert api.http.post(f"/sandbox/pay/{ref}", data={"outcome": "approve"}).status_code == 404
    event = {
        "event_id": "evt_1",
        "type": "payment.succeeded",
        "payment_ref": ref,
        "amount": "100.00",
        "created_at": "2026-11-30T00:00:00+00:00",
    }
    answer = signed_webhook(api, server, event)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert _count(server, payment_callbacks, t.tenant_id) == 0
