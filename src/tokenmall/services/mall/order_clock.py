"""What time does to orders: payment timeouts, auto-confirmation of receipt, the return window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from tokenmall.adapters.db.mall import orders as repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.orders import Order, OrderSettings, OrderStatus
from tokenmall.domain.mall.transitions import Actor
from tokenmall.services.mall import order_ledger
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.orders import ADMINS, book, cancel_order, log, move, pending_refund
from tokenmall.services.mall.uow import Database

BATCH = 200
# What the scheduler may pass: the web app's Database, the ledger's Store, an Engine (one
# transaction per batch), or a Connection (everything in the caller's transaction).
DbOrConn = Database | Store | Engine | Connection


def _complete(conn: Connection, order: Order, now: datetime) -> Order:
    if order.money_fen and not order.rewards_booked:
        order = book(conn, order, now)
    order = move(
        conn, order, "complete", Actor.SYSTEM, now, "return window over", completed_at=now
    )
    if order.money_fen:
        order_ledger.complete(conn, order.tenant_id, order_ref=order.order_id, now=now)
    return order


def _each_due(
    db_or_conn: DbOrConn,
    tenant_id: str,
    pick: Callable[[Connection], list[str]],
    act: Callable[[Connection, Order], bool],
) -> int:
    """Run ``act`` on each order ``pick`` finds, each in its own savepoint: an order that cannot
    move (logged) does not hold the others up. Given a connection, all of it runs in the
    caller's transaction; given a database, one transaction per batch. Returns how many moved."""
    done, skip = 0, set[str]()
    while True:
        if isinstance(db_or_conn, Connection):
            moved = _each_in(db_or_conn, tenant_id, pick, act, skip)
        else:
            engine = db_or_conn if isinstance(db_or_conn, Engine) else db_or_conn.engine
            with engine.begin() as conn:
                moved = _each_in(conn, tenant_id, pick, act, skip)
        done += moved
        if moved == 0:
            return done


def _each_in(
    conn: Connection,
    tenant_id: str,
    pick: Callable[[Connection], list[str]],
    act: Callable[[Connection, Order], bool],
    skip: set[str],
) -> int:
    moved = 0
    for order_id in pick(conn):
        if order_id in skip:
            continue
        order = repo.get_order(conn, tenant_id, order_id)
        if order is None:
            continue
        try:
            with conn.begin_nested():
                if act(conn, order):
                    moved += 1
                else:
                    skip.add(order_id)
        except DomainError as exc:
            skip.add(order_id)
            log.warning(
                "order could not move on its schedule",
                extra={"fields": {"tenant_id": tenant_id, "order_id": order_id, "error": str(exc)}},
            )
    return moved


def cancel_expired_orders(db_or_conn: DbOrConn, tenant_id: str, now: datetime) -> int:
    """Cancel the unpaid orders whose payment time ran out; how many were cancelled."""

    def pick(conn: Connection) -> list[str]:
        return repo.due_order_ids(conn, tenant_id, OrderStatus.CREATED, "pay_by", now, BATCH)

    def act(conn: Connection, order: Order) -> bool:
        cancel_order(conn, order, Actor.SYSTEM, now, "payment time ran out")
        return True

    return _each_due(db_or_conn, tenant_id, pick, act)


def complete_due_orders(db_or_conn: DbOrConn, tenant_id: str, now: datetime) -> int:
    """Confirm receipt of orders shipped ``auto_confirm_days`` ago, then complete the orders
    whose return window is over (booking their rewards if not yet); how many completed."""

    def settings(conn: Connection) -> OrderSettings:
        return repo.get_settings(conn, tenant_id)

    def pick_shipped(conn: Connection) -> list[str]:
        before = now - timedelta(days=settings(conn).auto_confirm_days)
        return repo.due_order_ids(conn, tenant_id, OrderStatus.SHIPPED, "shipped_at", before, BATCH)

    def confirm(conn: Connection, order: Order) -> bool:
        assert order.shipped_at is not None
        days = settings(conn).auto_confirm_days
        at = order.shipped_at + timedelta(days=days)
        note = "confirmed automatically"
        move(conn, order, "confirm_receipt", Actor.SYSTEM, now, note, received_at=at)
        return True

    def pick_received(conn: Connection) -> list[str]:
        before = now - timedelta(days=settings(conn).return_window_days)
        received = OrderStatus.RECEIVED
        return repo.due_order_ids(conn, tenant_id, received, "received_at", before, BATCH)

    def finish(conn: Connection, order: Order) -> bool:
        if pending_refund(conn, order) is not None:
            return False  # decided first; the next run completes it if the refund is rejected
        _complete(conn, order, now)
        return True

    _each_due(db_or_conn, tenant_id, pick_shipped, confirm)
    return _each_due(db_or_conn, tenant_id, pick_received, finish)


@dataclass(frozen=True, slots=True)
class DueRun:
    cancelled: int
    completed: int


def run_due(conn: Connection, caller: Principal | None, tenant_id: str, now: datetime) -> DueRun:
    require(caller, tenant_id, ADMINS)
    cancelled = cancel_expired_orders(conn, tenant_id, now)
    completed = complete_due_orders(conn, tenant_id, now)
    return DueRun(cancelled, completed)
