"""The in-memory webhooks' port of the fake unit of work (``fakes.py``): endpoints, events,
deliveries and their attempts, by (tenant, id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tokenmall.domain.mall.webhooks import Attempt, Delivery, DeliveryStatus, Endpoint, Event


@dataclass
class FakeWebhooks:
    endpoints: dict[tuple[str, str], Endpoint] = field(default_factory=dict)
    events: dict[tuple[str, str], Event] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], Delivery] = field(default_factory=dict)
    attempts: dict[tuple[str, str], list[Attempt]] = field(default_factory=dict)

    def add_event(self, event: Event, deliveries: Sequence[tuple[str, str]]) -> None:
        """Record an event and its pending deliveries ((delivery id, endpoint id)), due at
        once: what the outbox writes."""
        self.events[(event.tenant_id, event.event_id)] = event
        for delivery_id, endpoint_id in deliveries:
            self.deliveries[(event.tenant_id, delivery_id)] = Delivery(
                event.tenant_id, delivery_id, event.event_id, event.event_type, endpoint_id,
                DeliveryStatus.PENDING, 0, 0, event.created_at, None, None, None, None,
                event.created_at,
            )  # fmt: skip

    def add_endpoint(self, endpoint: Endpoint) -> None:
        where = (endpoint.tenant_id, endpoint.endpoint_id)
        assert where not in self.endpoints, "an endpoint is added once"
        self.endpoints[where] = endpoint

    def get_endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        return self.endpoints.get((tenant_id, endpoint_id))

    def list_endpoints(self, tenant_id: str, after: str | None, limit: int) -> list[Endpoint]:
        found = [
            e
            for (t, i), e in sorted(self.endpoints.items())
            if t == tenant_id and e.deleted_at is None and (after is None or i > after)
        ]
        return found[:limit]

    def set_endpoint_secret(self, tenant_id: str, endpoint_id: str, stored: str) -> None:
        where = (tenant_id, endpoint_id)
        self.endpoints[where] = replace(self.endpoints[where], secret=stored)

    def delete_endpoint(self, tenant_id: str, endpoint_id: str, now: datetime) -> None:
        where = (tenant_id, endpoint_id)
        if self.endpoints[where].deleted_at is None:
            self.endpoints[where] = replace(self.endpoints[where], deleted_at=now)
        # Deliveries still waiting for a deleted endpoint will never be tried again.
        for (t, delivery_id), d in list(self.deliveries.items()):
            if t == tenant_id and d.endpoint_id == endpoint_id and d.status == "pending":
                self.deliveries[(t, delivery_id)] = replace(
                    d, status=DeliveryStatus.FAILED, next_attempt_at=None,
                    last_error="endpoint deleted",
                )  # fmt: skip

    def get_event(self, tenant_id: str, event_id: str) -> Event | None:
        return self.events.get((tenant_id, event_id))

    def list_events(
        self, tenant_id: str, event_type: str | None, after: str | None, limit: int
    ) -> list[Event]:
        found = [
            e
            for (t, i), e in sorted(self.events.items())
            if t == tenant_id
            and (event_type is None or e.event_type == event_type)
            and (after is None or i > after)
        ]
        return found[:limit]

    def get_delivery(self, tenant_id: str, delivery_id: str) -> Delivery | None:
        return self.deliveries.get((tenant_id, delivery_id))

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
        found = [
            d
            for (t, i), d in sorted(self.deliveries.items())
            if t == tenant_id
            and (status is None or d.status == status)
            and (endpoint_id is None or d.endpoint_id == endpoint_id)
            and (event_id is None or d.event_id == event_id)
            and (after is None or i > after)
        ]
        return found[:limit]

    def attempts_of(self, tenant_id: str, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        return {d: list(self.attempts.get((tenant_id, d), [])) for d in delivery_ids}

    def redeliver(self, tenant_id: str, delivery_id: str, now: datetime) -> None:
        where = (tenant_id, delivery_id)
        self.deliveries[where] = replace(
            self.deliveries[where],
            status=DeliveryStatus.PENDING,
            failures=0,
            next_attempt_at=now,
            delivered_at=None,
        )

    def _due(self, tenant_id: str, now: datetime) -> list[Delivery]:
        found = [
            d
            for (t, _), d in self.deliveries.items()
            if t == tenant_id
            and d.status == DeliveryStatus.PENDING
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
        ]
        return sorted(found, key=lambda d: (d.next_attempt_at, d.delivery_id))

    def tenants_with_due(self, now: datetime) -> list[str]:
        return sorted({t for t, _ in self.deliveries if self._due(t, now)})

    def due(self, tenant_id: str, now: datetime, limit: int) -> list[tuple[str, Any]]:
        return [(d.delivery_id, d.next_attempt_at) for d in self._due(tenant_id, now)[:limit]]

    def claim(self, tenant_id: str, delivery_id: str, seen_at: Any, lease_until: datetime) -> bool:
        where = (tenant_id, delivery_id)
        found = self.deliveries[where]
        if found.status != DeliveryStatus.PENDING or found.next_attempt_at != seen_at:
            return False
        self.deliveries[where] = replace(found, next_attempt_at=lease_until)
        return True

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
        where = (delivery.tenant_id, delivery.delivery_id)
        number = delivery.attempts + 1
        self.attempts.setdefault(where, []).append(
            Attempt(number, at, status_code, error, duration_ms)
        )
        self.deliveries[where] = replace(
            self.deliveries[where],
            attempts=number,
            failures=failures,
            status=DeliveryStatus(status),
            next_attempt_at=next_attempt_at,
            last_attempt_at=at,
            last_status_code=status_code,
            last_error=error,
            delivered_at=at if status == DeliveryStatus.DELIVERED else None,
        )
