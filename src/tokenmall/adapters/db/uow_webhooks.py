"""The webhooks' repository of the SQL unit of work: endpoints, events, deliveries and attempts
(``adapters/db/mall/events.py``; ``adapters/db/uow.py`` binds it to the unit's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import events as repo
from tokenmall.domain.mall.webhooks import Attempt, Delivery, Endpoint, Event


class SqlWebhooks:
    """The tenant's webhook endpoints, its events and their deliveries."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_endpoint(self, endpoint: Endpoint) -> None:
        repo.add_endpoint(self.conn, endpoint)

    def get_endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        return repo.get_endpoint(self.conn, tenant_id, endpoint_id)

    def list_endpoints(self, tenant_id: str, after: str | None, limit: int) -> list[Endpoint]:
        return repo.list_endpoints(self.conn, tenant_id, after, limit)

    def set_endpoint_secret(self, tenant_id: str, endpoint_id: str, stored: str) -> None:
        repo.set_endpoint_secret(self.conn, tenant_id, endpoint_id, stored)

    def delete_endpoint(self, tenant_id: str, endpoint_id: str, now: datetime) -> None:
        repo.delete_endpoint(self.conn, tenant_id, endpoint_id, now)

    def get_event(self, tenant_id: str, event_id: str) -> Event | None:
        return repo.get_event(self.conn, tenant_id, event_id)

    def list_events(
        self, tenant_id: str, event_type: str | None, after: str | None, limit: int
    ) -> list[Event]:
        return repo.list_events(self.conn, tenant_id, event_type, after, limit)

    def get_delivery(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        return repo.get_delivery(self.conn, tenant_id, delivery_id)

    def list_deliveries(
        self,
        tenant_id: str,
        *,
        status: str | None,
        endpoint_id: str | None,
        event_id: str | None,
        after: str | None,
        limit: int,
    ) -> list[Delivery]:
        return repo.list_deliveries(
            self.conn,
            tenant_id,
            status=status,
            endpoint_id=endpoint_id,
            event_id=event_id,
            after=after,
            limit=limit,
        )

    def attempts_of(self, tenant_id: str, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        return repo.attempts_of(self.conn, tenant_id, list(delivery_ids))

    def redeliver(self, tenant_id: str, delivery_id: str, now: datetime) -> None:
        repo.redeliver(self.conn, tenant_id, delivery_id, now)

    def tenants_with_due(self, now: datetime) -> list[str]:
        return repo.tenants_with_due(self.conn, now)

    def due(self, tenant_id: str, now: datetime, limit: int) -> list[tuple[str, Any]]:
        return repo.due(self.conn, tenant_id, now, limit)

    def claim(self, tenant_id: str, delivery_id: str, seen_at: Any, lease_until: datetime) -> bool:
        return repo.claim(self.conn, tenant_id, delivery_id, seen_at, lease_until)

    def record_attempt(
        self,
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
        repo.record_attempt(
            self.conn,
            delivery,
            at=at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            status=status,
            next_attempt_at=next_attempt_at,
            failures=failures,
        )
