"""The daily settlement in production: ``tokenmall settle``, the scheduler and
the admins' settlement endpoints all call ``settle_tenant``.

One transaction per (tenant, business date), under the tenant's write lock: the ledger's
``SettleDay`` (rules 6 then 7, idempotent per tenant and date, refusing a date before the last
settled one — economy-rules.md choice 10) and, only when the day is settled now, its outgoing
events in the same transaction (the outbox): one ``dividend.paid`` summary and one
``holder.exited`` per forced exit. Settling a settled day answers its first result, changes
nothing and emits nothing.

Business days are dates in the tenant's business time zone; the default is UTC+8 (China
Standard Time, Asia/Shanghai, which has no daylight saving), so "yesterday" is the day that
ended at the last midnight in Beijing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.mall.people import Role
from tokenmall.domain.money import format_money, format_points
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import Database
from tokenmall.services.unit_of_work import UnitOfWork
from tokenmall.services.unit_of_work_wallet import SettledDay

ADMIN: tuple[Role, ...] = (Role.ADMIN,)
BUSINESS_TZ: tzinfo = timezone(timedelta(hours=8), "UTC+08:00")
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True, slots=True)
class Settled:
    """A settlement's answer: the day's figures, and whether it was settled now (False: it
    was settled before and nothing changed)."""

    tenant_id: str
    business_date: date
    day: SettledDay
    settled_now: bool

    @property
    def exits(self) -> int:
        return self.day.exits


def result(day: SettledDay) -> dict[str, Any]:
    """The day's figures as the ledger's dividend journal records them (decimal strings)."""
    found: dict[str, Any] = {
        "journal_id": day.journal_id,
        "code": str(JournalCode.DIVIDEND),
        "business_date": day.business_date.isoformat(),
        "distributed": format_money(day.distributed),
        "recipients": day.recipients,
        "dividend_pool_left": format_money(day.dividend_pool_left),
        "exit_journal_id": day.exit_journal_id,
        "exits": day.exits,
        "exit_points": format_points(day.exit_points),
        "exit_payout": format_money(day.exit_payout),
        "price": format_points(day.price_e8),
    }
    return found


def parse_timezone(text: str) -> tzinfo:
    """``+08:00``/``UTC+8:00``-style offsets, or an IANA name such as ``Asia/Shanghai``."""
    found = _OFFSET.match(text.strip())
    if found:
        sign, hours, minutes = found.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        if offset > timedelta(hours=14):
            raise ValueError(f"not a time zone offset: {text!r}")
        return timezone(-offset if sign == "-" else offset)
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(text)
    except Exception:  # zoneinfo raises several kinds for a bad name
        raise ValueError(
            f"unknown time zone {text!r} (use +08:00 or a name such as Asia/Shanghai)"
        ) from None


def yesterday(now: datetime, tz: tzinfo = BUSINESS_TZ) -> date:
    """The last business day that has ended at ``now`` in ``tz``."""
    return now.astimezone(tz).date() - timedelta(days=1)


def parse_date(text: str, field: str = "business_date") -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InvalidInput(
            f"{field} must be a date as YYYY-MM-DD, got {text!r}",
            field,
            zh=f"日期格式应为 YYYY-MM-DD（收到 {text!r}）",
        )
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{field} is not a calendar date: {text!r}", field, zh=f"{text} 不是有效的日期"
        ) from None


def check_ended(day: date, now: datetime, tz: tzinfo = BUSINESS_TZ, field: str = "date") -> None:
    """A business day is settled once it has ended; settling today would close it early."""
    last = yesterday(now, tz)
    if day > last:
        raise InvalidInput(
            f"{day.isoformat()} has not ended yet in the business time zone; the latest day "
            f"that can be settled is {last.isoformat()}",
            field,
            zh=f"{day.isoformat()} 在北京时间尚未结束，最晚可结算的日期是 {last.isoformat()}",
        )


def is_settled(uow: UnitOfWork, tenant_id: str, day: date) -> bool:
    return uow.settlement.is_settled(tenant_id, day)


def settle(uow: UnitOfWork, tenant_id: str, day: date, now: datetime) -> Settled:
    """Settle ``day`` in the unit's transaction, with its events if settled now."""
    uow.cash.lock_tenant(tenant_id)
    already = uow.settlement.is_settled(tenant_id, day)
    settled = uow.settlement.settle(tenant_id, day)
    if already:
        return Settled(tenant_id, day, settled, False)
    if settled.exit_journal_id is not None and uow.settlement.is_mall_tenant(tenant_id):
        summary = {k: v for k, v in result(settled).items() if k != "code"}
        uow.outbox.emit(tenant_id, "dividend.paid", summary, now)
        for gone in uow.settlement.exits(tenant_id, settled.exit_journal_id):
            uow.outbox.emit(
                tenant_id,
                "holder.exited",
                {
                    "business_date": day.isoformat(),
                    "user_id": gone.holder,
                    "points": format_points(gone.points),
                    "payout": format_money(gone.payout),
                    "price": summary["price"],
                    "exit_journal_id": settled.exit_journal_id,
                },
                now,
            )
    return Settled(tenant_id, day, settled, True)


def settle_tenant(db: Database, tenant_id: str, day: date, now: datetime) -> Settled:
    """Settle one tenant's day in its own transaction (safe to run twice, at once or later)."""
    with db.unit() as uow:
        return settle(uow, tenant_id, day, now)


def settle_for_admin(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    business_date: str,
    now: datetime,
) -> Settled:
    """An admin settles one ended business day of their tenant (a settled day is answered
    as it was)."""
    require(caller, tenant_id, ADMIN)
    day = parse_date(business_date)
    check_ended(day, now, field="business_date")
    return settle(uow, tenant_id, day, now)


def list_settled(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    after: str | None,
    limit: int,
) -> list[SettledDay]:
    """Settled days, oldest first."""
    require(caller, tenant_id, ADMIN)
    since = None if after is None else parse_date(after, "after")
    return uow.settlement.settled(tenant_id, since, limit)
