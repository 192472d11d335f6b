"""What time does to orders: payment timeouts, auto-confirmation of receipt, the return window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.orders import Order, OrderSettings, OrderStatus
from tokenmall.domain.mall.transitions import Actor
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.orders import (
    ADMINS,
    book,
    cancel_order,
    close_at_channels,
    log,
    move,
    pending_refund,
)
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.unit_of_work import UnitOfWork

BATCH = 200
# What the scheduler may pass: a unit of work or a Connection (everything in the caller's
# transaction), or the web app's Database, the ledger's Store or an Engine (one unit of work
# per batch).
Source = UnitOfWork | Database | Store | Engine | Connection


def _complete(uow: UnitOfWork, order: Order, now: datetime) -> Order:
    if order.money_fen and not order.rewards_booked:
        order = book(uow, order, now)
    order = move(uow, order, "complete", Actor.SYSTEM, now, "return window over", completed_at=now)
    if order.money_fen:
        uow.ledger.complete(order.tenant_id, order_ref=order.order_id, now=now)
    return order


def _each_due(
    source: Source,
    tenant_id: str,
    pick: Callable[[UnitOfWork], list[str]],
    act: Callable[[UnitOfWork, Order], bool],
) -> int:
    """Run ``act`` on each order ``pick`` finds, each in its own savepoint: an order that cannot
    move (logged) does not hold the others up. Given a unit (or a connection), all of it runs
    in the caller's transaction; given a database, one unit per batch. Returns how many
    moved."""
    done, skip = 0, set[str]()
    while True:
        if isinstance(source, (Database, Store, Engine)):
            engine = source if isinstance(source, Engine) else source.engine
            with MallUnitOfWork(engine) as uow:
                moved = _each_in(uow, tenant_id, pick, act, skip)
        elif isinstance(source, Connection):
            moved = _each_in(MallUnitOfWork.joining(source), tenant_id, pick, act, skip)
        else:
            moved = _each_in(source, tenant_id, pick, act, skip)
        done += moved
        if moved == 0:
            return done


def _each_in(
    uow: UnitOfWork,
    tenant_id: str,
    pick: Callable[[UnitOfWork], list[str]],
    act: Callable[[UnitOfWork, Order], bool],
    skip: set[str],
) -> int:
    moved = 0
    for order_id in pick(uow):
        if order_id in skip:
            continue
        order = uow.orders.get(tenant_id, order_id)
        if order is None:
            continue
        try:
            with uow.nested.savepoint():
                if act(uow, order):
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


def cancel_expired_orders(
    source: Source, tenant_id: str, now: datetime, gateway: Gateway | None = None
) -> int:
    """Cancel the unpaid orders whose payment time ran out (closing their payments at the
    channels first, given the tenant's ``gateway``); how many were cancelled."""

    def pick(uow: UnitOfWork) -> list[str]:
        return uow.orders.due_ids(tenant_id, OrderStatus.CREATED, "pay_by", now, BATCH)

    def act(uow: UnitOfWork, order: Order) -> bool:
        if gateway is not None:
            close_at_channels(uow, order, gateway, insist=True)
        cancel_order(uow, order, Actor.SYSTEM, now, "payment time ran out")
        return True

    return _each_due(source, tenant_id, pick, act)


def complete_due_orders(source: Source, tenant_id: str, now: datetime) -> int:
    """Confirm receipt of orders shipped ``auto_confirm_days`` ago, then complete the orders
    whose return window is over (booking their rewards if not yet); how many completed."""

    def settings(uow: UnitOfWork) -> OrderSettings:
        return uow.orders.settings(tenant_id)

    def pick_shipped(uow: UnitOfWork) -> list[str]:
        before = now - timedelta(days=settings(uow).auto_confirm_days)
        return uow.orders.due_ids(tenant_id, OrderStatus.SHIPPED, "shipped_at", before, BATCH)

    def confirm(uow: UnitOfWork, order: Order) -> bool:
        assert order.shipped_at is not None
        days = settings(uow).auto_confirm_days
        at = order.shipped_at + timedelta(days=days)
        note = "confirmed automatically"
        move(uow, order, "confirm_receipt", Actor.SYSTEM, now, note, received_at=at)
        return True

    def pick_received(uow: UnitOfWork) -> list[str]:
        before = now - timedelta(days=settings(uow).return_window_days)
        received = OrderStatus.RECEIVED
        return uow.orders.due_ids(tenant_id, received, "received_at", before, BATCH)

    def finish(uow: UnitOfWork, order: Order) -> bool:
        if pending_refund(uow, order) is not None:
            return False  # decided first; the next run completes it if the refund is rejected
        _complete(uow, order, now)
        return True

    _each_due(source, tenant_id, pick_shipped, confirm)
    return _each_due(source, tenant_id, pick_received, finish)


@dataclass(frozen=True, slots=True)
class DueRun:
    cancelled: int
    completed: int


def run_due(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    now: datetime,
    gateway: Gateway | None = None,
) -> DueRun:
    require(caller, tenant_id, ADMINS)
    cancelled = cancel_expired_orders(uow, tenant_id, now, gateway)
    completed = complete_due_orders(uow, tenant_id, now)
    return DueRun(cancelled, completed)
