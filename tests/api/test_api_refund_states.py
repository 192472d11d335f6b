"""Refunds WeChat Pay finishes later, against its local fake (``tests/wechat_fake.py``): an
approval the channel answers "processing" is 202 and books nothing; the refund callback (or a
query) books the reversal once; a replayed, forged, unknown or changed callback changes
nothing; a failed refund books nothing and is retried under a new number or abandoned.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import audit_clean, economy, order, order_state
from test_api_wechat_pay import (  # the module's fixtures, shared: one fake, one server
    _amount_fen,
    _post,
    _unpaid,
    fake,
    keys,
    registry_of_app,
    server,
    switched_on,
)
from wallet_helpers import store_of

from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall import refund_channel
from tokenmall.services.mall.uow import Database, utc_now
from wechat_fake import FakeWechatPay, KeySet, key_set

__all__ = ["fake", "keys", "server"]

REFUNDS = "/api/v1/payments/webhooks/wechat/{}/refunds"


def _paid_refund(
    api: Api, t: TenantFixture, fake: FakeWechatPay, keys: KeySet
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A paid order with a refund requested: (order id, payment, refund)."""
    switched_on(api, t, keys)
    order_id, payment = _unpaid(api, t)
    assert _post(api, t, *fake.callback(fake.pay(payment["payment_id"]))).status_code == 204
    refund = ok(
        api.post(t.path(f"/orders/{order_id}/refunds"), t.consumer_token, json={"reason": "x"}),
        201,
    )
    return order_id, payment, refund


def _approve_with(
    api: Api, t: TenantFixture, fake: FakeWechatPay, order_id: str, refund_id: str, state: str
) -> Any:
    fake.refund_status = state
    try:
        return api.post(t.path(f"/orders/{order_id}/refunds/{refund_id}/approve"), t.admin_token)
    finally:
        fake.refund_status = "SUCCESS"


def _notice(payment: dict[str, Any], out_refund_no: str, status: str, fen: int) -> dict[str, Any]:
    return {
        "mchid": "1900000109",
        "out_trade_no": payment["payment_id"],
        "transaction_id": "4200x",
        "out_refund_no": out_refund_no,
        "refund_id": "5030" + out_refund_no[-8:],
        "refund_status": status,
        "amount": {"total": fen, "refund": fen},
    }


def _callback(
    api: Api, t: TenantFixture, fake: FakeWechatPay, notice: dict[str, Any], **kw: Any
) -> Any:
    event = "REFUND." + notice["refund_status"]
    headers, body = fake.callback(notice, event_type=event, **kw)
    return api.http.post(REFUNDS.format(t.tenant_id), content=body, headers=headers)


def _refund(api: Api, t: TenantFixture, order_id: str, refund_id: str) -> Any:
    return ok(api.get(t.path(f"/orders/{order_id}/refunds/{refund_id}"), t.admin_token))


