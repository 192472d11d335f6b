"""Refunds through Alipay that do not end at once, against its local fake: one Alipay is still
processing (``fund_change`` N, its query finding no refund yet) is approved with 202 and books
nothing until a query or the scheduler's round finds it done, then books it once; one Alipay
refuses (the seller's balance) is recorded ``failed`` with Alipay's words and books nothing; a
system error records nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import audit_clean, economy, order, order_state
from test_api_alipay import _post, _unpaid, app_key, fake, switched_on
from wallet_helpers import store_of

from alipay_fake import FakeAlipay
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall import refund_channel
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.web.api.payment_channels import registry_of

__all__ = ["app_key", "fake"]


def _requested(
    api: Api, t: TenantFixture, fake: FakeAlipay, app_key: Any
) -> tuple[str, dict[str, Any], str]:
    """A paid order with a refund requested: (order id, payment, refund's path)."""
    switched_on(api, t, fake, app_key)
    order_id, payment = _unpaid(api, t, fake)
    assert _post(api, t, fake.pay(payment["payment_id"])).text == "success"
    refund = ok(
        api.post(t.path(f"/orders/{order_id}/refunds"), t.consumer_token, json={"reason": "x"}),
        201,
    )
    return order_id, payment, t.path(f"/orders/{order_id}/refunds/{refund['refund_id']}")


def _gateways(server: Any) -> tuple[Database, Any]:
    db = Database(store_of(server).engine)

    class _Request:
        app = server.app

    registry = registry_of(_Request())

    def gateway_of(tenant_id: str) -> Any:
        with db.reading() as uow:
            return channels.tenant_gateway(uow, tenant_id, registry, "", utc_now())

    return db, gateway_of


def test_a_refund_alipay_still_processes_is_202_then_booked_once(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    order_id, payment, refund_path = _requested(api, t, fake, app_key)
    before = order_state(api, t, server, order_id)
    paid = economy(server, t)
    fake.refund_pending = True
    try:
        answer = ok(api.post(f"{refund_path}/approve", t.admin_token), 202)
        assert answer["refund"]["status"] == "processing"
        assert order_state(api, t, server, order_id) == before  # nothing booked yet
        # Asked while Alipay still processes it: still processing, nothing booked.
        asked = api.post(f"{refund_path}/query", t.admin_token)
        assert (asked.status_code, asked.json()["status"]) == (202, "processing")
        db, gateway_of = _gateways(server)
        later = utc_now() + timedelta(seconds=61)
        assert refund_channel.sync_processing(db, gateway_of, later) == []
        assert economy(server, t) == paid
    finally:
        fake.refund_pending = False
    # Alipay has finished it: the scheduler's round books the reversal, once.
    ended = refund_channel.sync_processing(db, gateway_of, later)
    assert [r.status for r in ended] == ["succeeded"]
    assert order(api, t, order_id)["status"] == "refunded"
    done = economy(server, t)
    assert done["journals"] == paid["journals"] + 1
    assert refund_channel.sync_processing(db, gateway_of, later) == []
    assert ok(api.post(f"{refund_path}/query", t.admin_token))["status"] == "succeeded"
    assert economy(server, t) == done
    # One refund at Alipay, under the refund's own number.
    assert list(fake.trades[payment["payment_id"]].refunds) == [refund_path.rsplit("/", 1)[1]]
    audit_clean(server, t)


def test_a_refund_alipay_refuses_is_failed_with_its_words(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    order_id, payment, refund_path = _requested(api, t, fake, app_key)
    before = order_state(api, t, server, order_id)
    fake.refund_refusal = ("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")
    try:
        answer = ok(api.post(f"{refund_path}/approve", t.admin_token))
    finally:
        fake.refund_refusal = None
    assert answer["refund"]["status"] == "failed"
    assert "ACQ.SELLER_BALANCE_NOT_ENOUGH" in answer["refund"]["failure_reason"]
    assert order_state(api, t, server, order_id) == before
    assert fake.trades[payment["payment_id"]].refunds == {}
    retried = ok(api.post(f"{refund_path}/retry", t.admin_token))
    assert (retried["refund"]["status"], retried["refund"]["attempt"]) == ("succeeded", 2)
    assert order(api, t, order_id)["status"] == "refunded"
    audit_clean(server, t)


def test_an_alipay_system_error_records_nothing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    order_id, _, refund_path = _requested(api, t, fake, app_key)
    before = order_state(api, t, server, order_id)
    fake.system_error = True
    try:
        busy = api.post(f"{refund_path}/approve", t.admin_token)
    finally:
        fake.system_error = False
    assert busy.status_code == 409, busy.text
    assert ok(api.get(refund_path, t.admin_token))["status"] == "requested"
    assert order_state(api, t, server, order_id) == before
    assert ok(api.post(f"{refund_path}/approve", t.admin_token))["refund"]["status"] == (
        "succeeded"
    )
    audit_clean(server, t)
