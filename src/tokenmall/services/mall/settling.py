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

from sqlalchemy import Connection, func, select

from tokenmall.adapters.db.mall import tenants as mall_tenants
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import journals, postings, settled_days
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.people import Role
from tokenmall.domain.money import format_money, format_points
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.mall import events
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput

ADMIN: tuple[Role, ...] = (Role.ADMIN,)
BUSINESS_TZ: tzinfo = timezone(timedelta(hours=8), "UTC+08:00")
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True, slots=True)
class Settled:
    tenant_id: str
    business_date: date
    result: dict[str, Any]
    settled_now: bool
    exits: int


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
        raise InvalidInput(f"{field} must be a date as YYYY-MM-DD, got {text!r}", field)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} is not a calendar date: {text!r}", field) from None


def check_ended(day: date, now: datetime, tz: tzinfo = BUSINESS_TZ, field: str = "date") -> None:
    """A business day is settled once it has ended; settling today would close it early."""
    last = yesterday(now, tz)
    if day > last:
        raise InvalidInput(
            f"{day.isoformat()} has not ended yet in the business time zone; the latest day "
            f"that can be settled is {last.isoformat()}",
            field,
        )


def is_settled(conn: Connection, tenant_id: str, day: date) -> bool:
    return (
        conn.execute(
            select(settled_days.c.business_date).where(
                settled_days.c.tenant_id == tenant_id, settled_days.c.business_date == day
            )
        ).first()
        is not None
    )


def settle_in(store: Store, conn: Connection, tenant_id: str, day: date, now: datetime) -> Settled:
    """Settle ``day`` inside the caller's transaction, with its events if settled now."""
    store.lock_tenant(conn, tenant_id)
    already = is_settled(conn, tenant_id, day)
    result = ledger.execute_in(store, conn, c.SettleDay(tenant_id=tenant_id, business_date=day))
    if already:
        return Settled(tenant_id, day, result, False, int(result.get("exits", 0)))
    exits = _exits(conn, tenant_id, int(result["exit_journal_id"]))
    if mall_tenants.is_mall_tenant(conn, tenant_id):
        summary = {k: v for k, v in result.items() if k not in ("code",)}
        events.emit(conn, tenant_id, "dividend.paid", summary, now)
        for holder, points, payout in exits:
            events.emit(
                conn,
                tenant_id,
                "holder.exited",
                {
                    "business_date": day.isoformat(),
                    "user_id": holder,
                    "points": format_points(points),
                    "payout": format_money(payout),
                    "price": result["price"],
                    "exit_journal_id": result["exit_journal_id"],
                },
                now,
            )
    return Settled(tenant_id, day, result, True, len(exits))


def settle_tenant(store: Store, tenant_id: str, day: date, now: datetime) -> Settled:
    """Settle one tenant's day in its own transaction (safe to run twice, at once or later)."""
    with store.transaction() as conn:
        return settle_in(store, conn, tenant_id, day, now)


def _exits(conn: Connection, tenant_id: str, journal_id: int) -> list[tuple[str, int, int]]:
    """(holder, points bought back, payout) of each forced exit, from the exit journal."""
    points = func.sum(postings.c.amount).filter(postings.c.asset == "equity")
    cash = func.sum(postings.c.amount).filter(postings.c.asset == "money")
    rows = conn.execute(
        select(postings.c.holder, points, cash)
        .where(
            postings.c.tenant_id == tenant_id,
            postings.c.journal_id == journal_id,
            postings.c.holder != "",
        )
        .group_by(postings.c.holder)
        .order_by(postings.c.holder)
    )
    return [(row[0], -int(row[1] or 0), int(row[2] or 0)) for row in rows]


def settle_for_admin(
    store: Store,
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    business_date: str,
    now: datetime,
) -> Settled:
    require(caller, tenant_id, ADMIN)
    day = parse_date(business_date)
    check_ended(day, now, field="business_date")
    return settle_in(store, conn, tenant_id, day, now)


def list_settled(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Settled days, oldest first, each with its dividend journal's result."""
    import json

    require(caller, tenant_id, ADMIN)
    query = (
        select(settled_days.c.business_date, journals.c.result)
        .select_from(
            settled_days.join(
                journals,
                (journals.c.tenant_id == settled_days.c.tenant_id)
                & (journals.c.journal_id == settled_days.c.dividend_journal_id),
            )
        )
        .where(settled_days.c.tenant_id == tenant_id)
    )
    if after is not None:
        query = query.where(settled_days.c.business_date > parse_date(after, "after"))
    query = query.order_by(settled_days.c.business_date).limit(limit)
    return [json.loads(row[1]) for row in conn.execute(query)]
