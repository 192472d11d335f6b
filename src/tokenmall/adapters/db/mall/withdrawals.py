"""Withdrawals of users' cash balances, their approvals, and each tenant's withdrawal settings.

The money moves in the ledger (``withdrawal_hold`` when requested, ``withdrawal_paid`` at the
final approval, ``withdrawal_release`` on rejection); these rows are the request's workflow.
An approval is a row keyed by (withdrawal, admin): the database itself refuses the same admin
approving twice, so "two distinct approvers" cannot be faked by a retry or a race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    and_,
    func,
    or_,
    select,
    text,
    update,
)

from tokenmall.adapters.db.mall.rows import record, values
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata
from tokenmall.domain.mall.withdrawals import (
    DEFAULT_SETTINGS,
    Settings,
    Withdrawal,
    WithdrawalStatus,
)

STATUSES = values(WithdrawalStatus)


def _at(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


withdrawals = Table(
    "mall_withdrawals",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("withdrawal_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("debt_repaid_fen", BigInteger, nullable=False),  # repaid from cash just before
    Column("status", String(16), nullable=False),
    Column("approvals_required", Integer, nullable=False),
    Column("decided_by", String(ID), nullable=True),  # the final approver, or who rejected
    Column("reason", String(500), nullable=True),  # why it was rejected
    _at("created_at"),
    _at("decided_at", nullable=True),
    # A store's withdrawal (migration 0030): the merchant whose cash it holds; NULL: the user's.
    Column("merchant_id", String(ID), nullable=True),
    PrimaryKeyConstraint("tenant_id", "withdrawal_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
    ForeignKeyConstraint(
        ["tenant_id", "merchant_id"], ["mall_merchants.tenant_id", "mall_merchants.merchant_id"]
    ),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("debt_repaid_fen >= 0", name="debt_repaid_not_negative"),
    CheckConstraint("approvals_required IN (1, 2)", name="approvals_required"),
    CheckConstraint("status IN ('pending', 'paying', 'paid', 'rejected', 'failed')", name="status"),
    Index("ix_mall_withdrawals_tenant_user", "tenant_id", "user_id"),
    Index("ix_mall_withdrawals_tenant_status", "tenant_id", "status"),
    Index(
        "ix_mall_withdrawals_tenant_merchant",
        "tenant_id",
        "merchant_id",
        postgresql_where=text("merchant_id IS NOT NULL"),
        sqlite_where=text("merchant_id IS NOT NULL"),
    ),
)

withdrawal_approvals = Table(
    "mall_withdrawal_approvals",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("withdrawal_id", String(ID), nullable=False),
    Column("admin_id", String(ID), nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "withdrawal_id", "admin_id"),
    ForeignKeyConstraint(
        ["tenant_id", "withdrawal_id"],
        ["mall_withdrawals.tenant_id", "mall_withdrawals.withdrawal_id"],
    ),
    ForeignKeyConstraint(["tenant_id", "admin_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
)

withdrawal_settings = Table(
    "mall_withdrawal_settings",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("requires_kyc", Boolean, nullable=False),
    Column("min_amount_fen", BigInteger, nullable=False),
    Column("two_approver_threshold_fen", BigInteger, nullable=False),
    Column("updated_by", String(ID), nullable=True),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id"),
    ForeignKeyConstraint(["tenant_id"], ["mall_tenants.tenant_id"]),
    CheckConstraint("min_amount_fen > 0", name="min_amount_positive"),
    CheckConstraint("two_approver_threshold_fen > 0", name="threshold_positive"),
)

TABLES = ("mall_withdrawals", "mall_withdrawal_approvals", "mall_withdrawal_settings")


def get_settings(conn: Connection, tenant_id: str) -> Settings:
    row = conn.execute(
        select(withdrawal_settings).where(withdrawal_settings.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        return DEFAULT_SETTINGS
    return Settings(
        bool(row.requires_kyc),
        row.min_amount_fen,
        row.two_approver_threshold_fen,
        row.updated_by,
        row.updated_at,
    )


def put_settings(conn: Connection, tenant_id: str, settings: Settings) -> None:
    values = {
        "requires_kyc": settings.requires_kyc,
        "min_amount_fen": settings.min_amount_fen,
        "two_approver_threshold_fen": settings.two_approver_threshold_fen,
        "updated_by": settings.updated_by,
        "updated_at": settings.updated_at,
    }
    changed = conn.execute(
        update(withdrawal_settings)
        .where(withdrawal_settings.c.tenant_id == tenant_id)
        .values(**values)
    ).rowcount
    if not changed:
        conn.execute(withdrawal_settings.insert().values(tenant_id=tenant_id, **values))


def add(conn: Connection, tenant_id: str, row: dict[str, Any]) -> None:
    conn.execute(withdrawals.insert().values(tenant_id=tenant_id, **row))


def _approvers(conn: Connection, tenant_id: str, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    query = (
        select(withdrawal_approvals.c.withdrawal_id, withdrawal_approvals.c.admin_id)
        .where(
            withdrawal_approvals.c.tenant_id == tenant_id,
            withdrawal_approvals.c.withdrawal_id.in_(ids),
        )
        .order_by(withdrawal_approvals.c.created_at, withdrawal_approvals.c.admin_id)
    )
    for wid, admin in conn.execute(query):
        out[wid].append(admin)
    return out


def _withdrawal(row: Any, approvers: list[str]) -> Withdrawal:
    status = WithdrawalStatus(row.status)
    return record(Withdrawal, row, status=status, approved_by=tuple(approvers))


def get(
    conn: Connection, tenant_id: str, withdrawal_id: str, *, for_update: bool = False
) -> Withdrawal | None:
    query = select(withdrawals).where(
        withdrawals.c.tenant_id == tenant_id, withdrawals.c.withdrawal_id == withdrawal_id
    )
    if for_update and conn.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return None
    return _withdrawal(row, _approvers(conn, tenant_id, [withdrawal_id])[withdrawal_id])


def list_withdrawals(
    conn: Connection,
    tenant_id: str,
    *,
    user_id: str | None,
    status: str | None,
    after: str | None,
    limit: int,
) -> list[Withdrawal]:
    query = select(withdrawals).where(withdrawals.c.tenant_id == tenant_id)
    if user_id is not None:
        query = query.where(withdrawals.c.user_id == user_id)
    if status is not None:
        query = query.where(withdrawals.c.status == status)
    if after is not None:
        query = query.where(withdrawals.c.withdrawal_id > after)
    rows = conn.execute(query.order_by(withdrawals.c.withdrawal_id).limit(limit)).all()
    approvers = _approvers(conn, tenant_id, [r.withdrawal_id for r in rows])
    return [_withdrawal(r, approvers[r.withdrawal_id]) for r in rows]


def add_approval(
    conn: Connection, tenant_id: str, withdrawal_id: str, admin_id: str, now: datetime
) -> None:
    conn.execute(
        withdrawal_approvals.insert().values(
            tenant_id=tenant_id, withdrawal_id=withdrawal_id, admin_id=admin_id, created_at=now
        )
    )


def require_approvals(conn: Connection, tenant_id: str, withdrawal_id: str, count: int) -> None:
    """Raise a pending withdrawal's approvals needed (never lowers it)."""
    conn.execute(
        update(withdrawals)
        .where(
            withdrawals.c.tenant_id == tenant_id,
            withdrawals.c.withdrawal_id == withdrawal_id,
            withdrawals.c.approvals_required < count,
        )
        .values(approvals_required=count)
    )


