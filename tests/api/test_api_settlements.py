"""Settlements over real HTTP (SQLite and PostgreSQL): an admin settles a business day once,
its dividend.paid event is in the outbox, a replay changes nothing, the audit stays clean."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok

from tokenmall.adapters.db.store import Store
from tokenmall.services.ledger.audit import audit
from tokenmall.services.mall.settling import yesterday
from tokenmall.services.mall.uow import utc_now


@pytest.fixture
def shop(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "paid"})


def pay(api: Api, t: TenantFixture, order: str, user: str, amount: str = "100.00") -> None:
    body = {"user": {"external_id": user}, "amount": amount}
    ok(api.post(t.path(f"/integration/orders/{order}/paid"), t.admin_token, json=body), 201)


def settle(api: Api, t: TenantFixture, day: str, token: str | None = None) -> Any:
    return api.post(t.path("/settlements"), token or t.admin_token, json={"business_date": day})


def journals(db_url: str, tenant_id: str) -> list[Any]:
    from sqlalchemy import text

    store = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        with store.read() as conn:
            return list(
                conn.execute(
                    text("SELECT journal_id, code FROM journals WHERE tenant_id = :t"),
                    {"t": tenant_id},
                ).all()
            )
    finally:
        store.dispose()


def test_settle_a_day_once_with_its_event(api: Api, shop: TenantFixture, db_url: str) -> None:
    for n, user in enumerate(("U1", "U2", "U3")):
        pay(api, shop, f"S-{n}", user)
    day = yesterday(utc_now()).isoformat()
    first = ok(settle(api, shop, day))
    assert first["business_date"] == day
    assert first["settled_now"] is True
    assert first["recipients"] >= 1
    assert first["distributed"] != "0.00"
    before = journals(db_url, shop.tenant_id)
    again = ok(settle(api, shop, day))
    assert again["settled_now"] is False
    assert {k: v for k, v in again.items() if k != "settled_now"} == {
        k: v for k, v in first.items() if k != "settled_now"
    }
    assert journals(db_url, shop.tenant_id) == before
    listed = ok(api.get(shop.path("/settlements"), shop.admin_token))["items"]
    assert [s["business_date"] for s in listed] == [day]
    assert listed[0]["distributed"] == first["distributed"]
    paid_events = ok(
        api.get(shop.path("/events"), shop.admin_token, params={"type": "dividend.paid"})
    )["items"]
    assert len(paid_events) == 1
    assert paid_events[0]["data"]["distributed"] == first["distributed"]
    # an older day than the last settled one is refused (choice 10), nothing changes
    older = (utc_now() - timedelta(days=3)).date().isoformat()
    refused = settle(api, shop, older)
    assert refused.status_code == 409, refused.text
    assert journals(db_url, shop.tenant_id) == before
    store = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        (report,) = audit(store, shop.tenant_id)
        assert report.findings == []
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("day", "status"),
    [("2026-13-01", 422), ("yesterday", 422), ("2026-1-1", 422), (None, 422)],
)
def test_bad_dates_are_refused(api: Api, tenant: TenantFixture, day: Any, status: int) -> None:
    answer = api.post(tenant.path("/settlements"), tenant.admin_token, json={"business_date": day})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == "business_date"
    assert ok(api.get(tenant.path("/settlements"), tenant.admin_token))["items"] == []


def test_a_day_that_has_not_ended_is_refused(api: Api, tenant: TenantFixture) -> None:
    today = (yesterday(utc_now()) + timedelta(days=1)).isoformat()
    answer = settle(api, tenant, today)
    assert answer.status_code == 422
    assert "has not ended" in answer.json()["error"]["message"]


def test_settlements_are_admins_only_and_per_tenant(
    api: Api, shop: TenantFixture, other_tenant: TenantFixture
) -> None:
    day = yesterday(utc_now()).isoformat()
    for token in (shop.consumer_token, shop.merchant_token):
        assert settle(api, shop, day, token).status_code == 403
        assert api.get(shop.path("/settlements"), token).status_code == 403
    other = other_tenant.admin_token
    assert settle(api, shop, day, other).status_code == 404
    assert api.get(shop.path("/settlements"), other).status_code == 404
    assert ok(api.get(shop.path("/settlements"), shop.admin_token))["items"] == []
