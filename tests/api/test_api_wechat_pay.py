"""WeChat Pay v3 against a local fake that signs as WeChat Pay does (``tests/wechat_fake.py``):
a tenant's admin saves and tests the key set, a shopper pays by QR code, the callback is
verified by the SDK and applied once; forged, replayed, changed, stale and malformed
callbacks are refused and change nothing; the shopper's return asks the channel; a timed-out
order's payment is closed, and one paid late is refunded; refunds go back through WeChat Pay.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, ok
from orders_helpers import callbacks_of, checkout, economy, order, order_state
from sqlalchemy import select, update

from served import Server, app_settings, served
from tokenmall.adapters.db.mall.orders import orders as orders_table
from tokenmall.adapters.db.mall.payment_channels import payment_channels
from tokenmall.domain.mall.gateway import ChannelError
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.payment_channels import registry_of
from wechat_fake import APIV3_KEY, FakeWechatPay, KeySet, key_set, serve

WEBHOOK = "/api/v1/payments/webhooks/wechat/{}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechatPay]:
    with serve(FakeWechatPay(key_set())) as running:
        yield running


@pytest.fixture(scope="module")
def server(db_url: str, fake: FakeWechatPay) -> Iterator[Server]:
    settings = app_settings(
        db_url,
        operator_email=OPERATOR_EMAIL,
        operator_password=OPERATOR_PASSWORD,
        wechatpay_api_base=fake.base_url,
    )
    with served(settings) as (base, app):
        yield Server(base, settings, app)


@pytest.fixture
def keys(fake: FakeWechatPay) -> Iterator[KeySet]:
    """Each test starts with a fresh key set at the fake (and leaves it as it found it)."""
    saved = fake.keys
    fake.keys = key_set()
    yield fake.keys
    fake.keys = saved


def configure(api: Api, t: TenantFixture, **body: Any) -> Any:
    return api.call("PUT", t.path("/payment-channels/wechat"), t.admin_token, json=body)


def switched_on(api: Api, t: TenantFixture, keys: KeySet) -> None:
    ok(configure(api, t, enabled=True, mode="native", keys=keys.fields()))


def _post(api: Api, t: TenantFixture, headers: dict[str, str], body: bytes) -> Any:
    return api.http.post(WEBHOOK.format(t.tenant_id), content=body, headers=headers)


def _unpaid(api: Api, t: TenantFixture) -> tuple[str, dict[str, Any]]:
    done = checkout(api, t, [(t.sku_id, 1)])
    return done["orders"][0]["order_id"], done["payments"][0]


def registry_of_app(server: Any) -> channels.Registry:
    """The served app's channel registry (as its routes make it)."""

    class _Request:
        app = server.app

    return registry_of(_Request())  # type: ignore[arg-type]


def _balances(figures: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in figures.items() if k not in ("journals", "last")}


