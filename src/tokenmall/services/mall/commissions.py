"""Distribution commissions (issue 4 item 6): at most 3 levels, frozen until the order completes.

Hooks called by ``order_ledger`` inside the order's transaction. STUB until the referrals work
lands: today they do nothing (no commission is frozen, released or clawed back).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection


def on_booked(
    conn: Connection,
    tenant_id: str,
    *,
    order_ref: str,
    buyer: str,
    amount_fen: int,
    revenue_fen: int,
    now: datetime,
) -> None:
    """The order's rewards were just booked: freeze its commissions (``FreezeCommissions``)."""


def on_completed(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """The order completed: release its frozen commissions (``ReleaseCommissions``)."""


def on_refunded(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """A booked order was refunded: claw its commissions back (``ClawbackCommissions``)."""
