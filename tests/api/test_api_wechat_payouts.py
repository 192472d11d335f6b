"""Withdrawals paid out through the tenant's own WeChat Pay merchant account (商家转账), against
the local fake that signs as WeChat Pay does, over real HTTP on SQLite and PostgreSQL: a payout
that succeeds (the real name handed over encrypted), one that fails and returns the cash exactly
once, one waiting for the person's confirmation that the scheduler's round asks again until it
succeeds, and the channel chosen per tenant from its enabled channels and the payee's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, ok
from test_api_payouts import cash, everything, register, services, verified, withdraw
from test_api_wechat_pay import switched_on
from test_api_withdrawals import aggregates, cash_up
from wallet_helpers import audit_clean, store_of

from served import Server, app_settings, served
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.payments.wechat_payout import out_bill_no
from tokenmall.services.mall import payouts as payout_service
from tokenmall.services.mall.uow import utc_now
from wechat_fake import FakeWechatPay, KeySet, key_set, serve

BILLS = "/v3/fund-app/mch-transfer/transfer-bills"


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
def store(server: Any) -> Store:
    return store_of(server)


@pytest.fixture
def keys(fake: FakeWechatPay) -> Iterator[KeySet]:
    saved = fake.keys
    fake.keys = key_set()
    yield fake.keys
    fake.keys = saved


def _posts(fake: FakeWechatPay) -> int:
    return sum(1 for method, path in fake.requests if (method, path) == ("POST", BILLS))


def test_a_payout_succeeds_through_the_merchant_transfer(
    api: Api, tenant: TenantFixture, store: Store, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    ok(register(api, t, channel="wechat", account="o_wx_paid_openid", real_name="张三"))
    wid = withdraw(api, t, "12.00")
    assert ok(api.post(t.path(f"/withdrawals/{wid}/approve"), t.admin_token))["status"] == "paying"
    assert ok(api.get(t.path(f"/withdrawals/{wid}"), t.admin_token))["status"] == "paid"
    (payout,) = ok(api.get(t.path("/payouts"), t.admin_token))["items"]
    bill = fake.transfers[out_bill_no(payout["payout_id"])]
    assert (bill["openid"], bill["transfer_amount"], bill["user_name"]) == (
        "o_wx_paid_openid",
        1_200,
        "张三",  # sent encrypted with the platform key, checked by WeChat Pay
    )
    assert (payout["status"], payout["channel_ref"]) == ("succeeded", bill["transfer_bill_no"])
    assert aggregates(store, t.tenant_id) == (0, 1_200)
    assert cash(api, t) == start - 1_200
    audit_clean(store, t.tenant_id)


def test_a_failed_transfer_returns_the_cash_exactly_once(
    api: Api, server: Any, tenant: TenantFixture, store: Store, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    fake.transfer_states["o_wx_refused_openid"] = "FAIL"
    ok(register(api, t, channel="wechat", account="o_wx_refused_openid", real_name="张三"))
    wid = withdraw(api, t, "20.00")
    posts = _posts(fake)
    ok(api.post(t.path(f"/withdrawals/{wid}/approve"), t.admin_token))
    failed = ok(api.get(t.path(f"/withdrawals/{wid}"), t.consumer_token))
    assert failed["status"] == "failed"
    assert "PAYEE_ACCOUNT_ABNORMAL" in failed["reason"]  # the channel's reason
    assert cash(api, t) == start
    assert aggregates(store, t.tenant_id) == (0, 0)
    assert _posts(fake) == posts + 1
    audit_clean(store, t.tenant_id)

    before = everything(store, t.tenant_id)
    db, sealer, channels = services(server)
    (payout,) = ok(api.get(t.path("/payouts?status=failed"), t.admin_token))["items"]
    again = payout_service.send(db, channels, sealer, t.tenant_id, payout["payout_id"], utc_now())
    assert again.status == "failed"
    assert payout_service.retry_processing(db, channels, sealer, utc_now()) == []
    assert everything(store, t.tenant_id) == before  # nothing returned twice
    assert cash(api, t) == start
    assert _posts(fake) == posts + 1


def test_a_transfer_waiting_for_confirmation_is_asked_again_until_it_succeeds(
    api: Api, server: Any, tenant: TenantFixture, store: Store, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    fake.transfer_states["o_wx_waiting_openid"] = "WAIT_USER_CONFIRM"
    ok(register(api, t, channel="wechat", account="o_wx_waiting_openid", real_name="张三"))
    wid = withdraw(api, t, "7.00")
    ok(api.post(t.path(f"/withdrawals/{wid}/approve"), t.admin_token))
    assert ok(api.get(t.path(f"/withdrawals/{wid}"), t.admin_token))["status"] == "paying"
    (payout,) = ok(api.get(t.path("/payouts?status=processing"), t.admin_token))["items"]
    number = out_bill_no(payout["payout_id"])
    assert payout["channel_ref"] == fake.transfers[number]["transfer_bill_no"]
    db, sealer, channels = services(server)
    posts = _posts(fake)
    mine = [p for p in payout_service.retry_processing(db, channels, sealer, utc_now())]
    (still,) = [p for p in mine if p.payout_id == payout["payout_id"]]
    assert (still.status, still.attempts) == ("processing", 2)
    assert aggregates(store, t.tenant_id) == (700, 0)
    fake.transfers[number]["state"] = "SUCCESS"  # the person confirmed in WeChat
    payout_service.retry_processing(db, channels, sealer, utc_now())
    assert ok(api.get(t.path(f"/withdrawals/{wid}"), t.admin_token))["status"] == "paid"
    assert _posts(fake) == posts  # asked by its out_bill_no, never made again
    assert aggregates(store, t.tenant_id) == (0, 700)
    assert cash(api, t) == start - 700
    audit_clean(store, t.tenant_id)


def test_the_channel_is_the_tenants_and_the_payees(
    api: Api, tenant: TenantFixture, store: Store, fake: FakeWechatPay, keys: KeySet
) -> None:
    """An Alipay payee of a tenant with WeChat Pay on and the sandbox off has no channel: the
    approval pays manually; with the sandbox on, the sandbox pays it; a WeChat payee of a
    tenant without WeChat Pay is paid by the sandbox, never by WeChat Pay."""
    t = tenant
    verified(api, t)
    cash_up(api, t, store, t.consumer_id, t.consumer_token)
    posts = _posts(fake)
    ok(register(api, t, channel="wechat", account="o_wx_sandboxed", real_name="张三"))
    first = withdraw(api, t, "1.00")
    ok(api.post(t.path(f"/withdrawals/{first}/approve"), t.admin_token))
    (payout,) = ok(api.get(t.path("/payouts"), t.admin_token))["items"]
    assert payout["channel_ref"] == f"sbxp_{payout['payout_id']}"
    assert _posts(fake) == posts

    switched_on(api, t, keys)
    sandbox = t.path("/payment-channels/sandbox")
    ok(api.call("PUT", sandbox, t.admin_token, json={"enabled": False}))
    ok(register(api, t, channel="alipay", account="zhang.san@example.com", real_name="张三"))
    second = withdraw(api, t, "2.00")
    done = ok(api.post(t.path(f"/withdrawals/{second}/approve"), t.admin_token))
    assert done["status"] == "paid"  # no channel for an Alipay account: paid manually
    manual = [p for p in ok(api.get(t.path("/payouts"), t.admin_token))["items"]]
    assert {p["channel"] for p in manual if p["withdrawal_id"] == second} == {"manual"}
    assert _posts(fake) == posts
    audit_clean(store, t.tenant_id)
