"""The daily reconciliation of a tenant's WeChat Pay channel against its trade bill, fetched
from the local fake (``/v3/bill/tradebill``, then the gzipped CSV with its backtick-prefixed
fields, its SHA1 checked), on SQLite and PostgreSQL: a matched day, then each kind of mismatch;
every channel the tenant has on is reconciled (the sandbox too); a bill that is not there yet
is an error naming the day. And the scheduler's query of payments still open a minute on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, ok
from orders_helpers import economy, order
from sqlalchemy import update
from test_api_wechat_pay import _amount_fen, _post, _unpaid, registry_of_app, switched_on
from wallet_helpers import store_of

from served import Server, app_settings, served
from tokenmall import bootstrap
from tokenmall.adapters.db.mall.payments import payments as payments_table
from tokenmall.domain.mall.gateway import ChannelError
from tokenmall.domain.mall.payouts import Outcome
from tokenmall.services.mall import channel_sync, reconciliation
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.settling import BUSINESS_TZ
from tokenmall.services.mall.uow import Database, utc_now
from wechat_fake import FakeWechatPay, KeySet, key_set, serve, trade_bill


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
    saved = fake.keys
    fake.keys = key_set()
    yield fake.keys
    fake.keys = saved


def _paid(api: Api, t: TenantFixture, fake: FakeWechatPay) -> tuple[str, str, int]:
    order_id, payment = _unpaid(api, t)
    headers, body = fake.callback(fake.pay(payment["payment_id"]))
    assert _post(api, t, headers, body).status_code == 204
    return order_id, payment["payment_id"], _amount_fen(payment)


def test_a_wechat_day_is_reconciled_with_its_trade_bill(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    first, second, third = (_paid(api, t, fake) for _ in range(3))
    refund = ok(
        api.post(t.path(f"/orders/{first[0]}/refunds"), t.consumer_token, json={"reason": "x"}),
        201,
    )
    path = t.path(f"/orders/{first[0]}/refunds/{refund['refund_id']}/approve")
    assert ok(api.post(path, t.admin_token))["order"]["status"] == "refunded"
    now = utc_now()
    day = now.astimezone(BUSINESS_TZ).date()
    db = Database(store_of(server).engine)
    sources = bootstrap.bill_sources(db, registry_of_app(server))
    assert set(sources.of(t.tenant_id)) == {"wechat", "sandbox"}  # each channel it has on

    def run() -> dict[str, Any]:
        done = reconciliation.reconcile(db, sources, t.tenant_id, day, now)
        return {one.report.channel: one for one in done}

    key = day.isoformat()
    fake.bills[key] = trade_bill(
        [
            ("payment", first[1], first[2]),
            ("payment", second[1], second[2]),
            ("payment", third[1], third[2]),
            ("refund", refund["refund_id"], first[2]),
        ]
    )
    matched = run()["wechat"]
    assert (matched.report.matched, matched.report.mismatches) == (4, 0)
    assert matched.report.bill_total_fen == matched.report.ledger_total_fen
    assert {line.channel_ref[:4] for line in matched.lines if line.channel_ref} == {"4200", "5030"}

    fake.bills[key] = trade_bill(
        [
            ("payment", first[1], first[2]),
            ("payment", second[1], second[2] + 1),  # amount differs
            ("payment", "pay_01jzzzzzzzzzzzzzzzzzzzzzzz", 5_00),  # not booked by the shop
            ("refund", refund["refund_id"], first[2]),
        ]  # the third payment is missing at the channel
    )
    report = run()["wechat"]
    outcomes = {line.reference: line.outcome for line in report.lines}
    assert outcomes[second[1]] == Outcome.AMOUNT_DIFFERS
    assert outcomes["pay_01jzzzzzzzzzzzzzzzzzzzzzzz"] == Outcome.MISSING_IN_LEDGER
    assert outcomes[third[1]] == Outcome.MISSING_AT_CHANNEL
    assert outcomes[first[1]] == outcomes[refund["refund_id"]] == Outcome.MATCHED
    assert (
        report.report.matched,
        report.report.amount_differs,
        report.report.missing_in_ledger,
        report.report.missing_at_channel,
    ) == (2, 1, 1, 1)
    assert [line.outcome for line in report.lines][:3] == [
        Outcome.MISSING_IN_LEDGER,
        Outcome.MISSING_AT_CHANNEL,
        Outcome.AMOUNT_DIFFERS,
    ]  # the mismatches first
    days = ok(api.get(t.path(f"/reconciliations/{key}"), t.admin_token))
    assert "wechat" in str(days)


def test_a_missing_or_tampered_bill_is_an_error_and_stores_nothing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    db = Database(store_of(server).engine)
    sources = bootstrap.bill_sources(db, registry_of_app(server))
    wechat = sources.of(t.tenant_id)["wechat"]
    day = date(2026, 1, 2)
    fake.bills.pop(day.isoformat(), None)
    with pytest.raises(ChannelError, match="2026-01-02"):
        wechat.download_bill(channel="wechat", day=day)
    fake.bills[day.isoformat()] = trade_bill([("payment", "pay_x", 100)])
    assert [line.amount_fen for line in wechat.download_bill(channel="wechat", day=day)] == [100]
    with db.reading() as uow:
        assert uow.payouts.reports(t.tenant_id, day=day, limit=5) == []


def test_the_scheduler_asks_wechat_about_open_payments_once_a_minute_old(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    """A payment paid at WeChat Pay whose callback never came: a minute after it was made, the
    round asks WeChat Pay and books it; the callback coming later is a replay; a payment still
    unpaid, or younger than a minute, is left as it is."""
    t = tenant
    switched_on(api, t, keys)
    order_id, payment = _unpaid(api, t)
    young_id, young = _unpaid(api, t)
    unpaid_id, _ = _unpaid(api, t)
    db = Database(store_of(server).engine)
    registry = registry_of_app(server)

    def gateway_of(tenant_id: str) -> Any:
        with db.reading() as uow:
            return channels.tenant_gateway(uow, tenant_id, registry, "", utc_now())

    notice = fake.pay(payment["payment_id"])
    fake.pay(young["payment_id"])
    later = utc_now() + timedelta(seconds=61)
    with db.engine.begin() as conn:  # the young one made just now, as seen a minute later
        conn.execute(
            update(payments_table)
            .where(payments_table.c.payment_id == young["payment_id"])
            .values(created_at=later - timedelta(seconds=30))
        )
    ended = channel_sync.sync_open(db, gateway_of, later)
    assert payment["payment_id"] in {p.payment_id for p in ended}
    assert order(api, t, order_id)["status"] == "paid"
    assert order(api, t, young_id)["status"] != "paid"
    assert order(api, t, unpaid_id)["status"] != "paid"
    paid = economy(server, t)
    again = channel_sync.sync_open(db, gateway_of, later)  # asked again: nothing more
    assert payment["payment_id"] not in {p.payment_id for p in again}
    headers, body = fake.callback(notice)
    assert _post(api, t, headers, body).status_code == 204  # the late callback: a replay
    assert economy(server, t) == paid


def test_the_command_says_which_bill_is_not_there_yet_without_a_traceback(
    api: Api,
    tenant: TenantFixture,
    server: Any,
    fake: FakeWechatPay,
    keys: KeySet,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = tenant
    switched_on(api, t, keys)
    monkeypatch.setenv("TOKENMALL_WECHATPAY_API_BASE", fake.base_url)
    monkeypatch.setenv("TOKENMALL_ENV", "development")
    fake.bills.pop("2026-01-03", None)
    url = server.settings.database_url
    ran = cli("reconcile", "--date", "2026-01-03", "--tenant", t.tenant_id, "--database", url)
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stderr
    assert f"tenant {t.tenant_id} 2026-01-03" in ran.stderr
    assert "2026-01-03" in ran.stderr.splitlines()[-1]
    db = Database(store_of(server).engine)
    with db.reading() as uow:
        stored = uow.payouts.reports(t.tenant_id, day=date(2026, 1, 3), limit=5)
    assert "wechat" not in {r.channel for r in stored}  # nothing stored of the missing bill
