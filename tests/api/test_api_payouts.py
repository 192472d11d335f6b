"""Withdrawals paid out through the sandbox's channel over real HTTP, on SQLite and
PostgreSQL: a payee account whose real name must be the verified one (masked on the way back),
a payout that succeeds, one that fails and returns the cash exactly once (balanced journals,
balances before and after), a manual payout with its reference; refusals change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from sqlalchemy import select
from test_api_withdrawals import aggregates, cash_up
from wallet_helpers import audit_clean, snapshot, store_of

from tokenmall import bootstrap
from tokenmall.adapters.db.mall.payouts import payee_accounts, payouts
from tokenmall.adapters.db.store import Store
from tokenmall.domain.mall.payouts import PayoutResult, PayoutStatus
from tokenmall.domain.money import parse_money
from tokenmall.services.mall import payouts as payout_service
from tokenmall.services.mall.kyc import Sealer
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.services.unit_of_work_payouts import PayoutChannels, Payouts

KYC = {"real_name": "张三", "id_number": "11010519491231002X", "phone": "13800138001"}


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def verified(api: Api, t: TenantFixture) -> None:
    """The consumer's real name verified through a submission an admin approved."""
    made = ok(api.post(t.path("/me/kyc"), t.consumer_token, json=KYC), 201)
    ok(api.post(t.path(f"/kyc-submissions/{made['submission_id']}/approve"), t.admin_token))


def register(api: Api, t: TenantFixture, **body: str) -> Any:
    return api.call("PUT", t.path("/payee-account"), t.consumer_token, json=body)


def everything(store: Store, tenant_id: str) -> dict[str, Any]:
    out = snapshot(store, tenant_id)
    with store.read() as conn:
        for table in (payee_accounts, payouts):
            rows = conn.execute(select(table).where(table.c.tenant_id == tenant_id)).all()
            out[table.name] = sorted(tuple(r) for r in rows)
    return out


def withdraw(api: Api, t: TenantFixture, amount: str) -> str:
    made = ok(api.post(t.path("/withdrawals"), t.consumer_token, json={"amount": amount}), 201)
    return str(made["withdrawal_id"])


def cash(api: Api, t: TenantFixture) -> int:
    return parse_money(ok(api.get(t.path("/wallet"), t.consumer_token))["cash"])


