"""Referral rewards, distribution commissions and the debts clawbacks leave.

The ledger holds the money (``commission_freeze`` / ``commission_release`` /
``commission_clawback`` / ``debt_repaid`` journals and their aggregates); these tables are the
mall's index of it per order and per person, written in the same transaction as each journal:

- ``mall_commissions``: one row per (order, level): who earns it, how much, and its status
  (``frozen`` until the order completes, ``released`` to cash, ``clawed_back`` on a refund, with
  how much came out of cash and how much became a debt).
- ``mall_referral_rewards``: the referral points a purchase granted up the chain (levels ≥ 1 of
  the purchase journal's grants), so "what did my invitees earn me" is an indexed read.
- ``mall_debts``: per user, what clawbacks left them owing and what they repaid; outstanding
  summed over users equals the ledger's ``receivables`` aggregate.

``ix_mall_users_tenant_inviter`` indexes ``mall_users.inviter_id`` for "my invitees".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
    select,
    update,
)

from tokenmall.adapters.db.mall.rows import record, values
from tokenmall.adapters.db.mall.tables import TENANT_ID, metadata, users
from tokenmall.domain.mall.commissions import CommissionRow, CommissionStatus

HOLDER = 100  # a ledger holder name (a user's or merchant's id)
ORDER_REF = 100
COMMISSION_STATUSES = values(CommissionStatus)


def _at(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


commissions = Table(
    "mall_commissions",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("order_ref", String(ORDER_REF), nullable=False),
    Column("level", Integer, nullable=False),
    Column("beneficiary", String(HOLDER), nullable=False),
    Column("buyer", String(HOLDER), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("from_cash_fen", BigInteger, nullable=True),  # set by a clawback after payout
    Column("debt_fen", BigInteger, nullable=True),  # what the cash could not cover
    _at("created_at"),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "order_ref", "level"),
    CheckConstraint("level BETWEEN 1 AND 3", name="level_at_most_3"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("status IN ('frozen', 'released', 'clawed_back')", name="status"),
    Index("ix_mall_commissions_tenant_beneficiary", "tenant_id", "beneficiary"),
)

referral_rewards = Table(
    "mall_referral_rewards",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("order_ref", String(ORDER_REF), nullable=False),
    Column("level", Integer, nullable=False),
    Column("beneficiary", String(HOLDER), nullable=False),
    Column("buyer", String(HOLDER), nullable=False),
    Column("points_units", BigInteger, nullable=False),
    Column("journal_id", BigInteger, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "order_ref", "level"),
    CheckConstraint("level BETWEEN 1 AND 3", name="level_at_most_3"),
    CheckConstraint("points_units > 0", name="points_positive"),
    Index("ix_mall_referral_rewards_tenant_beneficiary", "tenant_id", "beneficiary"),
)

debts = Table(
    "mall_debts",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("user_id", String(HOLDER), nullable=False),
    Column("owed_fen", BigInteger, nullable=False),  # every clawback's uncovered part, summed
    Column("repaid_fen", BigInteger, nullable=False),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "user_id"),
    CheckConstraint("repaid_fen >= 0 AND repaid_fen <= owed_fen", name="repaid_within_owed"),
)

# "Who did I invite": mall_users is keyed by (tenant_id, user_id); this finds invitees.
inviter_index = Index("ix_mall_users_tenant_inviter", users.c.tenant_id, users.c.inviter_id)

TABLES = ("mall_commissions", "mall_referral_rewards", "mall_debts")


def _commission(row: Any) -> CommissionRow:
    return record(CommissionRow, row, status=CommissionStatus(row.status))


def add_commissions(conn: Connection, tenant_id: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(commissions.insert(), [{"tenant_id": tenant_id, **r} for r in rows])


def order_commissions(conn: Connection, tenant_id: str, order_ref: str) -> list[CommissionRow]:
    query = (
        select(commissions)
        .where(commissions.c.tenant_id == tenant_id, commissions.c.order_ref == order_ref)
        .order_by(commissions.c.level)
    )
    return [_commission(r) for r in conn.execute(query)]


def set_commission(
    conn: Connection, tenant_id: str, order_ref: str, level: int, **values: Any
) -> None:
    conn.execute(
        update(commissions)
        .where(
            commissions.c.tenant_id == tenant_id,
            commissions.c.order_ref == order_ref,
            commissions.c.level == level,
        )
        .values(**values)
    )


def commissions_of(
    conn: Connection, tenant_id: str, beneficiary: str, limit: int
) -> list[CommissionRow]:
    query = (
        select(commissions)
        .where(commissions.c.tenant_id == tenant_id, commissions.c.beneficiary == beneficiary)
        .order_by(commissions.c.created_at.desc(), commissions.c.order_ref)
        .limit(limit)
    )
    return [_commission(r) for r in conn.execute(query)]


def commission_totals(conn: Connection, tenant_id: str, beneficiary: str) -> dict[str, int]:
    """Fen of commissions by status, and what was taken back from cash / left as debt."""
    query = (
        select(
            commissions.c.status,
            func.coalesce(func.sum(commissions.c.amount_fen), 0),
            func.coalesce(func.sum(commissions.c.from_cash_fen), 0),
            func.coalesce(func.sum(commissions.c.debt_fen), 0),
            func.count(),
        )
        .where(commissions.c.tenant_id == tenant_id, commissions.c.beneficiary == beneficiary)
        .group_by(commissions.c.status)
    )
    out = {s: 0 for s in COMMISSION_STATUSES}
    out.update(count=0, from_cash=0, debt=0)
    for status, amount, from_cash, debt, count in conn.execute(query):
        out[status] = int(amount)
        out["from_cash"] += int(from_cash)
        out["debt"] += int(debt)
        out["count"] += int(count)
    return out


def add_rewards(conn: Connection, tenant_id: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(referral_rewards.insert(), [{"tenant_id": tenant_id, **r} for r in rows])


def has_rewards(conn: Connection, tenant_id: str, order_ref: str) -> bool:
    query = select(referral_rewards.c.level).where(
        referral_rewards.c.tenant_id == tenant_id, referral_rewards.c.order_ref == order_ref
    )
    return conn.execute(query.limit(1)).first() is not None


def reward_totals(conn: Connection, tenant_id: str, beneficiary: str) -> dict[int, int]:
    """Point units earned from referrals, by level."""
    query = (
        select(referral_rewards.c.level, func.sum(referral_rewards.c.points_units))
        .where(
            referral_rewards.c.tenant_id == tenant_id,
            referral_rewards.c.beneficiary == beneficiary,
        )
        .group_by(referral_rewards.c.level)
    )
    return {int(level): int(units) for level, units in conn.execute(query)}


def debt_of(conn: Connection, tenant_id: str, user_id: str) -> int:
    """Fen the user owes now."""
    row = conn.execute(
        select(debts.c.owed_fen, debts.c.repaid_fen).where(
            debts.c.tenant_id == tenant_id, debts.c.user_id == user_id
        )
    ).first()
    return 0 if row is None else int(row.owed_fen - row.repaid_fen)


def add_debt(conn: Connection, tenant_id: str, user_id: str, fen: int, now: datetime) -> None:
    changed = conn.execute(
        update(debts)
        .where(debts.c.tenant_id == tenant_id, debts.c.user_id == user_id)
        .values(owed_fen=debts.c.owed_fen + fen, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(
            debts.insert().values(
                tenant_id=tenant_id, user_id=user_id, owed_fen=fen, repaid_fen=0, updated_at=now
            )
        )


def repay_debt(conn: Connection, tenant_id: str, user_id: str, fen: int, now: datetime) -> None:
    conn.execute(
        update(debts)
        .where(debts.c.tenant_id == tenant_id, debts.c.user_id == user_id)
        .values(repaid_fen=debts.c.repaid_fen + fen, updated_at=now)
    )
