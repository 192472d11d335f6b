"""Tables and queries of outgoing events: the outbox, webhook endpoints, deliveries, attempts.

``mall_events`` is a transactional outbox: a row is written in the transaction that made the
change, so an event exists if and only if its change committed. Each event is fanned out, in
the same transaction, to one ``mall_webhook_deliveries`` row per active endpoint subscribed to
its type; the delivery worker claims due rows, POSTs them, and records each try in
``mall_webhook_attempts``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    update,
)

from tokenmall.adapters.db.mall import config_version
from tokenmall.adapters.db.mall.rows import aware, record, values
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.mall.webhooks import Attempt, Delivery, DeliveryStatus, Endpoint, Event

DELIVERY_STATUSES = values(DeliveryStatus)


def _at(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


webhook_endpoints = Table(
    "mall_webhook_endpoints",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("endpoint_id", String(ID), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("event_types", Text, nullable=False),  # JSON list of event types
    # ``derived:v1:<salt>``: the signing secret is derived from it and the server's key
    # (services/mall/webhook_delivery.py); rows of earlier releases hold it in clear.
    Column("secret", String(100), nullable=False),
    Column("description", String(200), nullable=False),
    Column("created_by", String(ID), nullable=False),
    _at("created_at"),
    _at("deleted_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "endpoint_id"),
    ForeignKeyConstraint(["tenant_id"], ["mall_tenants.tenant_id"]),
)

events = Table(
    "mall_events",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("data", Text, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "event_id"),
)

deliveries = Table(
    "mall_webhook_deliveries",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("delivery_id", String(ID), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("endpoint_id", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),  # tries so far (numbers the attempt rows)
    Column("failures", Integer, nullable=False),  # failed tries since the last (re)delivery
    _at("next_attempt_at", nullable=True),
    _at("last_attempt_at", nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    _at("delivered_at", nullable=True),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "delivery_id"),
    ForeignKeyConstraint(
        ["tenant_id", "event_id"],
        ["mall_events.tenant_id", "mall_events.event_id"],
        name="fk_mall_webhook_deliveries_event",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "endpoint_id"],
        ["mall_webhook_endpoints.tenant_id", "mall_webhook_endpoints.endpoint_id"],
        name="fk_mall_webhook_deliveries_endpoint",
    ),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    Index("ix_mall_webhook_deliveries_due", "tenant_id", "status", "next_attempt_at"),
    Index("ix_mall_webhook_deliveries_event", "tenant_id", "event_id"),
)

attempts = Table(
    "mall_webhook_attempts",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("delivery_id", String(ID), nullable=False),
    Column("attempt", Integer, nullable=False),
    _at("attempted_at"),
    Column("status_code", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    Column("duration_ms", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "delivery_id", "attempt"),
    ForeignKeyConstraint(
        ["tenant_id", "delivery_id"],
        ["mall_webhook_deliveries.tenant_id", "mall_webhook_deliveries.delivery_id"],
        name="fk_mall_webhook_attempts_delivery",
    ),
)

TABLES = [t.name for t in (webhook_endpoints, events, deliveries, attempts)]


# -- endpoints --------------------------------------------------------------------------------


def _endpoint(row: Any) -> Endpoint:
    return record(Endpoint, row, utc=True, event_types=tuple(json.loads(row.event_types)))


def add_endpoint(conn: Connection, endpoint: Endpoint) -> None:
    conn.execute(
        insert(webhook_endpoints).values(
            tenant_id=endpoint.tenant_id,
            endpoint_id=endpoint.endpoint_id,
            url=endpoint.url,
            event_types=json.dumps(list(endpoint.event_types)),
            secret=endpoint.secret,
            description=endpoint.description,
            created_by=endpoint.created_by,
            created_at=endpoint.created_at,
            deleted_at=None,
        )
    )
    # The active endpoints are cached per process against the configuration version.
    config_version.bump(conn, endpoint.tenant_id)


def set_endpoint_secret(conn: Connection, tenant_id: str, endpoint_id: str, stored: str) -> None:
    conn.execute(
        update(webhook_endpoints)
        .where(
            webhook_endpoints.c.tenant_id == tenant_id,
            webhook_endpoints.c.endpoint_id == endpoint_id,
        )
        .values(secret=stored)
    )


def get_endpoint(conn: Connection, tenant_id: str, endpoint_id: str) -> Endpoint | None:
    row = conn.execute(
        select(webhook_endpoints).where(
            webhook_endpoints.c.tenant_id == tenant_id,
            webhook_endpoints.c.endpoint_id == endpoint_id,
        )
    ).first()
    return None if row is None else _endpoint(row)


def list_endpoints(
    conn: Connection, tenant_id: str, after: str | None, limit: int
) -> list[Endpoint]:
    query = select(webhook_endpoints).where(
        webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.deleted_at.is_(None)
    )
    if after is not None:
        query = query.where(webhook_endpoints.c.endpoint_id > after)
    query = query.order_by(webhook_endpoints.c.endpoint_id).limit(limit)
    return [_endpoint(row) for row in conn.execute(query)]


def active_endpoints(conn: Connection, tenant_id: str) -> list[tuple[str, list[str]]]:
    """(endpoint id, subscribed types) of the tenant's endpoints that are not deleted (their
    writes bump the tenant's configuration version, ``config_version.py``)."""
    rows = conn.execute(
        select(webhook_endpoints.c.endpoint_id, webhook_endpoints.c.event_types).where(
            webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.deleted_at.is_(None)
        )
    )
    return [(row[0], json.loads(row[1])) for row in rows]


