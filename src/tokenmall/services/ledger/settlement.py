"""The daily settlement (rules 6 then 7) straight against the database.

One transaction per (tenant, business date), under the tenant's write lock: the day's
dividend by the engine's exact water-filling (``dividend.water_level_by_sums``, the one
implementation of the fixpoint passes and the sweep), then the forced exits at the price the
step began with. Holders are never all in memory: the day runs as a handful of set-based
statements (``adapters.db.settlement_sql`` on PostgreSQL, ``adapters.db.settlement_sqlite``
on SQLite); this module decides the day and moves the tenant's aggregates.

Two journals per day: ``dividend`` (key ``settle:<date>``, one cash posting per recipient, then
one for the pool) and ``forced_exit`` (key ``settle:<date>:forced_exit``, the points and cash
of each exit, then the supply, the backing pool and, with ``sell_fee_to = dividend_pool``, the
dividend pool that receives the exits' fees). Both balance; PostgreSQL's deferred
trigger checks it again at commit.
``settled_days`` makes the day idempotent: settling it again returns the first result and
changes nothing.

The decisions mirror ``dividend.settle``; ``tests/integration`` checks that both paths pay
exactly what the in-memory engine pays, to the fen.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import Connection

from tokenmall.adapters.db import settlement_sql
from tokenmall.adapters.db.settlement_sql import DaySpec, PgDaySets
from tokenmall.adapters.db.settlement_sqlite import SqliteDaySets
from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy.state import Rates
from tokenmall.domain.errors import RuleViolation
from tokenmall.domain.ledger.batch import STATE_FIELDS
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.ledger.commands import SettleDay, settle_key
from tokenmall.domain.ledger.results import DaySettled, price_units


def settle(store: Store, tenant_id: str, business_date: date) -> DaySettled:
    """Settle one business day in its own transaction (safe to run twice, e.g. from cron)."""
    with store.transaction() as conn:
        store.lock_tenant(conn, tenant_id)
        return settle_in(store, conn, tenant_id, business_date)


def settle_in(store: Store, conn: Connection, tenant_id: str, business_date: date) -> DaySettled:
    """Settle inside the caller's transaction, which must hold the tenant's write lock."""
    done = settlement_sql.settled_result(conn, tenant_id, business_date)
    if done is not None:
        return DaySettled.from_stored(json.loads(done))
    return _Day(store, conn, tenant_id, business_date).run()


class _Day:
    def __init__(self, store: Store, conn: Connection, tenant_id: str, day: date) -> None:
        self.store, self.conn, self.tenant_id, self.day = store, conn, tenant_id, day
        self.params, _ = store.load_params(conn, tenant_id)
        self.state, self.last_journal_id = store.load_state(conn, tenant_id)
        self.rates = Rates(self.params)
        ordinal = day.toordinal()
        last = self.state.last_day
        if last is not None and ordinal < last:
            raise RuleViolation(
                f"day {day.isoformat()} is before the last settled day "
                f"{date.fromordinal(last).isoformat()}"
            )
        self.by_shares = self.params.dividend_weight == "shares"
        self.share_unit = self.rates.share_unit
        self.forced_exit = self.params.forced_exit
        self.dividend_id = self.last_journal_id + 1
        self.exit_id = self.last_journal_id + 2

    # -- deciding and writing -----------------------------------------------------------------

    def run(self) -> DaySettled:
        spec = DaySpec(
            tenant_id=self.tenant_id,
            by_shares=self.by_shares,
            share_unit=int(self.share_unit),
            forced_exit=self.forced_exit,
            dividend_id=self.dividend_id,
            exit_id=self.exit_id,
            rates=self.rates,
        )
        sets = PgDaySets if self.store.postgres else SqliteDaySets
        state = self.state
        price_num, price_den = state.price()
        amount = state.dividend_pool
        distributed = recipients = exit_count = exit_units = exit_payout = exit_fee = 0
        with sets(self.conn, spec) as day_sets:
            self._open_journals()
            if amount > 0:
                distributed, recipients = day_sets.dividends(day_sets.level(amount))
            if self.forced_exit:
                exit_count, exit_units, exit_payout, exit_fee = day_sets.exits(
                    price_num, price_den, state.seq
                )
        state.dividend_pool -= distributed
        state.dividends_paid += distributed
        state.pool -= exit_payout + exit_fee
        state.dividend_pool += exit_fee
        state.burned += exit_units
        state.circulating -= exit_units
        state.buybacks_paid += exit_payout
        if state.circulating == 0 and exit_count:
            state.last_price_num, state.last_price_den = price_num, price_den
        state.seq += exit_count + 1
        state.last_day = self.day.toordinal()
        return self._record(
            distributed, recipients, exit_count, exit_units, exit_payout, price_num, price_den
        )

    def _open_journals(self) -> None:
        """The day's two journals, first (postings refer to them); results come at the end."""
        key = settle_key(self.day)
        fingerprint = SettleDay(tenant_id=self.tenant_id, business_date=self.day).fingerprint()
        rows = [
            (self.dividend_id, JournalCode.DIVIDEND, key),
            (self.exit_id, JournalCode.FORCED_EXIT, f"{key}:forced_exit"),
        ]
        settlement_sql.open_journals(self.conn, self.tenant_id, self.day, fingerprint, rows)

    def _record(
        self,
        distributed: int,
        recipients: int,
        exit_count: int,
        exit_units: int,
        exit_payout: int,
        price_num: int,
        price_den: int,
    ) -> DaySettled:
        day = self.day
        result = DaySettled(
            journal_id=self.dividend_id,
            business_date=day,
            distributed=distributed,
            recipients=recipients,
            dividend_pool_left=self.state.dividend_pool,
            exit_journal_id=self.exit_id,
            exits=exit_count,
            exit_points=exit_units,
            exit_payout=exit_payout,
            price=price_units(price_num, price_den),
        )
        answers = ((self.dividend_id, result.to_json()), (self.exit_id, result.exits_json()))
        settlement_sql.record_day(
            self.conn, self.tenant_id, day, answers, self.dividend_id, self.exit_id
        )
        row = {name: getattr(self.state, name) for name in STATE_FIELDS}
        row["last_journal_id"] = self.exit_id
        self.store.write_state(self.conn, self.tenant_id, row)
        return result
