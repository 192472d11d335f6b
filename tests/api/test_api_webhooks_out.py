"""Outgoing webhooks over real HTTP (SQLite and PostgreSQL): endpoints, signed deliveries to a
receiver on 127.0.0.1, retries with backoff, failure after the last attempt, redelivery, and
events that exist only when their change committed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from mall_api import Api, TenantFixture, make_tenant, ok
from sqlalchemy import text

from tokenmall.adapters.db.store import Store
from tokenmall.config import Settings
from tokenmall.services.mall import events, webhook_delivery
from tokenmall.services.mall.uow import Database, utc_now

# The served test app runs with the default secret_key; the scheduler must use the same one.
KEY = Settings.model_fields["secret_key"].default.get_secret_value()


def deliver(db: Database, now: Any) -> webhook_delivery.DeliveryReport:
    return webhook_delivery.deliver_due(db, now, secret_key=KEY)


class Receiver:
    """A tiny webhook receiver in a thread: checks each signature with the secret it is given;
    answers ``fail_first`` requests with 500 before it answers 204."""

    def __init__(self, fail_first: int = 0) -> None:
        self.secret = ""
        self.fail_first = fail_first
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                valid = webhook_delivery.verify(
                    receiver.secret,
                    self.headers["Tokenmall-Timestamp"],
                    body,
                    self.headers["Tokenmall-Signature"],
                    time.time(),
                )
                receiver.received.append(
                    {"headers": dict(self.headers), "body": json.loads(body), "valid": valid}
                )
                failing = len(receiver.received) <= receiver.fail_first
                self.send_response(500 if failing or not valid else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def flaky() -> Iterator[Receiver]:
    r = Receiver(fail_first=1)
    yield r
    r.close()


@pytest.fixture(scope="module")
def db(db_url: str) -> Iterator[Database]:
    store = Store.open(db_url, migrate_now=False, pool_size=2)
    yield Database(store.engine)
    store.dispose()


@pytest.fixture
def shop(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token, params={"grant_on": "paid"})


def register(api: Api, t: TenantFixture, url: str, types: list[str]) -> dict[str, Any]:
    return dict(
        ok(
            api.post(
                t.path("/webhook-endpoints"), t.admin_token, json={"url": url, "event_types": types}
            ),
            201,
        )
    )


def pay(api: Api, t: TenantFixture, order: str, user: str = "U1") -> dict[str, Any]:
    body = {"user": {"external_id": user}, "amount": "100.00"}
    return dict(
        ok(api.post(t.path(f"/integration/orders/{order}/paid"), t.admin_token, json=body), 201)
    )


def deliveries(api: Api, t: TenantFixture, **query: str) -> list[dict[str, Any]]:
    return list(ok(api.get(t.path("/webhook-deliveries"), t.admin_token, params=query))["items"])


def test_signed_deliveries_reach_the_receiver(
    api: Api, shop: TenantFixture, receiver: Receiver, db: Database
) -> None:
    created = register(api, shop, receiver.url, ["order.paid", "points.granted"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    receiver.secret = secret
    endpoint_id = created["endpoint"]["endpoint_id"]
    listed = ok(api.get(shop.path("/webhook-endpoints"), shop.admin_token))["items"]
    assert [e["endpoint_id"] for e in listed] == [endpoint_id]
    assert "secret" not in listed[0]

    pay(api, shop, "W-1")
    pending = deliveries(api, shop)
    assert {d["event_type"] for d in pending} == {"order.paid", "points.granted"}
    assert all(d["status"] == "pending" and d["attempts"] == [] for d in pending)

    deliver(db, utc_now())
    assert len(receiver.received) == 2
    assert all(r["valid"] for r in receiver.received)
    kinds = {r["body"]["type"]: r for r in receiver.received}
    paid = kinds["order.paid"]
    assert paid["body"]["data"]["external_order_id"] == "W-1"
    assert paid["body"]["tenant_id"] == shop.tenant_id
    assert paid["headers"]["Tokenmall-Event-Id"] == paid["body"]["id"]
    granted = kinds["points.granted"]["body"]["data"]
    assert granted["order_ref"] == "ext:W-1"
    assert granted["purchase"]["grants"]
    done = deliveries(api, shop)
    assert all(d["status"] == "delivered" for d in done)
    assert all([a["status_code"] for a in d["attempts"]] == [204] for d in done)
    # nothing is due any more: a second run sends nothing of this tenant
    deliver(db, utc_now())
    assert len(receiver.received) == 2
    # the events list has both, in order
    listed_events = ok(api.get(shop.path("/events"), shop.admin_token))["items"]
    assert {e["event_type"] for e in listed_events} >= {"order.paid", "points.granted"}


def test_a_forged_signature_is_refused_by_the_receiver() -> None:
    body = b'{"id":"evt_1"}'
    stamp = int(time.time())
    good = webhook_delivery.sign("whsec_right", stamp, body)
    assert webhook_delivery.verify("whsec_right", str(stamp), body, good, time.time())
    assert not webhook_delivery.verify("whsec_wrong", str(stamp), body, good, time.time())
    assert not webhook_delivery.verify("whsec_right", str(stamp), body + b" ", good, time.time())
    stale = webhook_delivery.sign("whsec_right", stamp - 3600, body)
    assert not webhook_delivery.verify("whsec_right", str(stamp - 3600), body, stale, time.time())


def test_a_failed_delivery_is_retried_with_backoff(
    api: Api, shop: TenantFixture, flaky: Receiver, db: Database
) -> None:
    flaky.secret = register(api, shop, flaky.url, ["order.paid"])["secret"]
    pay(api, shop, "W-2")
    now = utc_now()
    deliver(db, now)
    (first,) = deliveries(api, shop)
    assert first["status"] == "pending"
    assert first["last_status_code"] == 500
    assert [a["status_code"] for a in first["attempts"]] == [500]
    # not due before its backoff (10 s) has passed
    deliver(db, now + timedelta(seconds=5))
    assert len(flaky.received) == 1
    deliver(db, now + timedelta(seconds=11))
    (second,) = deliveries(api, shop)
    assert second["status"] == "delivered"
    assert [a["status_code"] for a in second["attempts"]] == [500, 204]
    assert len(flaky.received) == 2
    assert all(r["valid"] for r in flaky.received)
    ids = {r["headers"]["Tokenmall-Event-Id"] for r in flaky.received}
    assert len(ids) == 1  # the same event id on every attempt: receivers deduplicate on it


def test_gives_up_after_the_last_attempt_and_can_redeliver(
    api: Api, shop: TenantFixture, db: Database, receiver: Receiver
) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there any more: every attempt fails to connect
    created = register(api, shop, url, ["order.paid"])
    pay(api, shop, "W-3")
    now = utc_now()
    for step in range(webhook_delivery.MAX_ATTEMPTS):
        deliver(db, now)
        (d,) = deliveries(api, shop)
        if step < webhook_delivery.MAX_ATTEMPTS - 1:
            assert d["status"] == "pending"
            now = now + timedelta(seconds=webhook_delivery.BACKOFF[step] + 1)
    (d,) = deliveries(api, shop)
    assert d["status"] == "failed"
    assert d["attempt_count"] == webhook_delivery.MAX_ATTEMPTS
    assert d["next_attempt_at"] is None
    assert "Connect" in d["last_error"]
    again = ok(
        api.post(shop.path(f"/webhook-deliveries/{d['delivery_id']}/redeliver"), shop.admin_token)
    )
    assert again["status"] == "pending"
    assert again["attempt_count"] == webhook_delivery.MAX_ATTEMPTS
    # deleting the endpoint fails what is still pending; its listing is gone
    endpoint_id = created["endpoint"]["endpoint_id"]
    ok(api.call("DELETE", shop.path(f"/webhook-endpoints/{endpoint_id}"), shop.admin_token))
    (d,) = deliveries(api, shop)
    assert d["status"] == "failed"
    assert d["last_error"] == "endpoint deleted"
    assert ok(api.get(shop.path("/webhook-endpoints"), shop.admin_token))["items"] == []


def test_events_exist_only_when_their_change_committed(
    api: Api, shop: TenantFixture, db: Database, receiver: Receiver
) -> None:
    register(api, shop, receiver.url, ["order.paid", "order.refunded", "points.granted"])
    with pytest.raises(RuntimeError), db.transaction() as conn:
        events.emit(conn, shop.tenant_id, "order.paid", {"external_order_id": "gone"}, utc_now())
        raise RuntimeError("the change fails after the event was emitted")
    assert deliveries(api, shop) == []
    assert ok(api.get(shop.path("/events"), shop.admin_token))["items"] == []
    pay(api, shop, "W-4")
    count = len(deliveries(api, shop))
    refused = api.post(
        shop.path("/integration/orders/W-4/refunded"), shop.admin_token, json={"amount": "1.00"}
    )
    assert refused.status_code == 409  # booked: needs an adjustment
    assert len(deliveries(api, shop)) == count
    assert len(ok(api.get(shop.path("/events"), shop.admin_token))["items"]) == 2


def test_endpoints_are_admins_only_and_per_tenant(
    api: Api, shop: TenantFixture, other_tenant: TenantFixture, receiver: Receiver
) -> None:
    body = {"url": receiver.url, "event_types": ["order.paid"]}
    created = register(api, shop, receiver.url, ["order.paid"])
    endpoint_id = created["endpoint"]["endpoint_id"]
    for token in (shop.consumer_token, shop.merchant_token):
        assert api.post(shop.path("/webhook-endpoints"), token, json=body).status_code == 403
        assert api.get(shop.path("/webhook-endpoints"), token).status_code == 403
        assert api.get(shop.path("/webhook-deliveries"), token).status_code == 403
    other = other_tenant.admin_token
    assert api.get(shop.path("/webhook-endpoints"), other).status_code == 404
    assert api.get(shop.path("/webhook-deliveries"), other).status_code == 404
    assert api.get(shop.path("/events"), other).status_code == 404
    assert api.post(shop.path("/webhook-endpoints"), other, json=body).status_code == 404
    # another tenant's id under its own path is unknown there
    assert api.get(other_tenant.path(f"/webhook-endpoints/{endpoint_id}"), other).status_code == 404
    # a replay of the creation hides the secret
    again = api.post(shop.path("/webhook-endpoints"), shop.admin_token, json=body, key="k-1")
    replay = api.post(shop.path("/webhook-endpoints"), shop.admin_token, json=body, key="k-1")
    assert again.json()["secret"]
    assert replay.json()["secret"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://x.test/", "event_types": ["order.paid"]}, "url"),
        ({"url": "not a url", "event_types": ["order.paid"]}, "url"),
        ({"url": "https://u:p@x.test/", "event_types": ["order.paid"]}, "url"),
        ({"url": "https://x.test/", "event_types": []}, "event_types"),
        ({"url": "https://x.test/", "event_types": ["order.shipped"]}, "event_types.0"),
        ({"url": "https://x.test/", "event_types": ["order.paid"], "extra": 1}, "extra"),
        ({"event_types": ["order.paid"]}, "url"),
    ],
)
def test_bad_endpoints_are_refused(
    api: Api, tenant: TenantFixture, body: dict[str, Any], field: str
) -> None:
    answer = api.post(tenant.path("/webhook-endpoints"), tenant.admin_token, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert ok(api.get(tenant.path("/webhook-endpoints"), tenant.admin_token))["items"] == []


def test_a_forced_exit_during_a_settlement_is_delivered_as_holder_exited(
    api: Api, operator_token: str, receiver: Receiver, db: Database
) -> None:
    from tokenmall.services.mall.settling import yesterday

    # A small quota (0.1 × what is spent) so the buyer's points are worth at least what is left
    # of it once the day is settled: rule 7 buys them out.
    shop = make_tenant(api, operator_token, params={"grant_on": "paid", "quota_multiple": "0.1"})
    receiver.secret = register(api, shop, receiver.url, ["holder.exited"])["secret"]
    pay(api, shop, "X-1", "U1")
    assert deliveries(api, shop) == []  # order.paid and points.granted are not subscribed
    day = yesterday(utc_now()).isoformat()
    settled = ok(api.post(shop.path("/settlements"), shop.admin_token, json={"business_date": day}))
    assert settled["settled_now"] is True
    assert settled["exits"] == 1
    (pending,) = deliveries(api, shop)
    assert pending["event_type"] == "holder.exited"
    assert pending["status"] == "pending"
    deliver(db, utc_now())
    (sent,) = receiver.received
    assert sent["valid"]
    assert sent["body"]["type"] == "holder.exited"
    assert sent["body"]["tenant_id"] == shop.tenant_id
    data = sent["body"]["data"]
    assert data["business_date"] == day
    assert data["price"] == settled["price"]
    assert data["points"] != "0"
    assert data["payout"] != "0.00"
    assert data["user_id"]
    assert deliveries(api, shop)[0]["status"] == "delivered"
    # Settling the day again emits nothing more.
    again = ok(api.post(shop.path("/settlements"), shop.admin_token, json={"business_date": day}))
    assert again["settled_now"] is False
    assert len(deliveries(api, shop)) == 1
    assert len(receiver.received) == 1


def stored_secret(db: Database, tenant_id: str, endpoint_id: str) -> str:
    with db.read() as conn:
        found: str = conn.execute(
            text(
                "SELECT secret FROM mall_webhook_endpoints "
                "WHERE tenant_id = :t AND endpoint_id = :e"
            ),
            {"t": tenant_id, "e": endpoint_id},
        ).scalar_one()
    return found


def test_the_signing_secret_is_derived_not_stored_and_rotates(
    api: Api, shop: TenantFixture, receiver: Receiver, db: Database, operator_token: str
) -> None:
    created = register(api, shop, receiver.url, ["order.paid"])
    endpoint_id, first = created["endpoint"]["endpoint_id"], created["secret"]
    # the row keeps a salt, never the secret: a copy of the database cannot sign
    row = stored_secret(db, shop.tenant_id, endpoint_id)
    assert row.startswith("derived:v1:")
    assert first not in row
    assert first[6:] not in row
    assert first == webhook_delivery.signing_secret(row, KEY, shop.tenant_id, endpoint_id)
    assert first != webhook_delivery.signing_secret(row, "another key", shop.tenant_id, endpoint_id)
    # when the secret is rotated, the new one is shown once (a replay answers without it)
    path = shop.path(f"/webhook-endpoints/{endpoint_id}/rotate-secret")
    rotated = ok(api.post(path, shop.admin_token, key="rotate-1"), 200)
    second = rotated["secret"]
    assert second.startswith("whsec_")
    assert second != first
    assert rotated["endpoint"]["endpoint_id"] == endpoint_id
    replayed = ok(api.post(path, shop.admin_token, key="rotate-1"), 200)
    assert replayed["secret"] is None
    assert stored_secret(db, shop.tenant_id, endpoint_id) != row
    # then deliveries are signed with the new secret only
    receiver.secret = first
    pay(api, shop, "R-1")
    deliver(db, utc_now())
    assert [r["valid"] for r in receiver.received] == [False]  # the old secret no longer verifies
    receiver.received.clear()
    receiver.secret = second
    pay(api, shop, "R-2")
    deliver(db, utc_now())
    assert any(
        r["valid"] and r["body"]["data"]["external_order_id"] == "R-2" for r in receiver.received
    )


def test_rotating_is_for_the_tenants_admins_only(
    api: Api, shop: TenantFixture, receiver: Receiver, db: Database, operator_token: str
) -> None:
    created = register(api, shop, receiver.url, ["order.paid"])
    endpoint_id = created["endpoint"]["endpoint_id"]
    row = stored_secret(db, shop.tenant_id, endpoint_id)
    other = make_tenant(api, operator_token)
    # another tenant's admin, on its own tenant's path or on ours, rotates nothing
    assert (
        api.post(
            other.path(f"/webhook-endpoints/{endpoint_id}/rotate-secret"), other.admin_token
        ).status_code
        == 404
    )
    assert api.post(
        shop.path(f"/webhook-endpoints/{endpoint_id}/rotate-secret"), other.admin_token
    ).status_code in (401, 403, 404)
    assert (
        api.post(
            shop.path("/webhook-endpoints/whe_nope/rotate-secret"), shop.admin_token
        ).status_code
        == 404
    )
    assert stored_secret(db, shop.tenant_id, endpoint_id) == row


def test_an_endpoint_with_a_secret_in_clear_from_an_earlier_release_still_signs(
    api: Api, shop: TenantFixture, receiver: Receiver, db: Database
) -> None:
    created = register(api, shop, receiver.url, ["order.paid"])
    endpoint_id = created["endpoint"]["endpoint_id"]
    with db.transaction() as conn:  # as rows written before secrets were derived look
        conn.execute(
            text(
                "UPDATE mall_webhook_endpoints SET secret = 'whsec_legacy_in_clear' "
                "WHERE tenant_id = :t AND endpoint_id = :e"
            ),
            {"t": shop.tenant_id, "e": endpoint_id},
        )
    receiver.secret = "whsec_legacy_in_clear"
    pay(api, shop, "L-1")
    deliver(db, utc_now())
    assert receiver.received
    assert all(r["valid"] for r in receiver.received)
