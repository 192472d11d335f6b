"""A refund the channel refuses at once, against WeChat Pay's local fake: approving it answers
200 with the refund ``failed`` and the channel's words, books nothing (the order, the ledger and
stable points stay as they were), is replayed by its Idempotency-Key unchanged, and is retried
under a new number or abandoned. A transient error of the channel records nothing: the refund
stays requested and the same approval may be sent again.
"""

from __future__ import annotations

from typing import Any

from mall_api import Api, TenantFixture, ok
from orders_helpers import audit_clean, economy, order, order_state
from test_api_refund_states import _paid_refund, _refund
from test_api_wechat_pay import (  # the module's fixtures, shared: one fake, one server
    fake,
    keys,
    server,
)

from wechat_fake import FakeWechatPay, KeySet

__all__ = ["fake", "keys", "server"]


def _approve_refused(
    api: Api, t: TenantFixture, fake: FakeWechatPay, path: str, refusal: tuple[int, str], key: str
) -> Any:
    fake.refund_refusal = refusal
    try:
        return api.post(path, t.admin_token, key=key)
    finally:
        fake.refund_refusal = None


def test_a_refused_refund_is_recorded_failed_and_books_nothing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    order_id, payment, refund = _paid_refund(api, t, fake, keys)
    rid = refund["refund_id"]
    before = order_state(api, t, server, order_id)
    paid = economy(server, t)
    path = t.path(f"/orders/{order_id}/refunds/{rid}/approve")
    answer = ok(_approve_refused(api, t, fake, path, (403, "NOT_ENOUGH"), "approve-1"))
    assert answer["refund"]["status"] == "failed"
    assert answer["refund"]["attempt"] == 1
    assert "NOT_ENOUGH" in answer["refund"]["failure_reason"]
    assert answer["order"]["status"] == "paid"
    assert order_state(api, t, server, order_id) == before
    assert economy(server, t) == paid
    # WeChat Pay took no refund; the replay answers the same and asks nothing again.
    assert [r for r in fake.refunds.values() if r["out_trade_no"] == payment["payment_id"]] == []
    again = api.post(path, t.admin_token, key="approve-1")
    assert (again.status_code, again.json()) == (200, answer)
    # Approving again under a new key: it is no longer requested.
    assert api.post(path, t.admin_token).status_code == 409
    # The money is there now: the retry goes through under the number <refund id>-2.
    retried = ok(api.post(t.path(f"/orders/{order_id}/refunds/{rid}/retry"), t.admin_token))
    assert (retried["refund"]["status"], retried["refund"]["attempt"]) == ("succeeded", 2)
    assert order(api, t, order_id)["status"] == "refunded"
    assert [
        r["out_refund_no"]
        for r in fake.refunds.values()
        if r["out_trade_no"] == payment["payment_id"]
    ] == [rid + "-2"]
    assert economy(server, t)["journals"] == paid["journals"] + 1
    audit_clean(server, t)


def test_a_refusal_on_retry_stays_failed_and_is_abandoned(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    order_id, _, refund = _paid_refund(api, t, fake, keys)
    rid = refund["refund_id"]
    before = order_state(api, t, server, order_id)
    path = t.path(f"/orders/{order_id}/refunds/{rid}/approve")
    ok(_approve_refused(api, t, fake, path, (403, "USER_ACCOUNT_ABNORMAL"), "approve-2"))
    retry = t.path(f"/orders/{order_id}/refunds/{rid}/retry")
    failed = ok(_approve_refused(api, t, fake, retry, (403, "USER_ACCOUNT_ABNORMAL"), "retry-2"))
    assert (failed["refund"]["status"], failed["refund"]["attempt"]) == ("failed", 2)
    assert "USER_ACCOUNT_ABNORMAL" in failed["refund"]["failure_reason"]
    abandon = t.path(f"/orders/{order_id}/refunds/{rid}/abandon")
    gone = ok(api.post(abandon, t.admin_token, json={"reason": "refunded by bank transfer"}))
    assert gone["status"] == "abandoned"
    assert order_state(api, t, server, order_id) == before
    audit_clean(server, t)


def test_a_transient_channel_error_records_nothing(
    api: Api, tenant: TenantFixture, server: Any, fake: FakeWechatPay, keys: KeySet
) -> None:
    t = tenant
    order_id, _, refund = _paid_refund(api, t, fake, keys)
    rid = refund["refund_id"]
    before = order_state(api, t, server, order_id)
    path = t.path(f"/orders/{order_id}/refunds/{rid}/approve")
    busy = _approve_refused(api, t, fake, path, (500, "SYSTEM_ERROR"), "approve-3")
    assert busy.status_code == 409, busy.text
    assert "SYSTEM_ERROR" in busy.text
    assert _refund(api, t, order_id, rid)["status"] == "requested"
    assert order_state(api, t, server, order_id) == before
    # Sent again once the channel answers: the refund goes through.
    done = ok(api.post(path, t.admin_token))
    assert done["refund"]["status"] == "succeeded"
    audit_clean(server, t)
