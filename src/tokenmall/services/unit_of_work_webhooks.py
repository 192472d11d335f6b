"""The webhooks' port of the unit of work: the tenant's endpoints, the events of its outbox,
their deliveries and each delivery's attempts.

``webhooks`` is what the admins' endpoint and delivery use cases and the delivery worker
(``services/mall/webhook_delivery.py``) read and write; the outbox port (``outbox``) is what
records the events in the first place. The SQL implementation is
``adapters/db/uow_webhooks.py``; the fake is ``tests/services/fakes_webhooks.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from tokenmall.domain.mall.webhooks import Attempt, Delivery, Endpoint, Event


class Webhooks(Protocol):
    def add_endpoint(self, endpoint: Endpoint) -> None: ...

    def get_endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        """The endpoint, deleted or not."""

    def list_endpoints(self, tenant_id: str, after: str | None, limit: int) -> list[Endpoint]:
        """The endpoints that are not deleted, in id order, after ``after``."""

    def set_endpoint_secret(self, tenant_id: str, endpoint_id: str, stored: str) -> None: ...

    def delete_endpoint(self, tenant_id: str, endpoint_id: str, now: datetime) -> None: ...

    def get_event(self, tenant_id: str, event_id: str) -> Event | None: ...

    def list_events(
        self, tenant_id: str, event_type: str | None, after: str | None, limit: int
    ) -> list[Event]:
        """In id order, after ``after`` (``event_type``: of that type only)."""

    def get_delivery(self, tenant_id: str, delivery_id: str) -> Delivery | None: ...

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
        """In id order, after ``after``, filtered by whichever of the others are given."""

    def attempts_of(self, tenant_id: str, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        """Each delivery's attempts, the first first (an empty list for none)."""

    def redeliver(self, tenant_id: str, delivery_id: str, now: datetime) -> None:
        """Pending again, due ``now``, with no failures counted."""

    def tenants_with_due(self, now: datetime) -> list[str]:
        """The tenants with a pending delivery due by ``now``, in id order."""

    def due(self, tenant_id: str, now: datetime, limit: int) -> list[tuple[str, Any]]:
        """(delivery id, its next attempt time as stored) of the due pending deliveries,
        oldest first."""

    def claim(self, tenant_id: str, delivery_id: str, seen_at: Any, lease_until: datetime) -> bool:
        """Move the delivery's next attempt to ``lease_until`` if it is still ``seen_at``:
        True if this call won the delivery's try."""

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
        """Add the attempt and move the delivery on (its status, failures and next try)."""
