"""The console's read-only queries: refunds awaiting a decision, sales in a window, and the
prices the ledger's journals recorded."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from tokenmall.adapters.db.mall.orders import orders
from tokenmall.adapters.db.mall.refunds import refunds
from tokenmall.adapters.db.tables import journals
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.mall.refunds import RefundStatus

REQUESTED_SHOWN = 200


def requested_refunds(
    conn: Connection, tenant_id: str, merchant_id: str | None
) -> list[dict[str, Any]]:
    """Refunds waiting for a decision, oldest first; only ``merchant_id``'s orders' if given."""
    r = refunds
    query = (
        select(r.c.refund_id, r.c.order_id, r.c.money_fen, r.c.stable_fen, r.c.reason)
        .add_columns(r.c.requested_at)
        .where(r.c.tenant_id == tenant_id, r.c.status == RefundStatus.REQUESTED.value)
    )
    if merchant_id is not None:
        o = orders
        query = query.join(
            o, (o.c.tenant_id == r.c.tenant_id) & (o.c.order_id == r.c.order_id)
        ).where(o.c.merchant_id == merchant_id)
    rows = conn.execute(
        query.order_by(r.c.requested_at, r.c.refund_id).limit(REQUESTED_SHOWN)
    ).all()
    return [dict(row._mapping) for row in rows]


def paid_since(conn: Connection, tenant_id: str, since: datetime) -> tuple[int, int]:
    """(orders, their total in fen) paid at or after ``since``; a redemption's order (paid by
    its token, no money) is no sale and is not counted."""
    o = orders
    row = conn.execute(
        select(func.count(), func.coalesce(func.sum(o.c.total_fen), 0)).where(
            o.c.tenant_id == tenant_id, o.c.paid_at >= since, o.c.redemption_id.is_(None)
        )
    ).one()
    return int(row[0]), int(row[1])


def refunded_since(conn: Connection, tenant_id: str, since: datetime) -> tuple[int, int]:
    """(orders, their total in fen) refunded at or after ``since``."""
    o = orders
    row = conn.execute(
        select(func.count(), func.coalesce(func.sum(o.c.total_fen), 0)).where(
            o.c.tenant_id == tenant_id, o.c.refunded_at >= since
        )
    ).one()
    return int(row[0]), int(row[1])


def settled_prices(conn: Connection, tenant_id: str, limit: int) -> list[tuple[date | str, str]]:
    """(business date, price text) of the last ``limit`` settlement journals, oldest first."""
    rows = conn.execute(
        select(journals.c.business_date, journals.c.result)
        .where(
            journals.c.tenant_id == tenant_id,
            journals.c.code == JournalCode.DIVIDEND.value,
            journals.c.reverses.is_(None),
        )
        .order_by(journals.c.journal_id.desc())
        .limit(limit)
    ).all()
    out: list[tuple[date | str, str]] = []
    for day, result in reversed(rows):
        price = json.loads(result).get("price")
        if price is not None:
            out.append((day, str(price)))
    return out


PRICED = (JournalCode.PURCHASE.value, JournalCode.BUYBACK.value, JournalCode.CONVERT.value)


def journal_prices(
    conn: Connection, tenant_id: str, limit: int
) -> list[tuple[datetime | str, str]]:
    """(created at, price text) of the last ``limit`` priced journals, oldest first."""
    rows = conn.execute(
        select(journals.c.created_at, journals.c.result)
        .where(journals.c.tenant_id == tenant_id, journals.c.code.in_(PRICED))
        .order_by(journals.c.journal_id.desc())
        .limit(limit)
    ).all()
    out: list[tuple[datetime | str, str]] = []
    for created, result in reversed(rows):
        price = json.loads(result).get("price")
        if price is not None:
            out.append((created, str(price)))
    return out
