"""Alipay against the local fake of its open platform (``tests/alipay_fake.py``): a tenant's
admin saves and tests the key set, a shopper pays through the wap cashier, the notify is
checked by the SDK and applied once (answered ``success``); forged, changed and malformed
notifies are answered ``failure`` and change nothing; the shopper's return asks Alipay; a
timed-out order's payment is closed, and one paid late is refunded; refunds, partial or
full, go back through Alipay.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from mall_api import Api, TenantFixture, ok
from orders_helpers import callbacks_of, checkout, economy, order, order_state
from sqlalchemy import select, update

from alipay_fake import FakeAlipay, new_key, private_pem, public_base64
from tokenmall.adapters.db.mall.orders import orders as orders_table
from tokenmall.adapters.db.mall.payment_channels import payment_channels
from tokenmall.domain.mall.gateway import ChannelError
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.payment_channels import registry_of

WEBHOOK = "/api/v1/payments/webhooks/alipay/{}"
APP_ID = "2021000123456789"
SELLER = "2088102177846880"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture(scope="module")
def app_key():  # type: ignore[no-untyped-def]
    return new_key()


@pytest.fixture(scope="module")
def fake(app_key) -> Iterator[FakeAlipay]:  # type: ignore[no-untyped-def]
    server = FakeAlipay(app_id=APP_ID, seller_id=SELLER, app_public_key=app_key.public_key())
    server.start()
    yield server
    server.stop()


def fields_of(fake: FakeAlipay, app_key: Any, **changes: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "app_id": APP_ID,
        "seller_id": SELLER,
        "app_private_key": private_pem(app_key),
        "alipay_public_key": public_base64(fake.key),
        "gateway_url": fake.gateway_url,
        **changes,
    }


def configure(api: Api, t: TenantFixture, **body: Any) -> Any:
    return api.call("PUT", t.path("/payment-channels/alipay"), t.admin_token, json=body)


def switched_on(
    api: Api, t: TenantFixture, fake: FakeAlipay, app_key: Any, mode: str = "wap"
) -> None:
    ok(configure(api, t, enabled=True, mode=mode, keys=fields_of(fake, app_key)))


def _post(api: Api, t: TenantFixture, body: bytes) -> Any:
    return api.http.post(WEBHOOK.format(t.tenant_id), content=body, headers=FORM)


def _unpaid(api: Api, t: TenantFixture, fake: FakeAlipay) -> tuple[str, dict[str, Any]]:
    """A checkout paid through Alipay: the order, and its payment (the cashier opened)."""
    done = checkout(api, t, [(t.sku_id, 1)])
    payment = done["payments"][0]
    assert payment["gateway"] == "alipay"
    fake.open_cashier(payment["redirect_url"])
    return done["orders"][0]["order_id"], payment


def _balances(figures: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in figures.items() if k not in ("journals", "last")}


def _amount_fen(payment: dict[str, Any]) -> int:
    whole, _, cents = payment["amount"].partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def test_key_set_is_checked_field_by_field_sealed_and_masked(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    listed = ok(api.get(t.path("/payment-channels"), t.admin_token))["channels"]
    assert ("alipay", False, True) in [(c["channel"], c["enabled"], c["available"]) for c in listed]
    answer = configure(api, t, enabled=True)
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "keys"
    good = fields_of(fake, app_key)
    for field, value in (
        ("app_id", "app"),
        ("seller_id", "1234"),
        ("app_private_key", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"),
        ("alipay_public_key", private_pem(new_key())),
        ("gateway_url", "ftp://alipay"),
        ("timeout_express", "forever"),
        ("app_cert", "not a certificate"),
    ):
        answer = configure(api, t, enabled=True, keys={**good, field: value})
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["error"]["field"] == field, field
    answer = configure(api, t, enabled=True, keys={**good, "signing_key": "x"})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "signing_key"
    answer = configure(api, t, enabled=True, mode="jsapi", keys=good)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "mode"
    assert ok(api.get(t.path("/payment-channels"), t.admin_token))["channels"] == listed
    for token in (t.consumer_token, t.merchant_token):
        answer = api.call("PUT", t.path("/payment-channels/alipay"), token, json={"enabled": True})
        assert answer.status_code == 403
    saved = ok(configure(api, t, enabled=True, keys=good))
    assert (saved["enabled"], saved["mode"]) == (True, "wap")
    assert saved["settings"]["app_id"] == APP_ID
    assert saved["settings"]["app_private_key"] == "****"
    assert saved["settings"]["alipay_public_key"] == "****" + good["alipay_public_key"][-4:]
    private_line = good["app_private_key"].splitlines()[1]
    shown = api.get(t.path("/payment-channels"), t.admin_token).text
    assert private_line not in shown
    assert good["alipay_public_key"] not in shown
    with server.app.state.database.read() as conn:
        row = conn.execute(
            select(payment_channels).where(
                payment_channels.c.tenant_id == t.tenant_id, payment_channels.c.channel == "alipay"
            )
        ).one()
    assert b"PRIVATE KEY" not in bytes(row.sealed)
    assert private_line not in row.public


def test_connection_test_names_the_key_at_fault(
    api: Api, tenant: TenantFixture, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    path = t.path("/payment-channels/alipay/test")
    assert api.post(path, t.admin_token).status_code == 409  # nothing saved yet
    switched_on(api, t, fake, app_key)
    assert ok(api.post(path, t.admin_token))["ok"] is True
    # Another Alipay public key: Alipay's answer does not verify.
    other = public_base64(new_key())
    ok(configure(api, t, enabled=True, keys=fields_of(fake, app_key, alipay_public_key=other)))
    answer = api.post(path, t.admin_token)
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "alipay_public_key"
    # A private key Alipay does not hold: it refuses the request's signature.
    stranger = private_pem(new_key())
    ok(configure(api, t, enabled=True, keys=fields_of(fake, app_key, app_private_key=stranger)))
    answer = api.post(path, t.admin_token)
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "app_private_key"
    assert "app_private_key" in answer.json()["error"]["message"]


def test_shopper_pays_by_notify_once_and_a_replay_changes_nothing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    order_id, payment = _unpaid(api, t, fake)
    params = dict(parse_qsl(urlsplit(payment["redirect_url"]).query))
    assert params["method"] == "alipay.trade.wap.pay"
    assert params["notify_url"].endswith(WEBHOOK.format(t.tenant_id))
    body = fake.pay(payment["payment_id"])
    answer = _post(api, t, body)
    assert (answer.status_code, answer.text) == (200, "success")
    assert answer.headers["content-type"].startswith("text/plain")
    paid = order_state(api, t, server, order_id)
    assert paid[0] == "paid"
    answer = _post(api, t, body)  # Alipay sends it again
    assert (answer.status_code, answer.text) == (200, "success")
    assert order_state(api, t, server, order_id) == paid
    assert callbacks_of(server, payment["payment_id"]) == [
        ("accepted", "order paid"),
        ("refused", "replayed"),
    ]


def test_forged_changed_and_malformed_notifies_answer_failure_and_change_nothing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    order_id, payment = _unpaid(api, t, fake)
    before = order_state(api, t, server, order_id)
    trade = fake.trades[payment["payment_id"]]
    genuine = fake.pay(payment["payment_id"])
    real_key = fake.key
    fake.key = new_key()
    forged = fake.notify_body(trade)
    fake.key = real_key
    cases = [
        ("forged signature", forged, 401),
        ("changed amount", fake.notify_body(trade, total_amount="0.01"), 422),
        ("changed after signing", genuine.replace(b"TRADE_SUCCESS", b"TRADE_FINISHED"), 401),
        ("another seller", fake.notify_body(trade, seller_id="2088000000000001"), 403),
        ("another tenant", fake.notify_body(trade, passback_params="someone"), 403),
        ("not a form", b"{not a form}", 400),
        ("no signature", genuine.split(b"&sign=")[0], 401),
    ]
    for name, body, status in cases:
        answer = _post(api, t, body)
        assert (answer.status_code, answer.text) == (status, "failure"), name
        assert order_state(api, t, server, order_id) == before, name
    answer = api.http.post(WEBHOOK.format("no-such-tenant"), content=genuine, headers=FORM)
    assert answer.text == "failure"
    # The genuine notify is still taken: no refusal burnt it.
    assert _post(api, t, genuine).text == "success"
    assert order(api, t, order_id)["status"] == "paid"


def test_return_before_the_notify_asks_alipay(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key, mode="page")
    order_id, payment = _unpaid(api, t, fake)
    assert dict(parse_qsl(urlsplit(payment["redirect_url"]).query))["method"] == (
        "alipay.trade.page.pay"
    )
    query = t.path(f"/payments/{payment['payment_id']}/query")
    assert ok(api.post(query, t.consumer_token))["status"] == "pending"
    assert order(api, t, order_id)["status"] == "created"
    body = fake.pay(payment["payment_id"])
    assert ok(api.post(query, t.consumer_token))["status"] == "succeeded"
    paid = order_state(api, t, server, order_id)
    assert paid[0] == "paid"
    assert _post(api, t, body).text == "success"  # the notify afterwards changes nothing
    assert order_state(api, t, server, order_id) == paid


def test_timed_out_payment_is_closed_and_a_late_one_refunded(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    closed_id, closed = _unpaid(api, t, fake)
    late_id, late = _unpaid(api, t, fake)
    with server.app.state.database.engine.begin() as conn:
        conn.execute(
            update(orders_table)
            .where(orders_table.c.tenant_id == t.tenant_id)
            .values(pay_by=datetime.now(UTC) - timedelta(minutes=1))
        )
    late_body = fake.pay(late["payment_id"])  # paid just before the clock runs
    done = ok(api.post(t.path("/orders/run-due"), t.admin_token))
    assert done["cancelled"] == 1
    assert fake.trades[closed["payment_id"]].status == "TRADE_CLOSED"
    assert order(api, t, closed_id)["status"] == "cancelled"
    assert order(api, t, late_id)["status"] == "created"
    before = economy(server, t)
    ok(api.post(t.path(f"/orders/{late_id}/cancel"), t.consumer_token, json={}))
    assert _post(api, t, late_body).text == "success"
    trade = fake.trades[late["payment_id"]]
    assert trade.refunded_fen == _amount_fen(late)
    detail = order(api, t, late_id)
    assert detail["status"] == "cancelled"
    assert [p["status"] for p in detail["payments"]] == ["refunded"]
    after = economy(server, t)
    assert after["journals"] == before["journals"] + 2  # the money recorded, then given back
    assert _balances(after) == _balances(before)


def test_a_shoppers_cancel_closes_the_payment_at_alipay(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    order_id, payment = _unpaid(api, t, fake)
    detail = ok(api.post(t.path(f"/orders/{order_id}/cancel"), t.consumer_token, json={}))
    assert detail["status"] == "cancelled"
    assert [p["status"] for p in detail["payments"]] == ["closed"]
    # Closed at Alipay too: the cashier page the shopper still has open can no longer be paid.
    assert fake.trades[payment["payment_id"]].status == "TRADE_CLOSED"


def test_refund_goes_back_through_alipay(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    order_id, payment = _unpaid(api, t, fake)
    assert _post(api, t, fake.pay(payment["payment_id"])).text == "success"
    ok(configure(api, t, enabled=False))  # switched off since: its refunds still go through it
    refund = ok(
        api.post(t.path(f"/orders/{order_id}/refunds"), t.consumer_token, json={"reason": "x"}),
        201,
    )
    path = t.path(f"/orders/{order_id}/refunds/{refund['refund_id']}/approve")
    decided = ok(api.post(path, t.admin_token))
    assert decided["order"]["status"] == "refunded"
    trade = fake.trades[payment["payment_id"]]
    assert trade.refunds == {refund["refund_id"]: _amount_fen(payment)}
    # Alipay's notify of the refund: nothing more to apply, answered success.
    notice = fake.notify_body(trade, refund_fee=f"{_amount_fen(payment) / 100:.2f}")
    assert _post(api, t, notice).text == "success"
    assert order(api, t, order_id)["status"] == "refunded"


def test_partial_refunds_add_up_to_the_payment_at_most(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    _, payment = _unpaid(api, t, fake)
    assert _post(api, t, fake.pay(payment["payment_id"])).text == "success"

    class _Request:
        app = server.app

    with server.app.state.database.reading() as uow:
        gateway = channels.gateway_of(
            uow, t.tenant_id, "alipay", registry_of(_Request()), server.base_url, utc_now()
        )
    total, ref = _amount_fen(payment), payment["payment_id"]
    first = gateway.refund(provider_ref=ref, refund_id=ref + "a", amount_fen=30, reason="x")
    assert first.status == "succeeded"
    again = gateway.refund(provider_ref=ref, refund_id=ref + "a", amount_fen=30, reason="x")
    assert again.provider_ref == first.provider_ref  # the same refund, not a second one
    rest = gateway.refund(provider_ref=ref, refund_id=ref + "b", amount_fen=total - 30, reason="x")
    assert rest.status == "succeeded"
    # Refunded whole, the trade is closed: Alipay refuses one fen more (a failed refund, its
    # words kept), which is not an error of the call.
    over = gateway.refund(provider_ref=ref, refund_id=ref + "c", amount_fen=1, reason="x")
    assert (over.status, over.provider_ref) == ("failed", "")
    assert over.reason is not None
    assert "ACQ.TRADE_STATUS_ERROR" in over.reason
    with pytest.raises(ChannelError):  # a transient failure: nothing decided, ask again
        fake.system_error = True
        try:
            gateway.refund(provider_ref=ref, refund_id=ref + "d", amount_fen=1, reason="x")
        finally:
            fake.system_error = False
    assert fake.trades[ref].refunds == {ref + "a": 30, ref + "b": total - 30}


def test_rotation_keeps_the_old_alipay_key_verifying_for_the_grace_period(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    first_id, first = _unpaid(api, t, fake)
    second_id, second = _unpaid(api, t, fake)
    old_alipay_key = fake.key
    in_flight = fake.pay(first["payment_id"])  # signed with the old key
    new_app, new_alipay = new_key(), new_key()
    try:
        fake.key, fake.app_public_key = new_alipay, new_app.public_key()
        rotated = ok(configure(api, t, enabled=True, keys=fields_of(fake, new_app), grace_hours=24))
        assert rotated["previous_until"] is not None
        assert _post(api, t, in_flight).text == "success"
        assert order(api, t, first_id)["status"] == "paid"
        ok(configure(api, t, enabled=True, keys=fields_of(fake, new_app), grace_hours=0))
        fake.key = old_alipay_key
        stale = fake.pay(second["payment_id"])
        fake.key = new_alipay
        before = order_state(api, t, server, second_id)
        answer = _post(api, t, stale)
        assert (answer.status_code, answer.text) == (401, "failure")
        assert order_state(api, t, server, second_id) == before
        assert _post(api, t, fake.notify_body(fake.trades[second["payment_id"]])).text == (
            "success"
        )
        assert order(api, t, second_id)["status"] == "paid"
    finally:
        fake.key, fake.app_public_key = old_alipay_key, app_key.public_key()