def delete_endpoint(conn: Connection, tenant_id: str, endpoint_id: str, now: datetime) -> None:
    conn.execute(
        update(webhook_endpoints)
        .where(
            webhook_endpoints.c.tenant_id == tenant_id,
            webhook_endpoints.c.endpoint_id == endpoint_id,
            webhook_endpoints.c.deleted_at.is_(None),
        )
        .values(deleted_at=now)
    )
    config_version.bump(conn, tenant_id)  # the active endpoints' cache, as ``add_endpoint``
    # Deliveries still waiting for a deleted endpoint will never be tried again.
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.tenant_id == tenant_id,
            deliveries.c.endpoint_id == endpoint_id,
            deliveries.c.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="endpoint deleted")
    )


# -- the outbox -------------------------------------------------------------------------------


def outbox_rows(
    tenant_id: str,
    event_id: str,
    event_type: str,
    data: str,
    now: datetime,
    delivery_ids: list[tuple[str, str]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The event's row and its deliveries' rows (delivery id, endpoint id), due at once."""
    event = {
        "tenant_id": tenant_id,
        "event_id": event_id,
        "event_type": event_type,
        "data": data,
        "created_at": now,
    }
    due = [
        {
            "tenant_id": tenant_id,
            "delivery_id": delivery_id,
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "failures": 0,
            "next_attempt_at": now,
            "last_attempt_at": None,
            "last_status_code": None,
            "last_error": None,
            "delivered_at": None,
            "created_at": now,
        }
        for delivery_id, endpoint_id in delivery_ids
    ]
    return event, due


def add_event(
    conn: Connection,
    tenant_id: str,
    event_id: str,
    event_type: str,
    data: str,
    now: datetime,
    delivery_ids: list[tuple[str, str]],
) -> None:
    """The event and its deliveries (delivery id, endpoint id), due at once."""
    event, due = outbox_rows(tenant_id, event_id, event_type, data, now, delivery_ids)
    conn.execute(insert(events).values(**event))
    if due:
        conn.execute(insert(deliveries), due)


def get_event(conn: Connection, tenant_id: str, event_id: str) -> Event | None:
    row = conn.execute(
        select(events).where(events.c.tenant_id == tenant_id, events.c.event_id == event_id)
    ).first()
    if row is None:
        return None
    return Event(
        row.tenant_id, row.event_id, row.event_type, json.loads(row.data), aware(row.created_at)
    )


def list_events(
    conn: Connection, tenant_id: str, event_type: str | None, after: str | None, limit: int
) -> list[Event]:
    query = select(events).where(events.c.tenant_id == tenant_id)
    if event_type is not None:
        query = query.where(events.c.event_type == event_type)
    if after is not None:
        query = query.where(events.c.event_id > after)
    query = query.order_by(events.c.event_id).limit(limit)
    return [
        Event(r.tenant_id, r.event_id, r.event_type, json.loads(r.data), aware(r.created_at))
        for r in conn.execute(query)
    ]


# -- deliveries -------------------------------------------------------------------------------


def _delivery_query() -> Any:
    return select(deliveries, events.c.event_type).join(
        events,
        and_(
            events.c.tenant_id == deliveries.c.tenant_id,
            events.c.event_id == deliveries.c.event_id,
        ),
    )


def _delivery(row: Any) -> Delivery:
    return record(Delivery, row, utc=True, status=DeliveryStatus(row.status))


def get_delivery(conn: Connection, tenant_id: str, delivery_id: str) -> Delivery | None:
    row = conn.execute(
        _delivery_query().where(
            deliveries.c.tenant_id == tenant_id, deliveries.c.delivery_id == delivery_id
        )
    ).first()
    return None if row is None else _delivery(row)


def list_deliveries(
    conn: Connection,
    tenant_id: str,
    *,
    status: str | None,
    endpoint_id: str | None,
    event_id: str | None,
    after: str | None,
    limit: int,
) -> list[Delivery]:
    query = _delivery_query().where(deliveries.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(deliveries.c.status == status)
    if endpoint_id is not None:
        query = query.where(deliveries.c.endpoint_id == endpoint_id)
    if event_id is not None:
        query = query.where(deliveries.c.event_id == event_id)
    if after is not None:
        query = query.where(deliveries.c.delivery_id > after)
    query = query.order_by(deliveries.c.delivery_id).limit(limit)
    return [_delivery(row) for row in conn.execute(query)]


def attempts_of(
    conn: Connection, tenant_id: str, delivery_ids: list[str]
) -> dict[str, list[Attempt]]:
    out: dict[str, list[Attempt]] = {d: [] for d in delivery_ids}
    if not delivery_ids:
        return out
    rows = conn.execute(
        select(attempts)
        .where(attempts.c.tenant_id == tenant_id, attempts.c.delivery_id.in_(delivery_ids))
        .order_by(attempts.c.delivery_id, attempts.c.attempt)
    )
    for r in rows:
        out[r.delivery_id].append(
            Attempt(r.attempt, aware(r.attempted_at), r.status_code, r.error, r.duration_ms)
        )
    return out


def tenants_with_due(conn: Connection, now: datetime) -> list[str]:
    """Tenants that have a pending delivery due by ``now`` (one index probe per tenant)."""
    from tokenmall.adapters.db.mall.tables import tenants

    found = []
    for (tenant_id,) in conn.execute(select(tenants.c.tenant_id).order_by(tenants.c.tenant_id)):
        due = conn.execute(
            select(deliveries.c.delivery_id)
            .where(
                deliveries.c.tenant_id == tenant_id,
                deliveries.c.status == DeliveryStatus.PENDING,
                deliveries.c.next_attempt_at <= now,
            )
            .limit(1)
        ).first()
        if due is not None:
            found.append(tenant_id)
    return found


def due(conn: Connection, tenant_id: str, now: datetime, limit: int) -> list[tuple[str, Any]]:
    """(delivery id, its next_attempt_at as stored) of due pending deliveries, oldest first."""
    rows = conn.execute(
        select(deliveries.c.delivery_id, deliveries.c.next_attempt_at)
        .where(
            deliveries.c.tenant_id == tenant_id,
            deliveries.c.status == DeliveryStatus.PENDING,
            deliveries.c.next_attempt_at <= now,
        )
        .order_by(deliveries.c.next_attempt_at, deliveries.c.delivery_id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def claim(
    conn: Connection, tenant_id: str, delivery_id: str, seen_at: Any, lease_until: datetime
) -> bool:
    """Push the delivery's next try to ``lease_until`` if nobody else did since we read it:
    whoever wins the update owns this try (a worker that dies leaves it due again later)."""
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.tenant_id == tenant_id,
            deliveries.c.delivery_id == delivery_id,
            deliveries.c.status == DeliveryStatus.PENDING,
            deliveries.c.next_attempt_at == seen_at,
        )
        .values(next_attempt_at=lease_until)
    )
    return result.rowcount == 1


def record_attempt(
    conn: Connection,
    delivery: Delivery,
    *,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    status: str,
    next_attempt_at: datetime | None,
    failures: int,
) -> None:
    number = delivery.attempts + 1
    conn.execute(
        insert(attempts).values(
            tenant_id=delivery.tenant_id,
            delivery_id=delivery.delivery_id,
            attempt=number,
            attempted_at=at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.tenant_id == delivery.tenant_id,
            deliveries.c.delivery_id == delivery.delivery_id,
        )
        .values(
            attempts=number,
            failures=failures,
            status=status,
            next_attempt_at=next_attempt_at,
            last_attempt_at=at,
            last_status_code=status_code,
            last_error=error,
            delivered_at=at if status == DeliveryStatus.DELIVERED else None,
        )
    )


def redeliver(conn: Connection, tenant_id: str, delivery_id: str, now: datetime) -> None:
    conn.execute(
        update(deliveries)
        .where(deliveries.c.tenant_id == tenant_id, deliveries.c.delivery_id == delivery_id)
        .values(status=DeliveryStatus.PENDING, failures=0, next_attempt_at=now, delivered_at=None)
    )
