"""The sandbox gateway's webhooks: a forged signature, a stale timestamp (either direction), a
replayed event id, malformed callbacks — each refused with a 4xx, logged, recorded, and changing
nothing; a genuine one is accepted once."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from orders_helpers import (
    callbacks_of,
    checkout,
    economy,
    order,
    order_state,
    signed_webhook,
    store_of,
    success_event,
)

from tokenmall.adapters.payments.sandbox import derive_secret
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.execute import execute


@pytest.fixture
def unpaid(api: Api, tenant: TenantFixture) -> dict[str, Any]:
    done = checkout(api, tenant, [(tenant.sku_id, 1)])
    return {"order_id": done["orders"][0]["order_id"], "payment": done["payments"][0]}


def test_forged_stale_and_malformed_callbacks_are_refused_and_change_nothing(
    api: Api,
    tenant: TenantFixture,
    server: Any,
    unpaid: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    t, payment = tenant, unpaid["payment"]
    before = order_state(api, t, server, unpaid["order_id"])
    event = success_event(payment)
    now = int(time.time())
    caplog.set_level(logging.WARNING, logger="tokenmall.payments")
    cases = [
        ("forged", {"secret": derive_secret("not-the-secret")}, 401, "bad_signature"),
        ("stale", {"timestamp": now - 330}, 401, "stale_timestamp"),
        ("future", {"timestamp": now + 330}, 401, "stale_timestamp"),
    ]
    for name, how, status, code in cases:
        answer = signed_webhook(api, server, event, **how)
        assert answer.status_code == status, (name, answer.text)
        assert answer.json()["error"]["code"] == code
    # Missing or malformed signature headers, and a body changed after signing.
    url = "/api/v1/payments/webhooks/sandbox"
    answer = api.http.post(url, content=b"{}")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "missing_signature"
    answer = api.http.post(
        url, content=b"{}", headers={"X-Sandbox-Timestamp": "soon", "X-Sandbox-Signature": "v1=0"}
    )
    assert answer.status_code == 400
    assert order_state(api, t, server, unpaid["order_id"]) == before  # nothing changed
    # The same event, genuinely signed now, is accepted: the refusals did not burn its id.
    assert signed_webhook(api, server, event).status_code == 200
    assert order(api, t, unpaid["order_id"])["status"] == "paid"
    refused = [r for r in caplog.records if r.getMessage() == "payment callback refused"]
    reasons = [r.__dict__["fields"]["reason"] for r in refused]
    assert reasons[:3] == ["bad_signature", "stale_timestamp", "stale_timestamp"]
    assert "missing_signature" in reasons
    assert "bad_timestamp" in reasons


def test_refusals_leave_the_order_unpaid(
    api: Api, tenant: TenantFixture, server: Any, unpaid: dict[str, Any]
) -> None:
    t, payment = tenant, unpaid["payment"]
    before = order_state(api, t, server, unpaid["order_id"])
    event = success_event(payment)
    now = int(time.time())
    assert signed_webhook(api, server, event, secret=b"x" * 32).status_code == 401
    assert signed_webhook(api, server, event, timestamp=now - 3600).status_code == 401
    assert signed_webhook(api, server, event, timestamp=now + 3600).status_code == 401
    wrong_amount = event | {"amount": "1.00"}
    answer = signed_webhook(api, server, wrong_amount)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "amount_mismatch"
    unknown = event | {"payment_ref": f"{t.tenant_id}.pay_{'0' * 26}"}
    assert signed_webhook(api, server, unknown).status_code == 404
    not_json = signed_webhook(api, server, event | {"type": "payment.refunded"})
    assert not_json.status_code == 400
    assert order_state(api, t, server, unpaid["order_id"]) == before
    # Refusals that could be tied to the payment are recorded against it (the unverified
    # ones are recorded without a tenant: nothing in them can be trusted).
    assert callbacks_of(server, payment["payment_id"]) == [("refused", "amount_mismatch")]


def test_genuine_event_is_accepted_once_and_a_replay_changes_nothing(
    api: Api, tenant: TenantFixture, server: Any, unpaid: dict[str, Any]
) -> None:
    t, payment = tenant, unpaid["payment"]
    event = success_event(payment, event_id="evt_once")
    answer = signed_webhook(api, server, event)
    assert answer.status_code == 200, answer.text
    assert answer.json()["order_status"] == "paid"
    assert answer.json()["outcome"] == "order paid"
    paid = order_state(api, t, server, unpaid["order_id"])
    # The same event again (even freshly signed): refused, nothing changes.
    replay = signed_webhook(api, server, event)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "replayed"
    assert order_state(api, t, server, unpaid["order_id"]) == paid
    # Another event for the already-paid payment is accepted but changes nothing either.
    other = signed_webhook(api, server, success_event(payment))
    assert other.status_code == 200
    assert other.json()["outcome"] == "payment already succeeded"
    assert order_state(api, t, server, unpaid["order_id"]) == paid
    assert callbacks_of(server, payment["payment_id"]) == [
        ("accepted", "order paid"),
        ("refused", "replayed"),
        ("accepted", "payment already succeeded"),
    ]
    detail = ok(api.get(t.path(f"/payments/{payment['payment_id']}"), t.consumer_token))
    assert [c["outcome"] for c in detail["callbacks"]] == ["accepted", "refused", "accepted"]
    assert detail["status"] == "succeeded"


def test_concurrent_deliveries_of_one_event_pay_once(
    api: Api, tenant: TenantFixture, server: Any, unpaid: dict[str, Any]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    t, payment = tenant, unpaid["payment"]
    event = success_event(payment, event_id="evt_race")
    before = economy(server, t)

    def send(_: int) -> int:
        client = Api(str(api.http.base_url))
        try:
            return signed_webhook(client, server, event).status_code
        finally:
            client.http.close()

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(send, range(6)))
    assert statuses == [200, 409, 409, 409, 409, 409]
    after = economy(server, t)
    assert after["escrow"] == before["escrow"] + 10_000
    assert after["journals"] == before["journals"] + 1
    assert order(api, t, unpaid["order_id"])["status"] == "paid"


def test_sandbox_page_refuses_unknown_payments_and_bad_forms(
    api: Api, tenant: TenantFixture, unpaid: dict[str, Any]
) -> None:
    for ref in (
        "nope",
        f"{tenant.tenant_id}.pay_{'0' * 26}",
        f"other.{unpaid['payment']['payment_id']}",
    ):
        assert api.http.get(f"/sandbox/pay/{ref}").status_code == 404
        assert api.http.post(f"/sandbox/pay/{ref}", data={"outcome": "approve"}).status_code == 404
    url = unpaid["payment"]["redirect_url"]
    assert api.http.post(url, data={"outcome": "steal"}).status_code == 400
    assert api.http.post(url, data={}).status_code == 400
    assert order(api, tenant, unpaid["order_id"])["status"] == "created"
    page = api.http.get(url)
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text
    assert "/sandbox/pay/" not in api.http.get("/openapi.json").text


def test_a_ledger_refusal_of_a_genuine_event_is_a_recorded_refusal(
    api: Api,
    tenant: TenantFixture,
    server: Any,
    unpaid: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The order's money cannot be recorded (its payment journal's key is taken by another
    request): the verified event is refused with a 4xx and recorded with its reason, and
    nothing of it stays — not even its event id."""
    t, payment = tenant, unpaid["payment"]
    execute(
        store_of(server),
        c.ReceivePayment(
            tenant_id=t.tenant_id,
            idempotency_key=f"order:{unpaid['order_id']}:payment",
            user=t.consumer_id,
            order_ref=unpaid["order_id"],
            amount_fen=1,
        ),
    )
    before = order_state(api, t, server, unpaid["order_id"])
    caplog.set_level(logging.WARNING, logger="tokenmall.payments")
    event = success_event(payment, event_id="evt_ledger")
    answer = signed_webhook(api, server, event)
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "not_applied"
    assert "could not be applied" in error["message"]
    assert order_state(api, t, server, unpaid["order_id"]) == before
    assert callbacks_of(server, payment["payment_id"]) == [("refused", "not_applied")]
    refused = [r for r in caplog.records if r.getMessage() == "payment callback refused"]
    assert refused[-1].__dict__["fields"]["reason"] == "not_applied"
    assert refused[-1].__dict__["fields"]["event_id"] == "evt_ledger"
    # Its event id was not burnt: the same delivery is refused for the same reason, not as a
    # replay.
    again = signed_webhook(api, server, event)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_applied"
    detail = ok(api.get(t.path(f"/payments/{payment['payment_id']}"), t.consumer_token))
    assert detail["status"] == "pending"
    assert [cb["outcome"] for cb in detail["callbacks"]] == ["refused", "refused"]