def test_a_payee_account_needs_the_verified_name(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    before = everything(store, t.tenant_id)
    refused = register(api, t, channel="wechat", account="o_abcdef123", real_name="张三")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "kyc_required"
    verified(api, t)
    before = everything(store, t.tenant_id)
    for body, field in (
        ({"channel": "wechat", "account": "o_abcdef123", "real_name": "李四"}, "real_name"),
        ({"channel": "wechat", "account": "no spaces!", "real_name": "张三"}, "account"),
        ({"channel": "alipay", "account": "not-a-login", "real_name": "张三"}, "account"),
        ({"channel": "unionpay", "account": "o_abcdef123", "real_name": "张三"}, "channel"),
        ({"channel": "wechat", "account": "o_abcdef123"}, "real_name"),
    ):
        answer = register(api, t, **body)
        assert answer.status_code == 422, body
        assert field in answer.text, body
    assert everything(store, t.tenant_id) == before
    assert api.get(t.path("/payee-account"), t.consumer_token).status_code == 404

    key = "payee-1"
    body = {"channel": "alipay", "account": "zhang.san@example.com", "real_name": " 张三 "}
    first = api.call("PUT", t.path("/payee-account"), t.consumer_token, json=body, key=key)
    made = ok(first)
    assert made["channel"] == "alipay"
    assert made["account_masked"] == "zha********.com"
    assert "zhang.san" not in first.text
    after = everything(store, t.tenant_id)
    replay = api.call("PUT", t.path("/payee-account"), t.consumer_token, json=body, key=key)
    assert ok(replay) == made
    assert everything(store, t.tenant_id) == after
    assert ok(api.get(t.path("/payee-account"), t.consumer_token)) == made
    with store.read() as conn:
        sealed = conn.execute(select(payee_accounts.c.sealed)).scalars().all()
    assert all(b"zhang.san" not in bytes(s) for s in sealed)  # stored sealed


def test_a_payout_succeeds_through_the_channel(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    ok(register(api, t, channel="wechat", account="o_good_openid_1", real_name="张三"))
    wid = withdraw(api, t, "12.00")
    path = t.path(f"/withdrawals/{wid}/approve")
    answer = ok(api.post(path, t.admin_token, key="approve-good"))
    assert answer["status"] == "paying"  # answered when approved; the channel is asked after
    done = ok(api.get(t.path(f"/withdrawals/{wid}"), t.admin_token))
    assert done["status"] == "paid"
    assert aggregates(store, t.tenant_id) == (0, 1_200)
    assert cash(api, t) == start - 1_200
    (payout,) = ok(api.get(t.path("/payouts"), t.admin_token))["items"]
    assert payout["withdrawal_id"] == wid
    assert (payout["status"], payout["channel"], payout["amount"]) == (
        "succeeded",
        "wechat",
        "12.00",
    )
    assert payout["channel_ref"] == f"sbxp_{payout['payout_id']}"
    assert payout["account_masked"] == "o_g********id_1"
    assert api.get(t.path("/payouts"), t.consumer_token).status_code == 403
    after = everything(store, t.tenant_id)
    assert ok(api.post(path, t.admin_token, key="approve-good")) == answer  # a replay
    assert api.post(path, t.admin_token).status_code == 409
    assert everything(store, t.tenant_id) == after
    audit_clean(store, t.tenant_id)


def test_a_failed_payout_returns_the_cash_once(
    api: Api, server: Any, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    ok(register(api, t, channel="alipay", account="fail.me@example.com", real_name="张三"))
    wid = withdraw(api, t, "20.00")
    assert cash(api, t) == start - 2_000
    assert aggregates(store, t.tenant_id) == (2_000, 0)
    answer = ok(api.post(t.path(f"/withdrawals/{wid}/approve"), t.admin_token))
    assert answer["status"] == "paying"
    failed = ok(api.get(t.path(f"/withdrawals/{wid}"), t.consumer_token))
    assert failed["status"] == "failed"
    assert "refused" in failed["reason"]
    assert cash(api, t) == start  # all of it back, once
    assert aggregates(store, t.tenant_id) == (0, 0)
    (payout,) = ok(api.get(t.path("/payouts?status=failed"), t.admin_token))["items"]
    assert payout["reason"] == failed["reason"]
    audit_clean(store, t.tenant_id)  # every journal balanced, every balance rebuilt

    # sending it again (the scheduler's retry) changes nothing: the payout is settled
    before = everything(store, t.tenant_id)
    db, sealer, channel = services(server)
    again = payout_service.send(db, channel, sealer, t.tenant_id, payout["payout_id"], utc_now())
    assert again.status == "failed"
    assert payout_service.retry_processing(db, channel, sealer, utc_now()) == []
    assert everything(store, t.tenant_id) == before
    assert cash(api, t) == start
    assert api.get(t.path("/payouts/po_nobody"), t.admin_token).status_code == 404


def services(server: Any) -> tuple[Database, Sealer, PayoutChannels]:
    """What the server pays through: its database, its sealer, its tenants' channels."""
    secret = server.settings.secret_key.get_secret_value()
    db = Database(store_of(server).engine)
    registry = bootstrap.payment_channels(
        secret, True, wechat_api_base=server.settings.wechatpay_api_base
    )
    channels = bootstrap.payout_channel(db, registry)
    return db, bootstrap.kyc_sealer(secret), channels


class Answers:
    """A channel that answers what the test says, and counts the transfers asked."""

    def __init__(self, *results: PayoutResult) -> None:
        self.results = list(results)
        self.asked: list[str] = []

    def transfer(self, *, payout_id: str, **_: Any) -> PayoutResult:
        self.asked.append(payout_id)
        return self.results.pop(0)

    def payable(self, tenant_id: str) -> frozenset[str]:
        return frozenset({"wechat", "alipay"})

    def of(self, tenant_id: str, channel: str, **_: Any) -> Payouts:
        return self


def test_a_processing_payout_is_asked_again_until_it_ends(
    api: Api, server: Any, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    ok(register(api, t, channel="wechat", account="o_slow_openid", real_name="张三"))
    wid = withdraw(api, t, "7.00")
    ok(api.post(t.path(f"/withdrawals/{wid}/approve"), t.admin_token))
    assert ok(api.get(t.path(f"/withdrawals/{wid}"), t.admin_token))["status"] == "paying"
    (payout,) = ok(api.get(t.path("/payouts?status=processing"), t.admin_token))["items"]
    assert payout["attempts"] == 1
    assert aggregates(store, t.tenant_id) == (700, 0)
    db, sealer, _ = services(server)
    channel = Answers(
        PayoutResult(PayoutStatus.PROCESSING), PayoutResult(PayoutStatus.SUCCEEDED, "wx_1")
    )
    (still,) = payout_service.retry_processing(db, channel, sealer, utc_now())
    assert (still.status, still.attempts) == ("processing", 2)
    (done,) = payout_service.retry_processing(db, channel, sealer, utc_now())
    assert (done.status, done.attempts, done.channel_ref) == ("succeeded", 3, "wx_1")
    assert channel.asked == [payout["payout_id"]] * 2  # the same id: the channel pays once
    assert payout_service.retry_processing(db, channel, sealer, utc_now()) == []
    assert ok(api.get(t.path(f"/withdrawals/{wid}"), t.admin_token))["status"] == "paid"
    assert aggregates(store, t.tenant_id) == (0, 700)
    assert cash(api, t) == start - 700
    audit_clean(store, t.tenant_id)


def test_a_manual_payout_is_marked_paid_with_its_reference(
    api: Api, tenant: TenantFixture, store: Store
) -> None:
    t = tenant
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    ok(register(api, t, channel="wechat", account="o_good_openid_2", real_name="张三"))
    wid = withdraw(api, t, "5.00")
    path = t.path(f"/withdrawals/{wid}/approve")
    before = everything(store, t.tenant_id)
    for bad in ({"reference": ""}, {"reference": "x" * 201}, {"reference": 5}, {"other": "x"}):
        assert api.post(path, t.admin_token, json=bad).status_code == 422, bad
    assert everything(store, t.tenant_id) == before
    paid = ok(api.post(path, t.admin_token, json={"reference": "ICBC-20261206-0001"}))
    assert paid["status"] == "paid"
    (payout,) = ok(api.get(t.path("/payouts"), t.admin_token))["items"]
    assert (payout["channel"], payout["reference"], payout["status"]) == (
        "manual",
        "ICBC-20261206-0001",
        "succeeded",
    )
    assert payout["account_masked"] is None
    assert cash(api, t) == start - 500
    assert aggregates(store, t.tenant_id) == (0, 500)
    audit_clean(store, t.tenant_id)
