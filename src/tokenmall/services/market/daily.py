"""The market's daily duties, run by the scheduler once a day for each tenant: orders,
listings and bids past their last day expire (a bid's cash returns, a listing frees its
token), then each issuer is paid the royalties its trades accrued up to the day that ended.

Each duty is its own transaction and safe to run again: an expired order is no longer open,
and a day's payout exists at most once per issuer (``royalties.pay_out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.uow import Database
from tokenmall.services.market import royalties, trading
from tokenmall.services.market.state import business_day


@dataclass(frozen=True, slots=True)
class DailyOutcome:
    tenant_id: str
    day: date  # the business day whose royalties were paid out
    expired: int  # orders expired now
    payouts: int  # issuers paid now
    paid: int  # fen paid out now

    def line(self) -> str:
        return (
            f"tenant {self.tenant_id} {self.day.isoformat()}: market: {self.expired} order(s) "
            f"expired, {self.payouts} royalty payout(s)"
        )


def run_daily(
    db: Database, tenant_id: str, now: datetime, config: LogConfig, day: date | None = None
) -> DailyOutcome:
    """Expire the tenant's due orders, then pay out the royalties accrued up to ``day``
    (default: yesterday, the business day that ended)."""
    if day is None:
        day = business_day(now) - timedelta(days=1)
    with db.unit() as unit:
        expired = trading.expire_due(unit, tenant_id, now=now, config=config)
    with db.unit() as unit:
        made = royalties.pay_out(unit, tenant_id, day, now)
    return DailyOutcome(tenant_id, day, expired, len(made), sum(p.amount for p in made))
