"""Queries of the drop beyond ``SqlNfg``'s: the buyer's row a reservation locks, a collection's
due reservations (claimed without waiting), an open reservation closed only if still open, the
figures a drop's check reads (reservations by status, tokens per owner), and the drop's money
through a channel for its daily reconciliation (``bill_lines``)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tokenmall.adapters.db.mall.payments import gateway_events
from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.nfg.registry import _reservation
from tokenmall.adapters.db.nfg.tables import (
    nfg_drop_buyers,
    nfg_reservations,
    nfg_tokens,
)
from tokenmall.domain.mall.payouts import BillKind, BillLine
from tokenmall.domain.nfg.records import PriceAsset, Reservation, ReservationStatus


def lock_buyer(conn: Connection, tenant_id: str, collection_id: str, user_id: str) -> None:
    """Take the buyer's row of the drop (made on first use; ``reservations`` counts one more),
    locked until the transaction ends: one buyer's reservations run one at a time."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    b = nfg_drop_buyers.c
    conn.execute(
        dialect.insert(nfg_drop_buyers)
        .values(tenant_id=tenant_id, collection_id=collection_id, user_id=user_id, reservations=1)
        .on_conflict_do_update(
            index_elements=[b.tenant_id, b.collection_id, b.user_id],
            set_={"reservations": b.reservations + 1},
        )
    )


def places_of_buyer(
    conn: Connection, tenant_id: str, collection_id: str, user_id: str, now: datetime
) -> int:
    """Places the buyer bought (assigned reservations) or holds reserved (open and not expired)."""
    r = nfg_reservations.c
    return int(
        conn.execute(
            select(func.coalesce(func.sum(r.quantity), 0)).where(
                r.tenant_id == tenant_id,
                r.collection_id == collection_id,
                r.user_id == user_id,
                (r.status == str(ReservationStatus.ASSIGNED))
                | ((r.status == str(ReservationStatus.RESERVED)) & (r.expires_at > now)),
            )
        ).scalar_one()
    )


def due_reservations_of(
    conn: Connection,
    tenant_id: str,
    collection_id: str,
    now: datetime,
    limit: int = 500,
    *,
    claim: bool = False,
) -> list[Reservation]:
    """Open reservations of one collection past their expiry, oldest first. ``claim``: locked
    ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so concurrent sweeps share them and never wait."""
    r = nfg_reservations.c
    query = (
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
    if claim:
        query = query.with_for_update(skip_locked=True)
    return [_reservation(row) for row in conn.execute(query)]


def reservation_if_free(
    conn: Connection, tenant_id: str, reservation_id: str
) -> Reservation | None:
    """The reservation locked for this transaction if no other transaction holds it (None:
    held by another, or no such reservation): ``FOR UPDATE SKIP LOCKED``, never waited for."""
    r = nfg_reservations.c
    row = conn.execute(
        select(nfg_reservations)
        .where(r.tenant_id == tenant_id, r.reservation_id == reservation_id)
        .with_for_update(skip_locked=True)
    ).first()
    return None if row is None else _reservation(row)


def close_if_open(
    conn: Connection, tenant_id: str, reservation_id: str, status: ReservationStatus, now: datetime
) -> bool:
    """Close the reservation with ``status`` if it is still open (``reserved``); whether it was."""
    r = nfg_reservations.c
    done = conn.execute(
        update(nfg_reservations)
        .where(
            r.tenant_id == tenant_id,
            r.reservation_id == reservation_id,
            r.status == str(ReservationStatus.RESERVED),
        )
        .values(status=str(status), closed_at=now)
    )
    return bool(done.rowcount)


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


def bill_lines(
    conn: Connection, tenant_id: str, channel: str, start: datetime, end: datetime
) -> list[BillLine]:
    """The drops' (首发) money through ``channel``: each reservation's payment the shop took
    in [start, end) (its first accepted ``payment.succeeded``), and the refunds of money that
    came after its reservation expired, given back in that window (``rfd_`` + its id)."""
    r, e = nfg_reservations.c, gateway_events.c
    taken = (
        select(e.payment_id, func.min(e.processed_at).label("taken_at"))
        .where(
            e.tenant_id == tenant_id,
            e.gateway == channel,
            e.event_type == "payment.succeeded",
        )
        .group_by(e.payment_id)
        .subquery()
    )
    rows = conn.execute(
        select(r.reservation_id, r.payment_id, r.amount, r.status, r.closed_at, taken.c.taken_at)
        .join(taken, taken.c.payment_id == r.payment_id)
        .where(
            r.tenant_id == tenant_id,
            r.asset == PriceAsset.MONEY,
            r.status.in_((ReservationStatus.ASSIGNED, ReservationStatus.REFUNDED)),
            or_(
                and_(taken.c.taken_at >= start, taken.c.taken_at < end),
                and_(r.closed_at >= start, r.closed_at < end),
            ),
        )
    ).all()
    out: list[BillLine] = []
    for reservation_id, payment_id, amount, status, closed_at, taken_at in rows:
        if start <= aware(taken_at) < end:
            out.append(BillLine(BillKind.PAYMENT, payment_id, int(amount)))
        closed = None if closed_at is None else aware(closed_at)
        if status == ReservationStatus.REFUNDED and closed is not None and start <= closed < end:
            refund_id = "rfd_" + reservation_id.split("_", 1)[1]
            out.append(BillLine(BillKind.REFUND, refund_id, int(amount)))
    return out