def _amount_fen(payment: dict[str, Any]) -> int:
    whole, _, cents = payment["amount"].partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def test_key_set_is_checked_sealed_masked_and_never_shown(
    api: Api, tenant: TenantFixture, server: Any, keys: KeySet
) -> None:
    t = tenant
    listed = ok(api.get(t.path("/payment-channels"), t.admin_token))["channels"]
    assert [(c["channel"], c["enabled"]) for c in listed] == [
        ("sandbox", True),
        ("wechat", False),
        ("alipay", False),
    ]
    # Switching it on before any keys are saved, and broken key sets, are refused.
    answer = configure(api, t, enabled=True)
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "keys"
    for field, value, status in (
        ("apiv3_key", "short", 422),
        ("private_key", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----", 422),
        ("mchid", "merchant", 422),
        ("platform_public_key_id", "", 422),
    ):
        answer = configure(api, t, enabled=True, keys={**keys.fields(), field: value})
        assert answer.status_code == status, (field, answer.text)
        assert answer.json()["error"]["field"] == field
    assert ok(api.get(t.path("/payment-channels"), t.admin_token))["channels"] == listed
    # The consumer and the merchant may not configure payments.
    for token in (t.consumer_token, t.merchant_token):
        answer = api.call("PUT", t.path("/payment-channels/wechat"), token, json={"enabled": True})
        assert answer.status_code == 403
    saved = ok(configure(api, t, enabled=True, keys=keys.fields()))
    assert saved["enabled"] is True
    assert saved["mode"] == "native"
    assert saved["settings"]["mchid"] == keys.fields()["mchid"]
    assert saved["settings"]["apiv3_key"] == "****" + APIV3_KEY[-4:]
    shown = api.get(t.path("/payment-channels"), t.admin_token).text
    for secret in (APIV3_KEY, keys.fields()["private_key"].splitlines()[1]):
        assert secret not in shown
    with server.app.state.database.read() as conn:
        row = conn.execute(
            select(payment_channels).where(payment_channels.c.tenant_id == t.tenant_id)
        ).one()
    assert APIV3_KEY.encode() not in bytes(row.sealed)
    assert b"PRIVATE KEY" not in bytes(row.sealed)
    assert APIV3_KEY not in row.public


def test_connection_test_says_which_keys_are_wrong(
    api: Api, tenant: TenantFixture, keys: KeySet
) -> None:
    t = tenant
    path = t.path("/payment-channels/wechat/test")
    assert api.post(path, t.admin_token).status_code == 409  # nothing saved yet
    switched_on(api, t, keys)
    good = ok(api.post(path, t.admin_token))
    assert good["ok"] is True
    # The platform key of another account: WeChat Pay's answer does not verify.
    other = key_set()
    ok(configure(api, t, enabled=True, keys={**keys.fields(), **_platform(other, keys)}))
    answer = api.post(path, t.admin_token)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "channel_error"
    assert answer.json()["error"]["field"] == "platform_public_key"
    # A merchant key WeChat Pay does not hold: it refuses the request's signature.
    ok(configure(api, t, enabled=True, keys={**keys.fields(), **_merchant(other)}))
    answer = api.post(path, t.admin_token)
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "private_key"
    assert "private_key" in answer.json()["error"]["message"]


def _platform(other: KeySet, keys: KeySet) -> dict[str, str]:
    fields = other.fields()
    return {
        "platform_public_key": fields["platform_public_key"],
        "platform_public_key_id": keys.platform_id,
    }


def _merchant(other: KeySet) -> dict[str, str]:
    return {"private_key": other.fields()["private_key"]}


def test_misconfigured_keys_refuse_checkout_with_409_and_change_nothing(
    api: Api, tenant: TenantFixture, server: Any, keys: KeySet
) -> None:
    t = tenant
    ok(configure(api, t, enabled=True, keys={**keys.fields(), **_merchant(key_set())}))
    ok(api.post(t.path("/cart/lines"), t.consumer_token, json={"sku_id": t.sku_id, "quantity": 1}))
    before = (
        ok(api.get(t.path("/orders"), t.admin_token)),
        ok(api.get(t.path(f"/skus/{t.sku_id}"), t.admin_token))["stock"],
        economy(server, t),
    )
    answer = api.post(t.path("/checkout"), t.consumer_token, json={})
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "channel_error"
    after = (
        ok(api.get(t.path("/orders"), t.admin_token)),
        ok(api.get(t.path(f"/skus/{t.sku_id}"), t.admin_token))["stock"],
        economy(server, t),
    )
    assert after == before


def test_good_callback_pays_once_and_a_replay_changes_nothing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    order_id, payment = _unpaid(api, t)
    assert payment["gateway"] == "wechat"
    assert payment["redirect_url"].startswith("weixin://wxpay/bizpayurl")
    headers, body = fake.callback(fake.pay(payment["payment_id"]))
    answer = _post(api, t, headers, body)
    assert answer.status_code == 204, answer.text
    paid = order_state(api, t, server, order_id)
    assert paid[0] == "paid"
    # WeChat Pay delivers the same callback again: answered as taken, nothing changes.
    answer = _post(api, t, headers, body)
    assert answer.status_code == 204
    assert order_state(api, t, server, order_id) == paid
    assert callbacks_of(server, payment["payment_id"]) == [
        ("accepted", "order paid"),
        ("refused", "replayed"),
    ]


def test_forged_changed_stale_and_malformed_callbacks_are_refused_and_change_nothing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    order_id, payment = _unpaid(api, t)
    before = order_state(api, t, server, order_id)
    resource = fake.pay(payment["payment_id"])
    forger = KeySet(keys.merchant, key_set().platform, keys.platform_id)
    stale = int(datetime.now(UTC).timestamp()) - 600
    cases: list[tuple[str, tuple[dict[str, str], bytes], int, str]] = [
        ("forged signature", fake.callback(resource, keys=forger), 401, "BAD_SIGNATURE"),
        (
            "changed amount",
            fake.callback({**resource, "amount": {**resource["amount"], "total": 1}}),
            422,
            "AMOUNT_MISMATCH",
        ),
        (
            "wrong currency",
            fake.callback({**resource, "amount": {**resource["amount"], "currency": "USD"}}),
            422,
            "WRONG_CURRENCY",
        ),
        ("stale timestamp", fake.callback(resource, stamp=stale), 401, "STALE_TIMESTAMP"),
        (
            "wrong API v3 key",
            fake.callback(
                resource, keys=KeySet(keys.merchant, keys.platform, keys.platform_id, "f" * 32)
            ),
            401,
            "BAD_SIGNATURE",
        ),
    ]
    headers, body = fake.callback(resource)
    cases += [
        (
            "body changed after signing",
            (headers, body.replace(b"EV-", b"EW-")),
            401,
            "BAD_SIGNATURE",
        ),
        ("malformed body", (fake.signed_headers("{not json"), b"{not json"), 400, "BAD_BODY"),
        ("no signature", ({}, body), 400, "MISSING_SIGNATURE"),
    ]
    for name, (h, b), status, code in cases:
        answer = _post(api, t, h, b)
        assert answer.status_code == status, (name, answer.text)
        assert answer.json()["code"] == code, name
        assert answer.json()["message"]
        assert order_state(api, t, server, order_id) == before, name
    # The genuine callback is still taken: no refusal burnt its transaction id.
    assert _post(api, t, headers, body).status_code == 204
    assert order(api, t, order_id)["status"] == "paid"


def test_return_before_the_callback_asks_the_channel(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    order_id, payment = _unpaid(api, t)
    query = t.path(f"/payments/{payment['payment_id']}/query")
    assert ok(api.post(query, t.consumer_token))["status"] == "pending"  # not paid yet
    assert order(api, t, order_id)["status"] == "created"
    resource = fake.pay(payment["payment_id"])
    assert ok(api.post(query, t.consumer_token))["status"] == "succeeded"
    paid = order_state(api, t, server, order_id)
    assert paid[0] == "paid"
    # The callback that comes afterwards is the same transaction: taken, nothing changes.
    headers, body = fake.callback(resource)
    assert _post(api, t, headers, body).status_code == 204
    assert order_state(api, t, server, order_id) == paid


def test_timed_out_payment_is_closed_and_a_late_one_refunded(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    closed_id, closed = _unpaid(api, t)
    late_id, late = _unpaid(api, t)
    with server.app.state.database.engine.begin() as conn:
        conn.execute(
            update(orders_table)
            .where(orders_table.c.tenant_id == t.tenant_id)
            .values(pay_by=datetime.now(UTC) - timedelta(minutes=1))
        )
    # One payer pays just before the clock runs: that order cannot be closed, it stays.
    paid_resource = fake.pay(late["payment_id"])
    done = ok(api.post(t.path("/orders/run-due"), t.admin_token))
    assert done["cancelled"] == 1
    assert fake.orders[closed["payment_id"]]["trade_state"] == "CLOSED"
    assert order(api, t, closed_id)["status"] == "cancelled"
    assert order(api, t, late_id)["status"] == "created"
    before = economy(server, t)
    # The order is cancelled anyway (the consumer gives up) and the late callback comes: the
    # money is refunded through WeChat Pay at once, in full, and the ledger is back as it was.
    ok(api.post(t.path(f"/orders/{late_id}/cancel"), t.consumer_token, json={}))
    headers, body = fake.callback(paid_resource)
    assert _post(api, t, headers, body).status_code == 204
    refunds = [r for r in fake.refunds.values() if r["out_trade_no"] == late["payment_id"]]
    assert [r["amount"]["refund"] for r in refunds] == [_amount_fen(late)]
    detail = order(api, t, late_id)
    assert detail["status"] == "cancelled"
    assert [p["status"] for p in detail["payments"]] == ["refunded"]
    after = economy(server, t)
    assert after["journals"] == before["journals"] + 2  # the money recorded, then given back
    assert _balances(after) == _balances(before)


def test_a_shoppers_cancel_closes_the_payment_at_wechat_pay(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    order_id, payment = _unpaid(api, t)
    assert fake.orders[payment["payment_id"]]["trade_state"] == "NOTPAY"
    detail = ok(api.post(t.path(f"/orders/{order_id}/cancel"), t.consumer_token, json={}))
    assert detail["status"] == "cancelled"
    assert [p["status"] for p in detail["payments"]] == ["closed"]
    # Closed at WeChat Pay too: the QR code the shopper still holds can no longer be paid.
    assert fake.orders[payment["payment_id"]]["trade_state"] == "CLOSED"


def test_refund_goes_back_through_wechat_pay(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    order_id, payment = _unpaid(api, t)
    headers, body = fake.callback(fake.pay(payment["payment_id"]))
    assert _post(api, t, headers, body).status_code == 204
    # The tenant switches WeChat Pay off afterwards: its refunds still go through it.
    ok(configure(api, t, enabled=False))
    refund = ok(
        api.post(t.path(f"/orders/{order_id}/refunds"), t.consumer_token, json={"reason": "x"}),
        201,
    )
    path = t.path(f"/orders/{order_id}/refunds/{refund['refund_id']}/approve")
    decided = ok(api.post(path, t.admin_token))
    assert decided["order"]["status"] == "refunded"
    sent = fake.refunds[refund["refund_id"]]
    assert sent["amount"] == {
        "refund": _amount_fen(payment),
        "total": _amount_fen(payment),
        "currency": "CNY",
    }
    # WeChat Pay's refund callback is verified and taken; a forged one is refused.
    notice = {
        "mchid": "1900000109",
        "out_trade_no": payment["payment_id"],
        "transaction_id": "4200x",
        "out_refund_no": refund["refund_id"],
        "refund_id": sent["refund_id"],
        "refund_status": "SUCCESS",
        "amount": {"total": _amount_fen(payment), "refund": _amount_fen(payment)},
    }
    h, b = fake.callback(notice, event_type="REFUND.SUCCESS")
    url = WEBHOOK.format(t.tenant_id) + "/refunds"
    assert api.http.post(url, content=b, headers=h).status_code == 204
    forger = KeySet(keys.merchant, key_set().platform, keys.platform_id)
    h, b = fake.callback(notice, event_type="REFUND.SUCCESS", keys=forger)
    assert api.http.post(url, content=b, headers=h).status_code == 401


def test_rotation_keeps_the_old_keys_verifying_for_the_grace_period(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    first_id, first = _unpaid(api, t)
    second_id, second = _unpaid(api, t)
    # A callback signed with the old keys is in flight while the merchant rotates.
    old_callback = fake.callback(fake.pay(first["payment_id"]))
    new = key_set("PUB_KEY_ID_0119000002")
    rotated = ok(configure(api, t, enabled=True, keys=new.fields(), grace_hours=24))
    assert rotated["previous_until"] is not None
    fake.keys = new
    assert _post(api, t, *old_callback).status_code == 204
    assert order(api, t, first_id)["status"] == "paid"
    # Saved again with no grace period: the old keys verify nothing any more.
    ok(configure(api, t, enabled=True, keys=new.fields(), grace_hours=0))
    fake.keys = keys
    stale_keys = fake.callback(fake.pay(second["payment_id"]))
    fake.keys = new
    before = order_state(api, t, server, second_id)
    assert _post(api, t, *stale_keys).status_code == 401
    assert order_state(api, t, server, second_id) == before
    # Callbacks with the new keys are taken.
    assert _post(api, t, *fake.callback(fake.transaction(second["payment_id"]))).status_code == 204
    assert order(api, t, second_id)["status"] == "paid"


def test_a_refund_is_booked_only_once_wechat_pay_confirms_it(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    order_id, payment = _unpaid(api, t)
    headers, body = fake.callback(fake.pay(payment["payment_id"]))
    assert _post(api, t, headers, body).status_code == 204
    refund = ok(
        api.post(t.path(f"/orders/{order_id}/refunds"), t.consumer_token, json={"reason": "x"}),
        201,
    )
    path = t.path(f"/orders/{order_id}/refunds/{refund['refund_id']}/approve")
    before = order_state(api, t, server, order_id)
    fake.refund_status = "PROCESSING"
    try:
        answer = api.post(path, t.admin_token)
    finally:
        fake.refund_status = "SUCCESS"
    assert answer.status_code == 202, answer.text
    assert answer.json()["refund"]["status"] == "processing"
    assert order_state(api, t, server, order_id) == before  # nothing booked yet
    # WeChat Pay finishes it; asked about it, the same refund (not a second one) is booked.
    fake.refunds[refund["refund_id"]]["status"] = "SUCCESS"
    query = t.path(f"/orders/{order_id}/refunds/{refund['refund_id']}/query")
    assert ok(api.post(query, t.admin_token))["status"] == "succeeded"
    assert order(api, t, order_id)["status"] == "refunded"
    assert [
        r["out_refund_no"]
        for r in fake.refunds.values()
        if r["out_trade_no"] == payment["payment_id"]
    ] == [refund["refund_id"]]


def test_partial_refunds_add_up_to_the_payment_at_most(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    _, payment = _unpaid(api, t)
    headers, body = fake.callback(fake.pay(payment["payment_id"]))
    assert _post(api, t, headers, body).status_code == 204
    with server.app.state.database.reading() as uow:
        gateway = channels.gateway_of(
            uow, t.tenant_id, "wechat", registry_of_app(server), server.base_url, utc_now()
        )
    total = _amount_fen(payment)
    ref = payment["payment_id"]
    first = gateway.refund(provider_ref=ref, refund_id=ref + "a", amount_fen=30, reason="x")
    assert first.status == "succeeded"
    again = gateway.refund(provider_ref=ref, refund_id=ref + "a", amount_fen=30, reason="x")
    assert again.provider_ref == first.provider_ref  # the same refund, not a second one
    rest = gateway.refund(provider_ref=ref, refund_id=ref + "b", amount_fen=total - 30, reason="x")
    assert rest.status == "succeeded"
    # One fen more than is left: WeChat Pay refuses the refund itself (a failed refund, its
    # words kept), which is not an error of the call.
    over = gateway.refund(provider_ref=ref, refund_id=ref + "c", amount_fen=1, reason="x")
    assert (over.status, over.provider_ref) == ("failed", "")
    assert over.reason is not None
    assert "INVALID_REQUEST" in over.reason
    with pytest.raises(ChannelError):  # more than the payment: refused before asking
        gateway.refund(provider_ref=ref, refund_id=ref + "d", amount_fen=total + 1, reason="x")
    sent = [r["amount"]["refund"] for r in fake.refunds.values() if r["out_trade_no"] == ref]
    assert sent == [30, total - 30]


def test_h5_mode_sends_the_payer_to_wechat_pay(
    api: Api, tenant: TenantFixture, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    ok(configure(api, t, enabled=True, mode="h5", keys=keys.fields()))
    _, payment = _unpaid(api, t)
    assert payment["redirect_url"].startswith("https://wx.tenpay.com/")
    answer = configure(api, t, enabled=True, mode="jsapi")
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "mode"


def test_the_app_secret_is_sealed_masked_and_tested_only_as_present(
    api: Api, tenant: TenantFixture, server: Any, keys: KeySet
) -> None:
    t = tenant
    secret = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    path = t.path("/payment-channels/wechat/test")
    switched_on(api, t, keys)
    assert ok(api.post(path, t.admin_token))["message"].endswith("; no app_secret")
    with server.app.state.database.read() as conn:
        before = conn.execute(
            select(payment_channels).where(payment_channels.c.tenant_id == t.tenant_id)
        ).one()
    answer = configure(api, t, enabled=True, keys={**keys.fields(), "app_secret": "not-a-secret"})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "app_secret"
    with server.app.state.database.read() as conn:
        after = conn.execute(
            select(payment_channels).where(payment_channels.c.tenant_id == t.tenant_id)
        ).one()
    assert after == before  # refused: nothing changed
    saved = ok(configure(api, t, enabled=True, keys={**keys.fields(), "app_secret": secret}))
    assert saved["settings"]["app_secret"] == "****" + secret[-4:]
    assert secret not in api.get(t.path("/payment-channels"), t.admin_token).text
    with server.app.state.database.read() as conn:
        row = conn.execute(
            select(payment_channels).where(payment_channels.c.tenant_id == t.tenant_id)
        ).one()
    assert secret.encode() not in bytes(row.sealed)
    assert secret not in row.public
    assert ok(api.post(path, t.admin_token))["message"].endswith("; app_secret present")
