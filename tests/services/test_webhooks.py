"""Outgoing webhooks' use cases on the in-memory unit of work: admins' endpoints (created,
rotated, deleted), the deliveries' log and redelivery, and the worker delivering what is due
(to an in-process receiver, signed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fakes import FakeUnitOfWork
from fakes_orders import FakeUnits

from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.webhooks import DeliveryStatus, Event
from tokenmall.services.mall import webhook_delivery as hooks
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, MallError, NotFound

TENANT = "one"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY = "server-secret-key"
ADMIN = Principal("session", "ses_1", "usr-admin", TENANT, Role.ADMIN)
MEMBER = Principal("session", "ses_2", "usr-member", TENANT, Role.CONSUMER)
STRANGER = Principal("session", "ses_3", "usr-other", "two", Role.ADMIN)


def endpoint(uow: FakeUnitOfWork, url: str = "https://shop.test/hook") -> hooks.NewSecret:
    with uow:
        return hooks.create_endpoint(
            uow, ADMIN, TENANT, url=url, event_types=["order.paid", "order.paid"],
            description="shop", now=NOW, secret_key=KEY,
        )  # fmt: skip


def event(uow: FakeUnitOfWork, endpoint_id: str, n: int = 1) -> str:
    """An ``order.paid`` event with one delivery to ``endpoint_id``; the delivery's id."""
    paid = Event(TENANT, f"evt_{n}", "order.paid", {"order_id": f"ord_{n}"}, NOW)
    uow.webhooks.add_event(paid, [(f"dlv_{n}", endpoint_id)])
    return f"dlv_{n}"


def test_an_endpoint_is_created_with_a_secret_shown_once_and_stored_derived() -> None:
    uow = FakeUnitOfWork()
    shown = endpoint(uow)
    stored = uow.webhooks.endpoints[(TENANT, shown.endpoint.endpoint_id)]
    assert stored.event_types == ("order.paid",)
    assert stored.created_by == "usr-admin"
    assert stored.secret.startswith(hooks.DERIVED)
    assert shown.secret not in stored.secret
    derived = hooks.signing_secret(stored.secret, KEY, TENANT, stored.endpoint_id)
    assert derived == shown.secret
    listed = hooks.list_endpoints(uow, ADMIN, TENANT, None, 10)
    assert [e.endpoint_id for e in listed] == [stored.endpoint_id]


@pytest.mark.parametrize(
    ("caller", "url", "types", "error", "field"),
    [
        (ADMIN, "ftp://shop.test/hook", ["order.paid"], InvalidInput, "url"),
        (ADMIN, "https://user:pw@shop.test/", ["order.paid"], InvalidInput, "url"),
        (ADMIN, "https://shop.test/ a", ["order.paid"], InvalidInput, "url"),
        (ADMIN, "https://shop.test/", ["order.lost"], InvalidInput, "event_types"),
        (ADMIN, "https://shop.test/", [], InvalidInput, "event_types"),
        (MEMBER, "https://shop.test/", ["order.paid"], Forbidden, None),
        (STRANGER, "https://shop.test/", ["order.paid"], NotFound, None),
    ],
)
def test_a_refused_endpoint_is_not_stored(
    caller: Principal, url: str, types: list[str], error: type[MallError], field: str | None
) -> None:
    uow = FakeUnitOfWork()
    before = uow.snapshot()
    with pytest.raises(error) as refused, uow:
        hooks.create_endpoint(uow, caller, TENANT, url=url, event_types=types, description="",
                              now=NOW, secret_key=KEY)  # fmt: skip
    assert refused.value.field == field
    assert uow.snapshot() == before


def test_a_tenant_has_at_most_twenty_endpoints() -> None:
    uow = FakeUnitOfWork()
    for n in range(hooks.MAX_ENDPOINTS):
        endpoint(uow, f"https://shop.test/{n}")
    before = uow.snapshot()
    with pytest.raises(Conflict):
        endpoint(uow)
    assert uow.snapshot() == before


def test_rotating_replaces_the_secret_and_deleting_hides_the_endpoint() -> None:
    uow = FakeUnitOfWork()
    shown = endpoint(uow)
    endpoint_id = shown.endpoint.endpoint_id
    with uow:
        rotated = hooks.rotate_secret(uow, ADMIN, TENANT, endpoint_id, secret_key=KEY)
    stored = uow.webhooks.endpoints[(TENANT, endpoint_id)]
    assert rotated.secret != shown.secret
    assert hooks.signing_secret(stored.secret, KEY, TENANT, endpoint_id) == rotated.secret
    with uow:
        hooks.delete_endpoint(uow, ADMIN, TENANT, endpoint_id, NOW)
    assert hooks.list_endpoints(uow, ADMIN, TENANT, None, 10) == []
    before = uow.snapshot()
    for refused in (
        lambda: hooks.get_endpoint(uow, ADMIN, TENANT, endpoint_id),
        lambda: hooks.rotate_secret(uow, ADMIN, TENANT, endpoint_id, secret_key=KEY),
        lambda: hooks.delete_endpoint(uow, ADMIN, TENANT, endpoint_id, NOW),
    ):
        with pytest.raises(NotFound), uow:
            refused()
    assert uow.snapshot() == before


