"""Queries of the drop beyond ``SqlNfg``'s: a collection's due reservations, and the figures a
drop's check reads (reservations by status, tokens per owner)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, func, select

from tokenmall.adapters.db.nfg.registry import _reservation
from tokenmall.adapters.db.nfg.tables import nfg_reservations, nfg_tokens
from tokenmall.domain.nfg.records import Reservation, ReservationStatus


def due_reservations_of(
    conn: Connection, tenant_id: str, collection_id: str, now: datetime, limit: int = 500
) -> list[Reservation]:
    """Open reservations of one collection past their expiry, oldest first."""
    r = nfg_reservations.c
    rows = conn.execute(
        select(nfg_reservations)
        .where(
            r.tenant_id == tenant_id,
            r.collection_id == collection_id,
            r.status == str(ReservationStatus.RESERVED),
            r.expires_at <= now,
        )
        .order_by(r.expires_at)
        .limit(limit)
    )
    return [_reservation(row) for row in rows]


def reservations_by_status(conn: Connection, tenant_id: str, collection_id: str) -> dict[str, int]:
    """Reservations per status."""
    r = nfg_reservations.c
    rows = conn.execute(
        select(r.status, func.count())
        .where(r.tenant_id == tenant_id, r.collection_id == collection_id)
        .group_by(r.status)
    )
    return {str(status): int(total) for status, total in rows}


def tokens_per_owner(conn: Connection, tenant_id: str, collection_id: str) -> dict[str, int]:
    t = nfg_tokens.c
    rows = conn.execute(
        select(t.owner_id, func.count())
        .where(t.tenant_id == tenant_id, t.collection_id == collection_id)
        .group_by(t.owner_id)
    )
    return {str(owner): int(n) for owner, n in rows}


def assigned_serials(conn: Connection, tenant_id: str, collection_id: str) -> list[int]:
    """Every serial the collection's assigned reservations carry (with repeats, if any)."""
    r = nfg_reservations.c
    out: list[int] = []
    for (serials,) in conn.execute(
        select(r.serials).where(
            r.tenant_id == tenant_id,
            r.collection_id == collection_id,
            r.status == str(ReservationStatus.ASSIGNED),
        )
    ):
        out.extend(int(s) for s in json.loads(serials or "[]"))
    return out
