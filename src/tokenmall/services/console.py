"""The admin console's read models: refunds awaiting a decision, the names shown beside the
orders, the settled days, the dashboard's sales figures, and the console's audit. Every figure
is an integer (fen, counts); the pages format them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection

from tokenmall.adapters.db import console as sql
from tokenmall.adapters.db.mall import catalogue as catalogue_repo
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.mall.orders import Order
from tokenmall.services.ledger import audit as audit_service
from tokenmall.services.mall import settling
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.unit_of_work import UnitOfWork
from tokenmall.services.unit_of_work_wallet import SettledDay


def own_merchant_id(conn: Connection, caller: Principal, tenant_id: str) -> str | None:
    """The merchant a merchant caller owns (None for an admin, or a merchant without a shop)."""
    if caller.role != "merchant":
        return None
    merchant = catalogue_repo.merchant_of_owner(conn, tenant_id, caller.subject_id)
    return None if merchant is None else merchant.merchant_id


@dataclass(frozen=True, slots=True)
class RequestedRefund:
    refund_id: str
    order_id: str
    money_fen: int
    stable_fen: int
    reason: str | None
    requested_at: datetime


def requested_refunds(conn: Connection, caller: Principal, tenant_id: str) -> list[RequestedRefund]:
    """Refunds waiting for a decision, oldest first (read-only); a merchant's only."""
    merchant_id = None
    if caller.role != "admin":
        merchant_id = own_merchant_id(conn, caller, tenant_id)
        if merchant_id is None:
            return []
    return [RequestedRefund(**row) for row in sql.requested_refunds(conn, tenant_id, merchant_id)]


def shop_and_buyer_names(
    conn: Connection, tenant_id: str, shown: Iterable[Order]
) -> dict[str, str]:
    """The names a merchant may see beside the orders shown: each order's shop name and its
    buyer's display name (never their email)."""
    found: dict[str, str] = {}
    for order in shown:
        if order.merchant_id not in found:
            merchant = catalogue_repo.get_merchant(conn, tenant_id, order.merchant_id)
            if merchant is not None:
                found[order.merchant_id] = merchant.name
        if order.user_id not in found:
            buyer = people_repo.get_user(conn, tenant_id, order.user_id)
            if buyer is not None and buyer.display_name:
                found[order.user_id] = buyer.display_name
    return found


def settled_days(uow: UnitOfWork, caller: Principal, tenant_id: str) -> list[SettledDay]:
    """Every settled day, newest first."""
    found: list[SettledDay] = []
    after = None
    while True:
        batch = settling.list_settled(uow, caller, tenant_id, after, 500)
        found.extend(batch)
        if len(batch) < 500:
            break
        after = batch[-1].business_date.isoformat()
    return found[::-1]


@dataclass(frozen=True, slots=True)
class SalesWindow:
    orders: int
    amount_fen: int
    refunds: int
    refunded_fen: int


@dataclass(frozen=True, slots=True)
class SalesFigures:
    today: SalesWindow
    week: SalesWindow
    exits_week: int
    exits_total: int
    exit_payout_week: int  # fen
    last_settled: date | str | None


def _window(conn: Connection, tenant_id: str, since: datetime) -> SalesWindow:
    paid, amount = sql.paid_since(conn, tenant_id, since)
    refunds, refunded = sql.refunded_since(conn, tenant_id, since)
    return SalesWindow(orders=paid, amount_fen=amount, refunds=refunds, refunded_fen=refunded)


def sales_figures(
    conn: Connection, caller: Principal, tenant_id: str, now: datetime
) -> SalesFigures:
    """Paid orders and their amounts today and over the last 7 business days (UTC+8), refunds
    in the same windows, and forced exits over the last 7 settled days and in all."""
    local = now.astimezone(settling.BUSINESS_TZ)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    days = settled_days(MallUnitOfWork.joining(conn), caller, tenant_id)
    return SalesFigures(
        today=_window(conn, tenant_id, today),
        week=_window(conn, tenant_id, today - timedelta(days=6)),
        exits_week=sum(d.exits for d in days[:7]),
        exits_total=sum(d.exits for d in days),
        exit_payout_week=sum(d.exit_payout for d in days[:7]),
        last_settled=days[0].business_date.isoformat() if days else None,
    )


def audit(db: Database, tenant_id: str) -> list[audit_service.TenantAudit]:
    """Rebuild the tenant's balances from its postings and check the invariants (read-only)."""
    return audit_service.audit(Store(db.engine), tenant_id)