def test_processing_then_the_callback_books_the_refund_once(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    order_id, payment, refund = _paid_refund(api, t, fake, keys)
    rid, fen = refund["refund_id"], _amount_fen(payment)
    paid = economy(server, t)
    before = order_state(api, t, server, order_id)
    answer = ok(_approve_with(api, t, fake, order_id, rid, "PROCESSING"), 202)
    assert answer["refund"]["status"] == "processing"
    assert answer["order"]["status"] == "paid"
    assert order_state(api, t, server, order_id) == before  # nothing booked yet
    assert _refund(api, t, order_id, rid)["status"] == "processing"
    # A forged callback, one for an unknown refund and one of another amount change nothing.
    forger = KeySet(keys.merchant, key_set().platform, keys.platform_id)
    assert (
        _callback(api, t, fake, _notice(payment, rid, "SUCCESS", fen), keys=forger).status_code
        == 401
    )
    unknown = _callback(api, t, fake, _notice(payment, "rfd_nosuchrefund", "SUCCESS", fen))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "UNKNOWN_REFUND"
    changed = _callback(api, t, fake, _notice(payment, rid, "SUCCESS", fen - 1))
    assert changed.status_code == 409
    assert order_state(api, t, server, order_id) == before
    assert _refund(api, t, order_id, rid)["status"] == "processing"
    # WeChat Pay finishes it: the reversal is booked, once.
    fake.refunds[rid]["status"] = "SUCCESS"
    assert _callback(api, t, fake, _notice(payment, rid, "SUCCESS", fen)).status_code == 204
    done = economy(server, t)
    assert done["journals"] == paid["journals"] + 1
    assert done != paid  # the reversal moved the balances
    assert order(api, t, order_id)["status"] == "refunded"
    assert _refund(api, t, order_id, rid)["status"] == "succeeded"
    # Replayed, and asked again: nothing changes.
    assert _callback(api, t, fake, _notice(payment, rid, "SUCCESS", fen)).status_code == 204
    query = t.path(f"/orders/{order_id}/refunds/{rid}/query")
    assert ok(api.post(query, t.admin_token))["status"] == "succeeded"
    assert economy(server, t) == done
    audit_clean(server, t)


def test_processing_then_a_query_books_the_refund(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    order_id, payment, refund = _paid_refund(api, t, fake, keys)
    rid = refund["refund_id"]
    ok(_approve_with(api, t, fake, order_id, rid, "PROCESSING"), 202)
    query = t.path(f"/orders/{order_id}/refunds/{rid}/query")
    before = order_state(api, t, server, order_id)
    assert ok(api.post(query, t.admin_token), 202)["status"] == "processing"
    assert order_state(api, t, server, order_id) == before
    fake.refunds[rid]["status"] = "SUCCESS"
    paid = economy(server, t)
    assert ok(api.post(query, t.admin_token))["status"] == "succeeded"
    assert economy(server, t)["journals"] == paid["journals"] + 1
    assert order(api, t, order_id)["status"] == "refunded"
    # The callback that follows is a replay.
    fen = _amount_fen(payment)
    done = economy(server, t)
    assert _callback(api, t, fake, _notice(payment, rid, "SUCCESS", fen)).status_code == 204
    assert economy(server, t) == done
    audit_clean(server, t)


def test_the_schedulers_round_asks_about_refunds_still_processing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    """A refund whose callback never comes: a minute after it was sent, the scheduler's round
    asks WeChat Pay and books it once; a round before that minute, or while WeChat Pay still
    processes it, changes nothing; the callback coming later is a replay."""
    t = tenant
    order_id, payment, refund = _paid_refund(api, t, fake, keys)
    rid = refund["refund_id"]
    ok(_approve_with(api, t, fake, order_id, rid, "PROCESSING"), 202)
    db = Database(store_of(server).engine)
    registry = registry_of_app(server)

    def gateway_of(tenant_id: str) -> Any:
        with db.reading() as uow:
            return channels.tenant_gateway(uow, tenant_id, registry, "", utc_now())

    before = order_state(api, t, server, order_id)
    fake.refunds[rid]["status"] = "SUCCESS"
    assert refund_channel.sync_processing(db, gateway_of, utc_now()) == []  # too soon to ask
    assert _refund(api, t, order_id, rid)["status"] == "processing"
    later = utc_now() + timedelta(seconds=61)
    fake.refunds[rid]["status"] = "PROCESSING"
    assert refund_channel.sync_processing(db, gateway_of, later) == []  # still processing
    assert order_state(api, t, server, order_id) == before
    fake.refunds[rid]["status"] = "SUCCESS"
    paid = economy(server, t)
    ended = refund_channel.sync_processing(db, gateway_of, later)
    assert [(r.refund_id, r.status) for r in ended] == [(rid, "succeeded")]
    assert economy(server, t)["journals"] == paid["journals"] + 1
    assert order(api, t, order_id)["status"] == "refunded"
    done = economy(server, t)
    assert refund_channel.sync_processing(db, gateway_of, later) == []  # asked again: nothing
    fen = _amount_fen(payment)
    assert _callback(api, t, fake, _notice(payment, rid, "SUCCESS", fen)).status_code == 204
    assert economy(server, t) == done
    audit_clean(server, t)


def test_a_failed_refund_books_nothing_and_is_retried_under_a_new_number(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    order_id, payment, refund = _paid_refund(api, t, fake, keys)
    rid, fen = refund["refund_id"], _amount_fen(payment)
    before = order_state(api, t, server, order_id)
    ok(_approve_with(api, t, fake, order_id, rid, "PROCESSING"), 202)
    fake.refunds[rid]["status"] = "CLOSED"
    assert _callback(api, t, fake, _notice(payment, rid, "CLOSED", fen)).status_code == 204
    failed = _refund(api, t, order_id, rid)
    assert (failed["status"], failed["attempt"]) == ("failed", 1)
    assert failed["failure_reason"]
    assert order_state(api, t, server, order_id) == before
    # A consumer may not retry; the merchant's admin does, under the number <refund id>-2.
    retry = t.path(f"/orders/{order_id}/refunds/{rid}/retry")
    assert api.post(retry, t.consumer_token).status_code == 403
    again = ok(api.post(retry, t.admin_token))
    assert again["refund"]["status"] == "succeeded"
    assert again["refund"]["attempt"] == 2
    assert again["order"]["status"] == "refunded"
    assert sorted(
        r["out_refund_no"]
        for r in fake.refunds.values()
        if r["out_trade_no"] == payment["payment_id"]
    ) == [rid, rid + "-2"]
    # The first attempt's late news changes nothing.
    done = economy(server, t)
    assert _callback(api, t, fake, _notice(payment, rid, "SUCCESS", fen)).status_code == 204
    assert economy(server, t) == done
    audit_clean(server, t)


def test_a_failed_refund_is_abandoned_by_an_admin_with_a_reason(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    order_id, payment, refund = _paid_refund(api, t, fake, keys)
    rid, fen = refund["refund_id"], _amount_fen(payment)
    before = order_state(api, t, server, order_id)
    abandon = t.path(f"/orders/{order_id}/refunds/{rid}/abandon")
    # Only a failed refund can be abandoned.
    assert api.post(abandon, t.admin_token, json={"reason": "paid by bank"}).status_code == 409
    ok(_approve_with(api, t, fake, order_id, rid, "PROCESSING"), 202)
    assert _callback(api, t, fake, _notice(payment, rid, "ABNORMAL", fen)).status_code == 204
    assert api.post(abandon, t.admin_token, json={}).status_code == 422
    gone = ok(api.post(abandon, t.admin_token, json={"reason": "paid by bank transfer"}))
    assert (gone["status"], gone["decision_note"]) == ("abandoned", "paid by bank transfer")
    assert order_state(api, t, server, order_id) == before
    retry = t.path(f"/orders/{order_id}/refunds/{rid}/retry")
    assert api.post(retry, t.admin_token).status_code == 409


def test_a_callback_and_a_query_at_once_book_the_refund_once(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    order_id, payment, refund = _paid_refund(api, t, fake, keys)
    rid, fen = refund["refund_id"], _amount_fen(payment)
    ok(_approve_with(api, t, fake, order_id, rid, "PROCESSING"), 202)
    fake.refunds[rid]["status"] = "SUCCESS"
    paid = economy(server, t)
    query = t.path(f"/orders/{order_id}/refunds/{rid}/query")
    answers: list[int] = []
    start = threading.Barrier(4)

    def by_callback() -> None:
        start.wait()
        answers.append(_callback(api, t, fake, _notice(payment, rid, "SUCCESS", fen)).status_code)

    def by_query() -> None:
        start.wait()
        answers.append(api.post(query, t.admin_token).status_code)

    threads = [threading.Thread(target=f) for f in (by_callback, by_query, by_callback, by_query)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 200, 204, 204]
    assert economy(server, t)["journals"] == paid["journals"] + 1
    assert _refund(api, t, order_id, rid)["status"] == "succeeded"
    audit_clean(server, t)