def decide(
    conn: Connection,
    tenant_id: str,
    withdrawal_id: str,
    source: WithdrawalStatus = WithdrawalStatus.PENDING,
    **values: Any,
) -> bool:
    """Move a withdrawal on from ``source`` (a pending one decided, a paying one's payout
    finished); False if it was not in ``source`` any more."""
    changed = conn.execute(
        update(withdrawals)
        .where(
            withdrawals.c.tenant_id == tenant_id,
            withdrawals.c.withdrawal_id == withdrawal_id,
            withdrawals.c.status == source,
        )
        .values(**values)
    ).rowcount
    return bool(changed)


def pending_total(conn: Connection, tenant_id: str, holder: str) -> int:
    """Fen of the holder's cash (a user's, or a store's) held by withdrawals waiting for
    approval or for their payout; a store's withdrawals are not its owner's."""
    own = and_(withdrawals.c.merchant_id.is_(None), withdrawals.c.user_id == holder)
    total = conn.execute(
        select(func.coalesce(func.sum(withdrawals.c.amount_fen), 0)).where(
            withdrawals.c.tenant_id == tenant_id,
            or_(own, withdrawals.c.merchant_id == holder),
            withdrawals.c.status.in_((WithdrawalStatus.PENDING, WithdrawalStatus.PAYING)),
        )
    ).scalar_one()
    return int(total)
