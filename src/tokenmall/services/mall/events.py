"""Outgoing events for integrators' webhooks (issue 4 item 8).

``emit`` is called inside the transaction that made the change (an outbox): the event exists
if and only if the change committed. STUB until the webhooks work lands: today it drops events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

EVENT_TYPES = (
    "order.paid",
    "order.completed",
    "order.refunded",
    "points.granted",
    "dividend.paid",
    "holder.exited",
)


def emit(
    conn: Connection, tenant_id: str, event_type: str, data: dict[str, Any], now: datetime
) -> None:
    """Record ``event_type`` with its JSON-safe ``data`` for delivery to the tenant's endpoints."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
