"""Outgoing events for integrators' webhooks: a transactional outbox.

``SqlOutbox`` is the unit of work's ``Outbox`` port. ``emit`` is called inside the transaction
that made the change: it writes the event and one pending delivery per active endpoint of the
tenant subscribed to its type, in that same transaction (``adapters/db/uow_wallet.py``'s
rows). So an event exists if and only if its change committed, and a delivery can never
announce a change that was rolled back. ``services/mall/webhook_delivery.py`` sends them.
``emit`` and ``prefetch`` on a connection are the same steps for the ledger's SQL steps of an
order's money (``order_ledger.py``), which run on the unit's connection.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.uow_wallet import SqlOutboxRows
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


class SqlOutbox:
    """The ``Outbox`` port: events recorded in the transaction for the tenant's endpoints."""

    def __init__(self, conn: Connection) -> None:
        self.rows = SqlOutboxRows(conn)

    def prefetch(self, tenant_id: str, version: int | None = None) -> None:
        """Read the tenant's endpoints now (before a lock is taken), for this transaction's
        ``emit`` calls; with ``version`` (the tenant's configuration version as this
        transaction read it), from this process's cache at that version when it has it."""
        self.rows.prefetch(tenant_id, version)

    def emit(self, tenant_id: str, event_type: str, data: dict[str, Any], now: datetime) -> None:
        """Record ``event_type`` with its JSON-safe ``data`` for delivery to the tenant's
        endpoints."""
        self.record(tenant_id, event_type, data, now)

    def record(self, tenant_id: str, event_type: str, data: dict[str, Any], now: datetime) -> str:
        """``emit``, answering the event's id."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        text = _JSON.encode(data)
        event_id = ids.new_id("evt")
        targets = [
            (ids.new_id("dlv"), endpoint_id)
            for endpoint_id, types in self.rows.endpoints(tenant_id)
            if event_type in types
        ]
        self.rows.add(tenant_id, event_id, event_type, text, now, targets)
        return event_id


def emit(
    conn: Connection, tenant_id: str, event_type: str, data: dict[str, Any], now: datetime
) -> str:
    """``SqlOutbox.emit`` in ``conn``'s transaction; returns the event's id."""
    return SqlOutbox(conn).record(tenant_id, event_type, data, now)


def prefetch(conn: Connection, tenant_id: str) -> None:
    """``SqlOutbox.prefetch`` in ``conn``'s transaction."""
    SqlOutbox(conn).prefetch(tenant_id)
