"""Refunds of orders: requested, then decided. Migrations ``0007`` and ``0040`` (the channel's
states: processing, failed, abandoned; the attempt)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    insert,
    literal,
    select,
    text,
    update,
)

from tokenmall.adapters.db.mall.rows import at, aware, maybe_aware, one_of, values
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.mall.refunds import Refund, RefundStatus

REFUND_STATUSES = values(RefundStatus)
_PROCESSING = f"status = '{RefundStatus.PROCESSING}'"

refunds = Table(
    "mall_refunds",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("refund_id", String(ID), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("payment_id", String(ID), nullable=True),
    Column("status", String(16), nullable=False),
    Column("money_fen", BigInteger, nullable=False),
    Column("stable_fen", BigInteger, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("requested_by", String(64), nullable=False),
    at("requested_at"),
    Column("decided_by", String(64), nullable=True),
    at("decided_at", nullable=True),
    Column("decision_note", String(500), nullable=True),
    # True: the rewards were booked, so this was an admin's audited adjustment (rule 9).
    Column("adjustment", Boolean, nullable=False),
    Column("provider_ref", String(120), nullable=True),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("failure_reason", String(500), nullable=True),
    at("submitted_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "refund_id"),
    ForeignKeyConstraint(
        ["tenant_id", "order_id"], ["mall_orders.tenant_id", "mall_orders.order_id"]
    ),
    CheckConstraint(one_of("status", REFUND_STATUSES), name="status"),
    CheckConstraint("money_fen >= 0 AND stable_fen >= 0", name="amounts_not_negative"),
    CheckConstraint("attempt >= 1", name="attempt_positive"),
    Index("ix_mall_refunds_tenant_order", "tenant_id", "order_id"),
    # the scheduler's scan of refunds still processing, longest waiting first (migration 0044)
    Index(
        "ix_mall_refunds_processing",
        "submitted_at",
        "tenant_id",
        "refund_id",
        sqlite_where=text(_PROCESSING),
        postgresql_where=text(_PROCESSING),
    ),
)

TABLES = (refunds.name,)


# --- refunds ---


def _refund(row: Any) -> Refund:
    return Refund(
        tenant_id=row.tenant_id,
        refund_id=row.refund_id,
        order_id=row.order_id,
        payment_id=row.payment_id,
        status=RefundStatus(row.status),
        money_fen=int(row.money_fen),
        stable_fen=int(row.stable_fen),
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=aware(row.requested_at),
        decided_by=row.decided_by,
        decided_at=maybe_aware(row.decided_at),
        decision_note=row.decision_note,
        adjustment=bool(row.adjustment),
        provider_ref=row.provider_ref,
        attempt=int(row.attempt),
        failure_reason=row.failure_reason,
        submitted_at=maybe_aware(row.submitted_at),
    )


def add_refund(conn: Connection, refund: Refund) -> None:
    conn.execute(
        insert(refunds).values(
            tenant_id=refund.tenant_id,
            refund_id=refund.refund_id,
            order_id=refund.order_id,
            payment_id=refund.payment_id,
            status=refund.status,
            money_fen=refund.money_fen,
            stable_fen=refund.stable_fen,
            reason=refund.reason,
            requested_by=refund.requested_by,
            requested_at=refund.requested_at,
            decided_by=refund.decided_by,
            decided_at=refund.decided_at,
            decision_note=refund.decision_note,
            adjustment=refund.adjustment,
            provider_ref=refund.provider_ref,
            attempt=refund.attempt,
            failure_reason=refund.failure_reason,
            submitted_at=refund.submitted_at,
        )
    )


def get_refund(
    conn: Connection, tenant_id: str, refund_id: str, *, lock: bool = False
) -> Refund | None:
    """The refund; ``lock``: its row held until the transaction ends (``FOR UPDATE``), so a
    callback and a query of the same refund finish it one after the other."""
    query = select(refunds).where(
        refunds.c.tenant_id == tenant_id, refunds.c.refund_id == refund_id
    )
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _refund(row)


def processing_refunds_query(before: datetime, limit: int) -> Select[Any]:
    """Every tenant's refunds still processing at their channel, submitted before ``before``,
    the longest waiting first. The status is written into the statement, so the planner sees
    the predicate of the partial index ``ix_mall_refunds_processing``."""
    processing = literal(str(RefundStatus.PROCESSING), literal_execute=True)
    return (
        select(refunds)
        .where(refunds.c.status == processing, refunds.c.submitted_at < before)
        .order_by(refunds.c.submitted_at, refunds.c.tenant_id, refunds.c.refund_id)
        .limit(limit)
    )


def processing_refunds(conn: Connection, before: datetime, limit: int) -> list[Refund]:
    query = processing_refunds_query(before, limit)
    return [_refund(row) for row in conn.execute(query)]


def refunds_of(conn: Connection, tenant_id: str, order_id: str) -> list[Refund]:
    query = (
        select(refunds)
        .where(refunds.c.tenant_id == tenant_id, refunds.c.order_id == order_id)
        .order_by(refunds.c.refund_id)
    )
    return [_refund(row) for row in conn.execute(query)]


def decide_refund(
    conn: Connection,
    tenant_id: str,
    refund_id: str,
    to_status: str,
    *,
    from_status: str = RefundStatus.REQUESTED,
    **values: Any,
) -> bool:
    """Move the refund from ``from_status`` to ``to_status``; False if it was not there."""
    done = conn.execute(
        update(refunds)
        .where(
            refunds.c.tenant_id == tenant_id,
            refunds.c.refund_id == refund_id,
            refunds.c.status == from_status,
        )
        .values(status=to_status, **values)
    )
    return bool(done.rowcount == 1)
