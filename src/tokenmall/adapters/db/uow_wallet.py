"""The wallet's, the settlement's and the outbox's SQL of the unit of work: pending
withdrawals, settled days (their stored results read as integers), the forced exits of an exit
journal, and the outbox's rows (an event and its deliveries).

The ledger steps themselves (trades, redemptions, ``SettleDay``) run through the ledger's
``execute`` in ``services/mall/wallet_ledger.py``; what they read and answer is here.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall import events as events_repo
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.mall import withdrawals as withdrawals_repo
from tokenmall.adapters.db.tables import journals, postings, settled_days
from tokenmall.domain.money import parse_money, parse_points


@dataclass(frozen=True, slots=True)
class SettledDay:
    """A settled business day: its dividend (fen, recipients, the pool left), its forced exits
    (count, points, payout fen), the price after it (1e-8 yuan per point) and its journals."""

    business_date: date
    journal_id: int
    distributed: int
    recipients: int
    dividend_pool_left: int
    exit_journal_id: int | None
    exits: int
    exit_points: int
    exit_payout: int
    price_e8: int


@dataclass(frozen=True, slots=True)
class Exit:
    """One forced exit of a settled day: the holder, the points bought back and the payout."""

    holder: str
    points: int
    payout: int


def settled_day(result: dict[str, Any]) -> SettledDay:
    """A settlement's journal result (decimal strings) as integers."""
    exit_journal_id = result.get("exit_journal_id")
    return SettledDay(
        business_date=date.fromisoformat(str(result["business_date"])),
        journal_id=int(result["journal_id"]),
        distributed=parse_money(str(result["distributed"]), allow_zero=True),
        recipients=int(result["recipients"]),
        dividend_pool_left=parse_money(str(result["dividend_pool_left"]), allow_zero=True),
        exit_journal_id=None if exit_journal_id is None else int(exit_journal_id),
        exits=int(result.get("exits", 0)),
        exit_points=parse_points(str(result.get("exit_points", "0")), allow_zero=True),
        exit_payout=parse_money(str(result.get("exit_payout", "0")), allow_zero=True),
        price_e8=parse_points(str(result["price"]), "price", allow_zero=True),
    )


class SqlWalletReads:
    """What the wallet reads beside the ledger's holders: the cash being withdrawn."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def withdrawing(self, tenant_id: str, user_id: str) -> int:
        return withdrawals_repo.pending_total(self.conn, tenant_id, user_id)


class SqlSettledDays:
    """The tenant's settled days and the forced exits of their exit journals."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def is_settled(self, tenant_id: str, day: date) -> bool:
        query = select(settled_days.c.business_date).where(
            settled_days.c.tenant_id == tenant_id, settled_days.c.business_date == day
        )
        return self.conn.execute(query).first() is not None

    def is_mall_tenant(self, tenant_id: str) -> bool:
        return tenants_repo.is_mall_tenant(self.conn, tenant_id)

    def exits(self, tenant_id: str, exit_journal_id: int) -> list[Exit]:
        points = func.sum(postings.c.amount).filter(postings.c.asset == "equity")
        cash = func.sum(postings.c.amount).filter(postings.c.asset == "money")
        rows = self.conn.execute(
            select(postings.c.holder, points, cash)
            .where(
                postings.c.tenant_id == tenant_id,
                postings.c.journal_id == exit_journal_id,
                postings.c.holder != "",
            )
            .group_by(postings.c.holder)
            .order_by(postings.c.holder)
        )
        return [Exit(row[0], -int(row[1] or 0), int(row[2] or 0)) for row in rows]

    def settled(self, tenant_id: str, after: date | None, limit: int) -> list[SettledDay]:
        query = (
            select(journals.c.result)
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
            query = query.where(settled_days.c.business_date > after)
        query = query.order_by(settled_days.c.business_date).limit(limit)
        return [settled_day(json.loads(row[0])) for row in self.conn.execute(query)]


class SqlOutboxRows:
    """The outbox's rows: the tenant's active endpoints (read once per transaction), and an
    event with one pending delivery per endpoint it goes to."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def endpoints(self, tenant_id: str) -> list[tuple[str, list[str]]]:
        """(endpoint id, subscribed types) of the tenant's active endpoints, read once per
        transaction (an order emits several events; an endpoint added meanwhile by another
        transaction gets the next ones)."""
        transaction = self.conn.get_transaction()
        cached = self.conn.info.get(_ENDPOINTS)
        if cached is not None and cached[0] is transaction and cached[1] == tenant_id:
            found: list[tuple[str, list[str]]] = cached[2]
            return found
        found = events_repo.active_endpoints(self.conn, tenant_id)
        self.conn.info[_ENDPOINTS] = (transaction, tenant_id, found)
        return found

    def prefetch(self, tenant_id: str, version: int | None) -> None:
        """The tenant's active endpoints for this transaction: with ``version`` (the tenant's
        configuration version, read by this transaction: every endpoint write bumps it), from
        this process's cache of them at that version, else read now (and cached)."""
        if version is None:
            self.endpoints(tenant_id)
            return
        cache = _CACHED.get(self.conn.engine)
        if cache is None:
            cache = _CACHED.setdefault(self.conn.engine, {})
        hit = cache.get(tenant_id)
        if hit is not None and hit[0] == version:
            found = hit[1]
        else:
            # Read after the version: at least as new as the configuration it names.
            found = events_repo.active_endpoints(self.conn, tenant_id)
            cache[tenant_id] = (version, found)
        self.conn.info[_ENDPOINTS] = (self.conn.get_transaction(), tenant_id, found)

    def add(
        self,
        tenant_id: str,
        event_id: str,
        event_type: str,
        data: str,
        now: datetime,
        targets: list[tuple[str, str]],
    ) -> None:
        """The event's row and its deliveries' (delivery id, endpoint id), on the fast insert
        path (the hot paths emit events inside their write pipelines)."""
        event, due = events_repo.outbox_rows(tenant_id, event_id, event_type, data, now, targets)
        fast.insert_dicts(self.conn, events_repo.events, [event])
        fast.insert_dicts(self.conn, events_repo.deliveries, due)


_ENDPOINTS = "tokenmall.events.endpoints"


# Each engine's tenants' active endpoints: tenant -> (configuration version, endpoints).
_CACHED: weakref.WeakKeyDictionary[Engine, dict[str, tuple[int, list[tuple[str, list[str]]]]]]
_CACHED = weakref.WeakKeyDictionary()
