"""Outgoing webhooks: admins' endpoints, and the worker that delivers the outbox to them.

Each delivery is a POST of the event as JSON with these headers::

    Tokenmall-Event-Id:    evt_…            (the same on every retry: deduplicate on it)
    Tokenmall-Event-Type:  points.granted
    Tokenmall-Delivery-Id: dlv_…
    Tokenmall-Timestamp:   1764460800       (Unix seconds of this attempt)
    Tokenmall-Signature:   v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The signing secret is not stored: the endpoint's row keeps a random salt (``derived:v1:<salt>``)
and the secret is HMAC-SHA256 of the server's ``secret_key`` over the tenant, the endpoint and
that salt, so a copy of the database alone cannot forge deliveries. It is shown once, when the
endpoint is created or its secret rotated. (Rows older than derived secrets hold their secret
in clear; they keep working, and rotating the secret moves them to a derived one.) Changing
the server's ``secret_key`` changes every endpoint's secret: rotate them and hand the new ones
to the receivers.

A 2xx answer within ``TIMEOUT`` seconds delivers it; anything else (an error status, a refused
connection, a timeout) is a failure, retried after ``BACKOFF[n]`` seconds, and after
``MAX_ATTEMPTS`` failures in a row the delivery is marked failed (an admin can redeliver it).

The worker never holds a transaction open across HTTP: it claims a due delivery by moving its
``next_attempt_at`` to a lease (a conditional UPDATE that only one worker wins), posts outside
any transaction, and records the attempt in a second short transaction. A worker that dies
mid-attempt leaves the delivery due again when the lease ends. Delivery is at least once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx

from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.transitions import DELIVERY, Actor
from tokenmall.domain.mall.webhooks import Attempt, Delivery, DeliveryStatus, Endpoint, Event
from tokenmall.services.mall import ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.mall.events import EVENT_TYPES
from tokenmall.services.unit_of_work import UnitOfWork, Units

ADMIN: tuple[Role, ...] = (Role.ADMIN,)
BACKOFF = (10, 60, 300, 1_800, 7_200, 21_600, 43_200)  # seconds after the 1st … 7th failure
MAX_ATTEMPTS = len(BACKOFF) + 1  # 8 tries over about 20 hours, then failed
TIMEOUT = 10.0
LEASE = timedelta(seconds=TIMEOUT * 6)
MAX_ENDPOINTS = 20
SIGNATURE_VERSION = "v1"


DERIVED = "derived:v1:"


def new_secret(secret_key: str, tenant_id: str, endpoint_id: str) -> tuple[str, str]:
    """(what the row stores, the signing secret to show once) for a fresh secret."""
    stored = DERIVED + secrets.token_urlsafe(18)
    return stored, signing_secret(stored, secret_key, tenant_id, endpoint_id)


def signing_secret(stored: str, secret_key: str, tenant_id: str, endpoint_id: str) -> str:
    """The endpoint's signing secret from its row's ``secret`` and the server's key."""
    if not stored.startswith(DERIVED):
        return stored  # kept in clear by an earlier release: rotating it derives a new one
    salt = stored[len(DERIVED) :]
    message = f"tokenmall webhook signing secret v1:{tenant_id}:{endpoint_id}:{salt}"
    mac = hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).digest()
    return "whsec_" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 keyed by the endpoint's secret over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,  # float-ok: Unix time
    tolerance: int = 300,
) -> bool:
    """What a receiver does (documented in docs/integration.md): the signature matches and
    the timestamp is within ``tolerance`` seconds of its clock."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


# -- endpoints (admins) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSecret:
    """An endpoint with its signing secret, shown once (when created or rotated)."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    """A delivery with its attempts, oldest first."""

    delivery: Delivery
    attempts: list[Attempt]


def _check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an absolute http:// or https:// URL", "url")
    if parts.username or parts.password:
        raise InvalidInput("url must not carry credentials", "url")
    if any(ord(ch) <= 32 for ch in url):
        raise InvalidInput("url must not contain spaces or control characters", "url")
    return url


def create_endpoint(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    url: str,
    event_types: list[str],
    description: str,
    now: datetime,
    secret_key: str,
) -> NewSecret:
    who = require(caller, tenant_id, ADMIN)
    checked = _check_url(url)
    unknown = [t for t in event_types if t not in EVENT_TYPES]
    if unknown or not event_types:
        raise InvalidInput(f"event_types must be among {', '.join(EVENT_TYPES)}", "event_types")
    text = validate.text(description, "description", max_length=200, allow_empty=True)
    if len(uow.webhooks.list_endpoints(tenant_id, None, MAX_ENDPOINTS)) >= MAX_ENDPOINTS:
        raise Conflict(f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints")
    endpoint_id = ids.new_id("whe")
    stored, secret = new_secret(secret_key, tenant_id, endpoint_id)
    endpoint = Endpoint(
        tenant_id=tenant_id,
        endpoint_id=endpoint_id,
        url=checked,
        event_types=tuple(dict.fromkeys(event_types)),
        secret=stored,
        description=text,
        created_by=who.subject_id,
        created_at=now,
        deleted_at=None,
    )
    uow.webhooks.add_endpoint(endpoint)
    return NewSecret(endpoint, secret)


def rotate_secret(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    endpoint_id: str,
    *,
    secret_key: str,
) -> NewSecret:
    """A new signing secret for the endpoint (the old one stops signing at once)."""
    require(caller, tenant_id, ADMIN)
    endpoint = uow.webhooks.get_endpoint(tenant_id, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}")
    stored, secret = new_secret(secret_key, tenant_id, endpoint_id)
    uow.webhooks.set_endpoint_secret(tenant_id, endpoint_id, stored)
    return NewSecret(endpoint, secret)


def list_endpoints(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, after: str | None, limit: int
) -> list[Endpoint]:
    require(caller, tenant_id, ADMIN)
    return uow.webhooks.list_endpoints(tenant_id, after, limit)


def get_endpoint(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, endpoint_id: str
) -> Endpoint:
    require(caller, tenant_id, ADMIN)
    found = uow.webhooks.get_endpoint(tenant_id, endpoint_id)
    if found is None or found.deleted_at is not None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}")
    return found


def delete_endpoint(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, endpoint_id: str, now: datetime
) -> Endpoint:
    found = get_endpoint(uow, caller, tenant_id, endpoint_id)
    uow.webhooks.delete_endpoint(tenant_id, endpoint_id, now)
    return found


def list_deliveries(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    status: str | None,
    endpoint_id: str | None,
    event_id: str | None,
    after: str | None,
    limit: int,
) -> list[DeliveryLog]:
    require(caller, tenant_id, ADMIN)
    found = uow.webhooks.list_deliveries(
        tenant_id,
        status=status,
        endpoint_id=endpoint_id,
        event_id=event_id,
        after=after,
        limit=limit,
    )
    tries = uow.webhooks.attempts_of(tenant_id, [d.delivery_id for d in found])
    return [DeliveryLog(d, tries[d.delivery_id]) for d in found]


def get_delivery(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, delivery_id: str
) -> DeliveryLog:
    require(caller, tenant_id, ADMIN)
    found = uow.webhooks.get_delivery(tenant_id, delivery_id)
    if found is None:
        raise NotFound(f"no webhook delivery {delivery_id!r}")
    return DeliveryLog(found, uow.webhooks.attempts_of(tenant_id, [delivery_id])[delivery_id])


def redeliver(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, delivery_id: str, now: datetime
) -> DeliveryLog:
    """Try a delivery again now, with a fresh budget of attempts (any status)."""
    found = get_delivery(uow, caller, tenant_id, delivery_id).delivery
    endpoint = uow.webhooks.get_endpoint(tenant_id, found.endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise Conflict("the delivery's endpoint was deleted")
    DELIVERY.check(found.status, "redeliver", Actor.ADMIN)
    uow.webhooks.redeliver(tenant_id, delivery_id, now)
    return get_delivery(uow, caller, tenant_id, delivery_id)


def list_events(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    event_type: str | None,
    after: str | None,
    limit: int,
) -> list[Event]:
    require(caller, tenant_id, ADMIN)
    return uow.webhooks.list_events(tenant_id, event_type, after, limit)


# -- the worker -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one run of the worker did: deliveries attempted, and how each ended."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(slots=True)
class _Tally:
    """The worker's running counts (``DeliveryReport`` once it is done)."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def report(self) -> DeliveryReport:
        return DeliveryReport(self.attempted, self.delivered, self.retrying, self.failed)


