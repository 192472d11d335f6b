"""The solvency report of a live tenant: the health figures from the real ledger.

The figures themselves are ``domain.economy.health.figures`` — the same function the simulator
uses; this module only sums the aggregates it needs from the database: the tenant's stored
economy state, the quota outstanding (Σ remaining quota of holders not exited) and the current
daily inflow (new money received through gateways over the last ``window_days`` days, per day,
rounded down).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import holders, journals, postings
from tokenmall.domain.economy.health import DEFAULT_WINDOW_DAYS, Health, health
from tokenmall.domain.errors import InvalidAmount
from tokenmall.domain.ledger.accounts import AccountKind

__all__ = ["DEFAULT_WINDOW_DAYS", "SolvencyReport", "quota_outstanding", "report", "solvency"]


def quota_outstanding(conn: Connection, tenant_id: str) -> int:
    remaining = holders.c.quota - holders.c.quota_used
    total = conn.execute(
        select(func.coalesce(func.sum(remaining), 0)).where(
            holders.c.tenant_id == tenant_id, ~holders.c.exited, remaining > 0
        )
    ).scalar_one()
    return int(total)


def money_received(conn: Connection, tenant_id: str, since: datetime) -> int:
    """Fen of new money received through gateways in journals created since ``since``."""
    total = conn.execute(
        select(func.coalesce(func.sum(postings.c.amount), 0))
        .select_from(
            postings.join(
                journals,
                and_(
                    journals.c.tenant_id == postings.c.tenant_id,
                    journals.c.journal_id == postings.c.journal_id,
                ),
            )
        )
        .where(
            postings.c.tenant_id == tenant_id,
            postings.c.account == AccountKind.GATEWAY_CLEARING.value,
            journals.c.created_at >= since,
        )
    ).scalar_one()
    return -int(total)  # the clearing account is debited (negative) by money coming in


def solvency(
    conn: Connection,
    tenant_id: str,
    now: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    daily_inflow: int | None = None,
) -> Health:
    """The tenant's health figures; ``daily_inflow`` (fen) overrides the measured one."""
    if window_days <= 0:
        raise InvalidAmount("the inflow window must be at least one day")
    store = Store(conn.engine)
    params, _ = store.load_params(conn, tenant_id)
    state, _ = store.load_state(conn, tenant_id)
    if daily_inflow is None:
        received = money_received(conn, tenant_id, now - timedelta(days=window_days))
        daily_inflow = received // window_days
    return health(state, params, daily_inflow, quota_outstanding(conn, tenant_id))


@dataclass(frozen=True, slots=True)
class SolvencyReport:
    """A tenant's health figures in integers (``Health``) over an inflow window of
    ``window_days`` days."""

    tenant_id: str
    window_days: int
    figures: Health

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data: decimal strings and the plain statement."""
        return {
            "tenant_id": self.tenant_id,
            "inflow_window_days": self.window_days,
            **self.figures.to_public(),
        }


def report(figures: Health, tenant_id: str, window_days: int) -> SolvencyReport:
    """The tenant's report of ``figures`` (``solvency``)."""
    return SolvencyReport(tenant_id, window_days, figures)
