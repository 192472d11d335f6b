"""Queries of the issuers' royalties (``tables``): what trades accrued, what payouts took.
A base of ``SqlMarket``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.market.tables import (
    market_royalty_payouts,
    market_settings,
    market_trades,
)


@dataclass(frozen=True, slots=True)
class PayoutRow:
    tenant_id: str
    payout_id: int  # its journal's id
    issuer_id: str
    business_day: date
    amount: int
    journal_id: int
    created_at: datetime


_PAYOUT_FIELDS = tuple(PayoutRow.__dataclass_fields__)


def _payout(row: Any) -> PayoutRow:
    r = dict(row._mapping)
    r["created_at"] = aware(r["created_at"])
    return PayoutRow(**{k: r[k] for k in _PAYOUT_FIELDS})


class SqlMarketRoyalties:
    conn: Connection

    def lock_payouts(self, tenant_id: str) -> None:
        """Serialise payouts of one tenant on its market settings row (SQLite's writes are
        serial already)."""
        self.conn.execute(
            select(market_settings.c.tenant_id)
            .where(market_settings.c.tenant_id == tenant_id)
            .with_for_update()
        ).all()

    def royalties_earned(
        self, tenant_id: str, through: date | None = None, issuer_id: str | None = None
    ) -> dict[str, int]:
        """Per issuer, the royalties of its trades (of business days up to ``through``)."""
        t = market_trades.c
        query = select(t.issuer_id, func.sum(t.royalty)).where(t.tenant_id == tenant_id)
        if through is not None:
            query = query.where(t.business_day <= through)
        if issuer_id is not None:
            query = query.where(t.issuer_id == issuer_id)
        rows = self.conn.execute(query.group_by(t.issuer_id)).all()
        return {str(i): int(s) for i, s in rows if s}

    def royalties_paid(self, tenant_id: str, issuer_id: str | None = None) -> dict[str, int]:
        """Per issuer, what its payouts took."""
        p = market_royalty_payouts.c
        query = select(p.issuer_id, func.sum(p.amount)).where(p.tenant_id == tenant_id)
        if issuer_id is not None:
            query = query.where(p.issuer_id == issuer_id)
        rows = self.conn.execute(query.group_by(p.issuer_id)).all()
        return {str(i): int(s) for i, s in rows if s}

    def paid_on(self, tenant_id: str, day: date) -> set[str]:
        """The issuers that have a payout for ``day``."""
        p = market_royalty_payouts.c
        rows = self.conn.execute(
            select(p.issuer_id).where(p.tenant_id == tenant_id, p.business_day == day)
        ).all()
        return {str(r[0]) for r in rows}

    def add_payout(self, payout: PayoutRow) -> None:
        values = {k: getattr(payout, k) for k in _PAYOUT_FIELDS}
        self.conn.execute(insert(market_royalty_payouts).values(values))

    def payouts(
        self, tenant_id: str, *, issuer_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[PayoutRow], int]:
        """One page of payouts, newest first, and how many there are."""
        p = market_royalty_payouts.c
        where = [p.tenant_id == tenant_id]
        if issuer_id is not None:
            where.append(p.issuer_id == issuer_id)
        rows = self.conn.execute(
            select(market_royalty_payouts)
            .where(*where)
            .order_by(p.payout_id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        total = self.conn.execute(select(func.count()).where(*where)).scalar_one()
        return [_payout(r) for r in rows], int(total)
