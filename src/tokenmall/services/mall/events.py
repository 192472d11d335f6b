"""Outgoing events for integrators' webhooks: a transactional outbox.

``emit`` is called inside the transaction that made the change: it writes the event and one
pending delivery per active endpoint of the tenant subscribed to its type, in that same
transaction. So an event exists if and only if its change committed, and a delivery can never
announce a change that was rolled back. ``services/mall/webhook_delivery.py`` sends them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall import events as repo
from tokenmall.services.mall import ids

EVENT_TYPES = (
    "order.paid",
    "order.completed",
    "order.refunded",
    "points.granted",
    "dividend.paid",
    "holder.exited",
    "integration.cap_exceeded",
)

# json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")), made once.
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def emit(
    conn: Connection, tenant_id: str, event_type: str, data: dict[str, Any], now: datetime
) -> str:
    """Record ``event_type`` with its JSON-safe ``data`` for delivery to the tenant's
    endpoints; returns the event's id."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    text = _JSON.encode(data)
    event_id = ids.new_id("evt")
    targets = [
        (ids.new_id("dlv"), endpoint_id)
        for endpoint_id, types in _endpoints(conn, tenant_id)
        if event_type in types
    ]
    # The rows of ``repo.add_event``, on the fast insert path (the hot paths emit events
    # inside their write pipelines).
    event, due = repo.outbox_rows(tenant_id, event_id, event_type, text, now, targets)
    fast.insert_dicts(conn, repo.events, [event])
    fast.insert_dicts(conn, repo.deliveries, due)
    return event_id


def prefetch(conn: Connection, tenant_id: str) -> None:
    """Read the tenant's endpoints now (before a lock is taken), for this transaction's
    ``emit`` calls."""
    _endpoints(conn, tenant_id)


def _endpoints(conn: Connection, tenant_id: str) -> list[tuple[str, list[str]]]:
    """The tenant's active endpoints, read once per transaction (an order emits several
    events; an endpoint added meanwhile by another transaction gets the next ones)."""
    transaction = conn.get_transaction()
    cached = conn.info.get(_CACHE)
    if cached is not None and cached[0] is transaction and cached[1] == tenant_id:
        found: list[tuple[str, list[str]]] = cached[2]
        return found
    found = repo.active_endpoints(conn, tenant_id)
    conn.info[_CACHE] = (transaction, tenant_id, found)
    return found


_CACHE = "tokenmall.events.endpoints"
