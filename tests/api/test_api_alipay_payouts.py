"""A tenant's own Alipay channel, end to end over real HTTP against the local fake of Alipay's
open platform, on SQLite and PostgreSQL: configured by its admin (PUT /payment-channels/alipay),
it pays an approved withdrawal by an Alipay transfer (单笔转账), and the daily reconciliation
(``tokenmall reconcile``, then the reconciliations API) compares the tenant's Alipay trade bill
with its ledger: a matched day, then a payment missing at the channel and one amount differing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from test_api_alipay import APP_ID, SELLER, _amount_fen, _post, _unpaid, switched_on
from test_api_payouts import cash, everything, register, verified, withdraw
from test_api_withdrawals import aggregates, cash_up
from wallet_helpers import audit_clean, store_of

from alipay_fake import FakeAlipay, bill_row, new_key
from tokenmall.adapters.db.store import Store
from tokenmall.services.mall.settling import BUSINESS_TZ
from tokenmall.services.mall.uow import utc_now


@pytest.fixture(scope="module")
def app_key():  # type: ignore[no-untyped-def]
    return new_key()


@pytest.fixture(scope="module")
def fake(app_key) -> Iterator[FakeAlipay]:  # type: ignore[no-untyped-def]
    server = FakeAlipay(app_id=APP_ID, seller_id=SELLER, app_public_key=app_key.public_key())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


def _transfers(fake: FakeAlipay) -> int:
    return len(fake.transfers)


def test_an_approved_withdrawal_is_paid_by_an_alipay_transfer(
    api: Api, tenant: TenantFixture, store: Store, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    sandbox = t.path("/payment-channels/sandbox")
    ok(api.call("PUT", sandbox, t.admin_token, json={"enabled": False}))  # Alipay, or nothing
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    fake.accounts["li.si@example.com"] = "张三"
    ok(register(api, t, channel="alipay", account="li.si@example.com", real_name="张三"))
    wid = withdraw(api, t, "12.34")
    before = _transfers(fake)
    ok(api.post(t.path(f"/withdrawals/{wid}/approve"), t.admin_token))
    assert ok(api.get(t.path(f"/withdrawals/{wid}"), t.admin_token))["status"] == "paid"
    (payout,) = ok(api.get(t.path("/payouts"), t.admin_token))["items"]
    assert payout["channel"] == "alipay"  # not "manual": the tenant's Alipay paid it
    assert _transfers(fake) == before + 1
    (answer,) = [a for a in fake.transfers.values() if a.get("order_id") == payout["channel_ref"]]
    assert (payout["status"], answer["status"]) == ("succeeded", "SUCCESS")
    assert aggregates(store, t.tenant_id) == (0, 1_234)
    assert cash(api, t) == start - 1_234
    audit_clean(store, t.tenant_id)


def test_a_refused_alipay_transfer_returns_the_cash(
    api: Api, tenant: TenantFixture, store: Store, fake: FakeAlipay, app_key: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    ok(api.call("PUT", t.path("/payment-channels/sandbox"), t.admin_token, json={"enabled": False}))
    verified(api, t)
    start = cash_up(api, t, store, t.consumer_id, t.consumer_token)
    ok(register(api, t, channel="alipay", account="nobody@example.com", real_name="张三"))
    wid = withdraw(api, t, "5.00")
    before = _transfers(fake)
    ok(api.post(t.path(f"/withdrawals/{wid}/approve"), t.admin_token))
    failed = ok(api.get(t.path(f"/withdrawals/{wid}"), t.consumer_token))
    assert failed["status"] == "failed"
    assert "PAYEE_NOT_EXIST" in failed["reason"]  # Alipay's reason
    assert _transfers(fake) == before + 1
    assert cash(api, t) == start
    assert aggregates(store, t.tenant_id) == (0, 0)
    snapshot = everything(store, t.tenant_id)
    ok(api.post(t.path(f"/withdrawals/{wid}/approve"), t.admin_token), 409)
    assert everything(store, t.tenant_id) == snapshot  # approving again changes nothing
    audit_clean(store, t.tenant_id)


def _paid(api: Api, t: TenantFixture, fake: FakeAlipay) -> tuple[str, int]:
    _, payment = _unpaid(api, t, fake)
    assert _post(api, t, fake.pay(payment["payment_id"])).text == "success"
    return payment["payment_id"], _amount_fen(payment)


def _rows(fake: FakeAlipay, paid: list[tuple[str, int]], **amounts: int) -> list[list[str]]:
    rows = []
    for payment_id, fen in paid:
        trade = fake.trades[payment_id]
        at = "2026-12-05 10:00:00"
        rows.append(bill_row(trade.trade_no, payment_id, "交易", amounts.get(payment_id, fen), at))
    return rows


def test_the_tenants_alipay_bill_is_reconciled_by_the_command_and_shown(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeAlipay, app_key: Any, cli: Any
) -> None:
    t = tenant
    switched_on(api, t, fake, app_key)
    first, second, third = (_paid(api, t, fake) for _ in range(3))
    day = utc_now().astimezone(BUSINESS_TZ).date()
    key = day.isoformat()
    url = server.settings.database_url

    def run() -> Any:
        return cli("reconcile", "--date", key, "--tenant", t.tenant_id, "--database", url)

    fake.publish_bill(day, _rows(fake, [first, second, third]))
    ran = run()
    assert "Traceback" not in ran.stderr, ran.stderr
    (line,) = [
        x for x in ran.stdout.splitlines() if x.startswith(f"tenant {t.tenant_id} {key} alipay:")
    ]
    assert "3 matched, 0 missing_in_ledger, 0 missing_at_channel, 0 amount_differs" in line
    shown = ok(api.get(t.path(f"/reconciliations/{key}"), t.admin_token))
    assert "alipay" in str(shown)

    changed = {second[0]: second[1] + 1}
    fake.publish_bill(day, _rows(fake, [first, second], **changed))  # the third is not there
    ran = run()
    assert ran.returncode == 1, ran.stderr
    (line,) = [
        x for x in ran.stdout.splitlines() if x.startswith(f"tenant {t.tenant_id} {key} alipay:")
    ]
    assert "1 matched, 0 missing_in_ledger, 1 missing_at_channel, 1 amount_differs" in line
    assert f"missing_at_channel payment {third[0]}" in ran.stdout
    assert f"amount_differs payment {second[0]}" in ran.stdout
    shown = str(ok(api.get(t.path(f"/reconciliations/{key}"), t.admin_token)))
    assert third[0] in shown
    assert second[0] in shown