def payload(event: Event) -> bytes:
    """The body POSTed for an event: the same bytes on every attempt."""
    document = {
        "id": event.event_id,
        "type": event.event_type,
        "tenant_id": event.tenant_id,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def next_try(failures: int, at: datetime) -> datetime | None:
    """When to try again after ``failures`` failures in a row (None: give up)."""
    if failures >= MAX_ATTEMPTS:
        return None
    return at + timedelta(seconds=BACKOFF[failures - 1])


def deliver_due(
    db: Units,
    now: datetime,
    limit: int = 100,
    *,
    secret_key: str,
    client: httpx.Client | None = None,
) -> DeliveryReport:
    """Attempt up to ``limit`` deliveries due by ``now``, oldest first, tenant by tenant."""
    report = _Tally()
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    try:
        with db.reading() as reader:
            tenants = reader.webhooks.tenants_with_due(now)
        for tenant_id in tenants:
            left = limit - report.attempted
            if left <= 0:
                break
            with db.unit() as uow:
                claimed = [
                    delivery_id
                    for delivery_id, seen in uow.webhooks.due(tenant_id, now, left)
                    if uow.webhooks.claim(tenant_id, delivery_id, seen, now + LEASE)
                ]
            for delivery_id in claimed:
                _attempt(db, http, tenant_id, delivery_id, now, report, secret_key)
    finally:
        if own:
            http.close()
    return report.report()


def _attempt(
    db: Units,
    http: httpx.Client,
    tenant_id: str,
    delivery_id: str,
    now: datetime,
    report: _Tally,
    secret_key: str,
) -> None:
    with db.reading() as reader:
        delivery = reader.webhooks.get_delivery(tenant_id, delivery_id)
        assert delivery is not None
        event = reader.webhooks.get_event(tenant_id, delivery.event_id)
        endpoint = reader.webhooks.get_endpoint(tenant_id, delivery.endpoint_id)
    assert event is not None
    assert endpoint is not None
    report.attempted += 1
    status_code: int | None = None
    error: str | None = None
    started = time.monotonic()
    if endpoint.deleted_at is not None:
        error = "endpoint deleted"
    else:
        body = payload(event)
        stamp = int(time.time())  # the wall clock, whatever ``now`` the caller schedules by
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tokenmall-webhooks/1",
            "Tokenmall-Event-Id": event.event_id,
            "Tokenmall-Event-Type": event.event_type,
            "Tokenmall-Delivery-Id": delivery.delivery_id,
            "Tokenmall-Timestamp": str(stamp),
            "Tokenmall-Signature": sign(
                signing_secret(endpoint.secret, secret_key, tenant_id, endpoint.endpoint_id),
                stamp,
                body,
            ),
        }
        try:
            answer = http.post(endpoint.url, content=body, headers=headers, timeout=TIMEOUT)
            status_code = answer.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    failures = 0 if error is None else delivery.failures + 1
    # the worker claims pending deliveries only; an attempt moves one on from there
    system, claimed = Actor.SYSTEM, DeliveryStatus.PENDING
    if error is None:
        status, when = DELIVERY.check(claimed, "deliver", system), None
        report.delivered += 1
    elif endpoint.deleted_at is not None:
        status, when = DELIVERY.check(claimed, "give_up", system), None
        report.failed += 1
    else:
        when = next_try(failures, now)
        step = "retry_later" if when is not None else "give_up"
        status = DELIVERY.check(claimed, step, system)
        if when is None:
            report.failed += 1
        else:
            report.retrying += 1
    with db.unit() as uow:
        uow.webhooks.record_attempt(
            delivery,
            at=now,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            status=status,
            next_attempt_at=when,
            failures=failures,
        )