def test_the_deliveries_log_and_redelivery() -> None:
    uow = FakeUnitOfWork()
    endpoint_id = endpoint(uow).endpoint.endpoint_id
    delivery_id = event(uow, endpoint_id)
    uow.webhooks.record_attempt(
        uow.webhooks.deliveries[(TENANT, delivery_id)], at=NOW, status_code=500,
        error="HTTP 500", duration_ms=3, status=DeliveryStatus.FAILED, next_attempt_at=None,
        failures=8,
    )  # fmt: skip
    logs = hooks.list_deliveries(uow, ADMIN, TENANT, status="failed", endpoint_id=None,
                                 event_id="evt_1", after=None, limit=10)  # fmt: skip
    assert [(log.delivery.delivery_id, len(log.attempts)) for log in logs] == [(delivery_id, 1)]
    assert hooks.list_events(uow, ADMIN, TENANT, "order.paid", None, 10)[0].event_id == "evt_1"
    assert hooks.list_events(uow, ADMIN, TENANT, "order.refunded", None, 10) == []
    later = NOW + timedelta(hours=1)
    with uow:
        log = hooks.redeliver(uow, ADMIN, TENANT, delivery_id, later)
    assert (log.delivery.status, log.delivery.failures) == (DeliveryStatus.PENDING, 0)
    assert log.delivery.next_attempt_at == later
    assert [a.status_code for a in log.attempts] == [500]


def test_a_refused_redelivery_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    endpoint_id = endpoint(uow).endpoint.endpoint_id
    delivery_id = event(uow, endpoint_id)
    with uow:
        hooks.delete_endpoint(uow, ADMIN, TENANT, endpoint_id, NOW)
    before = uow.snapshot()
    for caller, delivery, error in (
        (ADMIN, delivery_id, Conflict),
        (ADMIN, "dlv_none", NotFound),
        (MEMBER, delivery_id, Forbidden),
    ):
        with pytest.raises(error), uow:
            hooks.redeliver(uow, caller, TENANT, delivery, NOW)
        assert uow.snapshot() == before


def test_the_worker_delivers_signed_and_retries_failures_deleted_endpoints_wait_no_more() -> None:
    uow = FakeUnitOfWork()
    good = endpoint(uow, "https://good.test/hook")
    bad = endpoint(uow, "https://bad.test/hook")
    gone = endpoint(uow, "https://gone.test/hook").endpoint.endpoint_id
    event(uow, good.endpoint.endpoint_id, 1)
    event(uow, bad.endpoint.endpoint_id, 2)
    event(uow, gone, 3)
    with uow:
        hooks.delete_endpoint(uow, ADMIN, TENANT, gone, NOW)
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200 if request.url.host == "good.test" else 503)

    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        report = hooks.deliver_due(FakeUnits(uow), NOW, secret_key=KEY, client=client)
    assert report == hooks.DeliveryReport(attempted=2, delivered=1, retrying=1, failed=0)
    deliveries = uow.webhooks.deliveries
    assert deliveries[(TENANT, "dlv_1")].status == DeliveryStatus.DELIVERED
    assert deliveries[(TENANT, "dlv_2")].status == DeliveryStatus.PENDING
    assert deliveries[(TENANT, "dlv_2")].next_attempt_at == hooks.next_try(1, NOW)
    assert deliveries[(TENANT, "dlv_3")].last_error == "endpoint deleted"
    assert deliveries[(TENANT, "dlv_3")].status == DeliveryStatus.FAILED
    assert sorted(r.url.host for r in received) == ["bad.test", "good.test"]
    sent = next(r for r in received if r.url.host == "good.test")
    stamp = sent.headers["Tokenmall-Timestamp"]
    signature = sent.headers["Tokenmall-Signature"]
    assert hooks.verify(good.secret, stamp, sent.content, signature, float(stamp))
    assert sent.headers["Tokenmall-Event-Id"] == "evt_1"
    # Nothing else is due until the retry's time.
    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        again = hooks.deliver_due(FakeUnits(uow), NOW, secret_key=KEY, client=client)
    assert again == hooks.DeliveryReport()
