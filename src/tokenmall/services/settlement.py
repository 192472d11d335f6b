"""The daily settlement (rules 6 then 7) straight against the database.

One transaction per (tenant, business date), under the tenant's write lock: the day's
dividend by the engine's exact water-filling (``dividend.water_level_by_sums``, the one
implementation of the fixpoint passes and the sweep), then the forced exits at the price the
step began with. Holders are never all in memory.

PostgreSQL (``_SetBased``): no per-holder Python. Each water-level pass is one aggregate query
(``SUM(weight), SUM(remaining) … WHERE remaining*den <= num*weight`` in NUMERIC); the payouts
are one ``INSERT … SELECT`` of the postings and one ``UPDATE`` of the holders, both with
``WaterLevel.allocation``'s formula; the forced exits are one statement of data-modifying
CTEs (``must_exit``'s test, ``buyback_payout``'s floor). Migration 0005 leaves room in the
holders' pages so the day's UPDATE is HOT.

SQLite: its integer products silently become floats past 64 bits, so the arithmetic stays in
Python over raw keyset chunks (``CHUNK`` rows, plain tuples); the totals come from an exact
SQL ``SUM`` (which raises rather than rounding), each pass re-scans the eligible holders, and
the last scan decides and writes each chunk (``executemany``) before reading the next.

Two journals per day: ``dividend`` (key ``settle:<date>``, one cash posting per recipient) and
``forced_exit`` (key ``settle:<date>:forced_exit``). Both balance (on SQLite each chunk's
postings balance on their own); PostgreSQL's deferred trigger checks it again at commit.
``settled_days`` makes the day idempotent: settling it again returns the first result and
changes nothing.

The decisions mirror ``dividend.settle``; ``tests/integration`` checks that both paths pay
exactly what the in-memory engine pays, to the fen.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import Connection, select, update

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import journals, settled_days
from tokenmall.domain.economy.dividend import (
    Exit,
    WaterLevel,
    must_exit,
    pair_sums,
    water_level,
    water_level_by_sums,
)
from tokenmall.domain.economy.market import buyback_payout
from tokenmall.domain.economy.state import Holder, Rates
from tokenmall.domain.errors import RuleViolation
from tokenmall.domain.ledger import from_economy as fe
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.money import format_money, format_points
from tokenmall.services.commands import SettleDay, settle_key

CHUNK = 50_000

_COLUMNS = "name, points, cash, quota, quota_used, spend, dividends, exited, merchant, points_seq"


def settle(store: Store, tenant_id: str, business_date: date) -> dict[str, Any]:
    """Settle one business day in its own transaction (safe to run twice, e.g. from cron)."""
    with store.transaction() as conn:
        store.lock_tenant(conn, tenant_id)
        return settle_in(store, conn, tenant_id, business_date)


def settle_in(
    store: Store, conn: Connection, tenant_id: str, business_date: date
) -> dict[str, Any]:
    """Settle inside the caller's transaction, which must hold the tenant's write lock."""
    done = conn.execute(
        select(journals.c.result)
        .select_from(
            settled_days.join(
                journals,
                (journals.c.tenant_id == settled_days.c.tenant_id)
                & (journals.c.journal_id == settled_days.c.dividend_journal_id),
            )
        )
        .where(settled_days.c.tenant_id == tenant_id, settled_days.c.business_date == business_date)
    ).first()
    if done is not None:
        first: dict[str, Any] = json.loads(done[0])
        return first
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
        self.dividend_line = 0
        self.exit_line = 0

    # -- reading ------------------------------------------------------------------------------

    def _eligible_sql(self) -> str:
        unit = int(self.share_unit)  # an int from Params: safe to inline
        weight = f"spend >= {unit}" if self.by_shares else "points > 0"
        return f"(NOT exited AND quota > quota_used AND {weight})"

    def _chunks(self, columns: str, where: str) -> Iterator[list[Any]]:
        """Keyset scan of the tenant's holders matching ``where``, ``CHUNK`` rows at a time.

        Raw driver cursors: these scans read every holder two or three times a day, and
        plain tuples cost a fraction of SQLAlchemy rows. ``name`` must be the first column."""
        mark = "%s" if self.store.postgres else "?"
        sql = (
            f"SELECT {columns} FROM holders WHERE tenant_id = {mark} AND name > {mark} "
            f"AND {where} ORDER BY name LIMIT {int(CHUNK)}"
        )
        raw = self.conn.connection.driver_connection
        assert raw is not None
        after = ""
        while True:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, (self.tenant_id, after))
                rows = cursor.fetchall()
            finally:
                cursor.close()
            if not rows:
                return
            yield rows
            if len(rows) < CHUNK:
                return
            after = rows[-1][0]

    def _pairs(self) -> Iterator[tuple[int, int]]:
        """(weight, remaining quota) of every eligible holder: the water level's source."""
        weight = "spend" if self.by_shares else "points"
        unit = self.share_unit
        for rows in self._chunks(f"name, {weight}, quota - quota_used", self._eligible_sql()):
            if self.by_shares:
                for _, spend, remaining in rows:
                    yield spend // unit, remaining
            else:
                for _, points, remaining in rows:
                    yield points, remaining

    def _level(self, amount: int) -> WaterLevel:
        """The water level: totals by SQL when SQLite can sum them exactly, passes in Python.

        SQLite's ``SUM`` over integers is exact or raises "integer overflow" (it never falls
        back to floats, unlike ``*``), so the totals cost no Python scan unless they overflow;
        the capped tests multiply beyond 64 bits and stay in Python."""
        weight = f"(spend / {int(self.share_unit)})" if self.by_shares else "points"
        raw = self.conn.connection.driver_connection
        assert raw is not None
        try:
            row = raw.execute(
                f"SELECT COALESCE(SUM({weight}), 0), COALESCE(SUM(quota - quota_used), 0) "
                f"FROM holders WHERE tenant_id = ? AND {self._eligible_sql()}",
                (self.tenant_id,),
            ).fetchone()
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
            return water_level(amount, self._pairs)
        capped, split = pair_sums(self._pairs)
        return water_level_by_sums(amount, int(row[0]), int(row[1]), capped, split)

    # -- deciding and writing -----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if self.store.postgres:
            return _SetBased(self).run()
        state = self.state
        price_num, price_den = state.price()
        amount = state.dividend_pool
        level: WaterLevel | None = None
        if amount > 0:
            level = self._level(amount)
        self._open_journals()
        where = self._eligible_sql()
        if self.forced_exit:
            where = f"({where} OR (NOT merchant AND points > 0 AND quota > 0))"
        writer = _Writer(self.store, self.conn, self.tenant_id)
        distributed = recipients = exit_count = exit_units = exit_payout = 0
        pool, circulating = state.pool, state.circulating
        seq = state.seq
        last_price = (state.last_price_num, state.last_price_den)
        scratch = Holder("")
        by_shares, unit, forced = self.by_shares, self.share_unit, self.forced_exit
        for rows in self._chunks(_COLUMNS, where):
            updates: list[tuple[Any, ...]] = []
            payouts: list[tuple[str, int]] = []
            exits: list[Any] = []
            for name, points, cash, quota, used, spend, dividends, exited, merchant, pseq in rows:
                remaining = quota - used
                weight = spend // unit if by_shares else points
                share = 0
                leaving = False
                eligible = not exited and remaining > 0 and weight > 0
                if not eligible or level is None:
                    if forced:
                        scratch.points, scratch.quota, scratch.quota_used = points, quota, used
                        scratch.merchant = bool(merchant)
                        leaving = must_exit(scratch, price_num, price_den)
                else:
                    share = level.allocation(weight, remaining)
                    if share == remaining:
                        exited = True
                    if share > 0:
                        cash += share
                        dividends += share
                        used += share
                        payouts.append((name, share))
                        leaving = (
                            forced
                            and points > 0
                            and not merchant
                            and points * price_num >= (remaining - share) * price_den
                        )
                    elif forced:
                        scratch.points, scratch.quota, scratch.quota_used = points, quota, used
                        scratch.merchant = bool(merchant)
                        leaving = must_exit(scratch, price_num, price_den)
                if leaving:
                    payout = buyback_payout(self.rates, points, price_num, price_den)
                    seq += 1
                    pool -= payout
                    circulating -= points
                    exits.append(Exit(name, points, payout))
                    exit_units += points
                    exit_payout += payout
                    exit_count += 1
                    cash += payout
                    used += min(payout, quota - used)
                    exited = True
                    points, pseq = 0, seq
                if share > 0 or leaving:
                    updates.append((points, cash, used, dividends, bool(exited), pseq, name))
            distributed += sum(share for _, share in payouts)
            recipients += len(payouts)
            writer.holders(updates)
            if payouts:
                self._post(writer, self.dividend_id, fe.dividend_rows(payouts))
            if exits:
                exit_rows = [
                    (str(account.kind), account.holder, str(account.asset), amount)
                    for account, amount in fe.exit_lines(exits)
                    if amount
                ]
                self._post(writer, self.exit_id, exit_rows)
        writer.finish()
        if circulating == 0 and exit_count:
            last_price = (price_num, price_den)  # the engine keeps the exits' one price

        state.dividend_pool -= distributed
        state.dividends_paid += distributed
        state.pool = pool
        state.burned += exit_units
        state.circulating = circulating
        state.buybacks_paid += exit_payout
        state.last_price_num, state.last_price_den = last_price
        state.seq = seq + 1
        state.last_day = self.day.toordinal()
        return self._record(
            distributed, recipients, exit_count, exit_units, exit_payout, price_num, price_den
        )

    def _open_journals(self) -> None:
        """The day's two journals, first (postings refer to them); results come at the end."""
        day = self.day
        key = settle_key(day)
        fingerprint = SettleDay(tenant_id=self.tenant_id, business_date=day).fingerprint()
        rows = [
            (self.dividend_id, JournalCode.DIVIDEND, key),
            (self.exit_id, JournalCode.FORCED_EXIT, f"{key}:forced_exit"),
        ]
        self.conn.execute(
            journals.insert(),
            [
                {
                    "tenant_id": self.tenant_id,
                    "journal_id": journal_id,
                    "code": str(code),
                    "idempotency_key": journal_key,
                    "fingerprint": fingerprint,
                    "result": "{}",
                    "business_date": day,
                }
                for journal_id, code, journal_key in rows
            ],
        )

    def _post(self, writer: _Writer, journal_id: int, rows: list[fe.PostingRow]) -> None:
        """Write one chunk's postings; each chunk balances on its own (a programmer's check)."""
        totals: dict[str, int] = {}
        for _, _, asset, amount in rows:
            totals[asset] = totals.get(asset, 0) + amount
        if any(totals.values()):
            raise AssertionError(f"settlement chunk of journal {journal_id} does not balance")
        first = (self.dividend_line if journal_id == self.dividend_id else self.exit_line) + 1
        tenant = self.tenant_id
        out = [
            (tenant, journal_id, line, account, holder, asset, amount)
            for line, (account, holder, asset, amount) in enumerate(rows, start=first)
        ]
        if journal_id == self.dividend_id:
            self.dividend_line += len(rows)
        else:
            self.exit_line += len(rows)
        writer.postings(out)

    def _record(
        self,
        distributed: int,
        recipients: int,
        exit_count: int,
        exit_units: int,
        exit_payout: int,
        price_num: int,
        price_den: int,
    ) -> dict[str, Any]:
        day = self.day
        result = {
            "journal_id": self.dividend_id,
            "code": str(JournalCode.DIVIDEND),
            "business_date": day.isoformat(),
            "distributed": format_money(distributed),
            "recipients": recipients,
            "dividend_pool_left": format_money(self.state.dividend_pool),
            "exit_journal_id": self.exit_id,
            "exits": exit_count,
            "exit_points": format_points(exit_units),
            "exit_payout": format_money(exit_payout),
            "price": fe.price_text(price_num, price_den),
        }
        exit_result = {
            "journal_id": self.exit_id,
            "code": str(JournalCode.FORCED_EXIT),
            "business_date": day.isoformat(),
            "exits": exit_count,
            "points": format_points(exit_units),
            "payout": format_money(exit_payout),
            "price": fe.price_text(price_num, price_den),
        }
        conn = self.conn
        for journal_id, answer in ((self.dividend_id, result), (self.exit_id, exit_result)):
            conn.execute(
                update(journals)
                .where(journals.c.tenant_id == self.tenant_id, journals.c.journal_id == journal_id)
                .values(result=_json(answer))
            )
        conn.execute(
            settled_days.insert().values(
                tenant_id=self.tenant_id,
                business_date=day,
                dividend_journal_id=self.dividend_id,
                exit_journal_id=self.exit_id,
            )
        )
        from tokenmall.services.book import STATE_FIELDS

        row = {name: getattr(self.state, name) for name in STATE_FIELDS}
        row["last_journal_id"] = self.exit_id
        self.store.write_state(conn, self.tenant_id, row)
        return result


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class _Writer:
    """Bulk writes of one settlement: holder changes and postings, chunk by chunk."""

    def __init__(self, store: Store, conn: Connection, tenant_id: str) -> None:
        self.conn, self.tenant_id, self.postgres = conn, tenant_id, store.postgres
        self._temp = False
        self._updates = 0

    def holders(self, rows: list[tuple[Any, ...]]) -> None:
        """(points, cash, quota_used, dividends, exited, points_seq, name) per holder."""
        if not rows:
            return
        self._updates += len(rows)
        raw = self.conn.connection.driver_connection
        assert raw is not None
        if not self.postgres:
            tenant = self.tenant_id
            raw.executemany(
                "UPDATE holders SET points = ?, cash = ?, quota_used = ?, dividends = ?, "
                "exited = ?, points_seq = ? WHERE tenant_id = ? AND name = ?",
                [(*r[:6], tenant, r[6]) for r in rows],
            )
            return
        with raw.cursor() as cur:
            if not self._temp:
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS settle_holders (points bigint, "
                    "cash bigint, quota_used bigint, dividends bigint, exited boolean, "
                    "points_seq bigint, name text) ON COMMIT DROP"
                )
                cur.execute("TRUNCATE settle_holders")
                self._temp = True
            with cur.copy(
                "COPY settle_holders (points, cash, quota_used, dividends, exited, points_seq, "
                "name) FROM STDIN"
            ) as copy:
                for r in rows:
                    copy.write_row(r)

    def postings(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        raw = self.conn.connection.driver_connection
        assert raw is not None
        if not self.postgres:
            raw.executemany(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                "amount) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY postings (tenant_id, journal_id, line, account, holder, asset, amount) "
                "FROM STDIN"
            ) as copy,
        ):
            for r in rows:
                copy.write_row(r)

    def finish(self) -> None:
        if self.postgres and self._temp:
            self.conn.exec_driver_sql(
                "UPDATE holders AS h SET points = s.points, cash = s.cash, "
                "quota_used = s.quota_used, dividends = s.dividends, exited = s.exited, "
                "points_seq = s.points_seq FROM settle_holders AS s "
                "WHERE h.tenant_id = %(t)s AND h.name = s.name",
                {"t": self.tenant_id},
            )


# Account kinds and assets of the day's postings, as the ledger's own line builders spell them.
_DIV_CASH, _DIV_POOL = fe.dividend_rows([("h", 1)])
_EXIT_POINTS, _EXIT_CASH, _EXIT_SUPPLY, _EXIT_BACKING = (
    (str(account.kind), str(account.asset)) for account, _ in fe.exit_lines([Exit("h", 1, 1)])
)


class _SetBased:
    """PostgreSQL: the whole day as a handful of set-based statements, no per-holder Python.

    The water level is ``dividend.water_level_by_sums`` with each pass one aggregate query
    (products in NUMERIC, so nothing overflows). The payouts are one ``INSERT … SELECT`` of
    the postings and one ``UPDATE`` of the holders, both computing each allocation with
    ``WaterLevel.allocation``'s formula; the forced exits are one statement (data-modifying
    CTEs) testing ``must_exit`` at the step's one price and paying ``buyback_payout``'s floor.
    """

    def __init__(self, day: _Day) -> None:
        self.day = day
        raw = day.conn.connection.driver_connection
        assert raw is not None
        self.raw = raw
        self.tenant = day.tenant_id
        unit = int(day.share_unit)  # an int from Params: safe to inline
        self.weight = f"(spend / {unit})" if day.by_shares else "points"
        self.eligible = day._eligible_sql()

    def _one(self, sql: str, args: dict[str, Any]) -> tuple[Any, ...]:
        with self.raw.cursor() as cur:
            cur.execute(sql, args)
            row = cur.fetchone()
        assert row is not None
        return tuple(row)

    def _capped_sql(self) -> str:
        return (
            f"(quota - quota_used)::numeric * %(den)s::numeric "
            f"<= {self.weight}::numeric * %(num)s::numeric"
        )

    def _level(self, amount: int) -> WaterLevel:
        base = f"FROM holders WHERE tenant_id = %(t)s AND {self.eligible}"
        sums = f"SELECT COALESCE(SUM({self.weight}), 0), COALESCE(SUM(quota - quota_used), 0)"
        total_weight, total_remaining = self._one(f"{sums} {base}", {"t": self.tenant})

        def capped(num: int, den: int) -> tuple[int, int]:
            args = {"t": self.tenant, "num": num, "den": den}
            weight, remaining = self._one(f"{sums} {base} AND {self._capped_sql()}", args)
            return int(weight), int(remaining)

        def split(num: int, den: int) -> tuple[int, int, list[tuple[int, int]]]:
            weight, remaining = capped(num, den)
            args = {"t": self.tenant, "num": num, "den": den}
            with self.raw.cursor() as cur:
                cur.execute(
                    f"SELECT {self.weight}, quota - quota_used {base} "
                    f"AND NOT ({self._capped_sql()})",
                    args,
                )
                rest = [(int(w), int(r)) for w, r in cur.fetchall()]
            return weight, remaining, rest

        return water_level_by_sums(amount, int(total_weight), int(total_remaining), capped, split)

    def _dividends(self, level: WaterLevel) -> tuple[int, int]:
        """Post and pay every allocation; (fen distributed, recipients)."""
        day = self.day
        capped = "TRUE" if level.everyone_capped else self._capped_sql()
        share = (
            f"(CASE WHEN {capped} THEN (quota - quota_used)::numeric "
            f"ELSE div({self.weight}::numeric * %(num)s::numeric, %(den)s::numeric) END)"
        )
        args = {"t": self.tenant, "num": level.num, "den": level.den, "j": day.dividend_id}
        kind, _, asset, _ = _DIV_CASH
        recipients, distributed = self._one(
            f"WITH ins AS (INSERT INTO postings (tenant_id, journal_id, line, account, holder, "
            f"asset, amount) SELECT %(t)s, %(j)s, row_number() OVER (), '{kind}', name, "
            f"'{asset}', share FROM (SELECT name, {share}::bigint AS share FROM holders "
            f"WHERE tenant_id = %(t)s AND {self.eligible}) AS s WHERE share > 0 "
            f"RETURNING amount) SELECT count(*), COALESCE(SUM(amount), 0) FROM ins",
            args,
        )
        recipients, distributed = int(recipients), int(distributed)
        if recipients == 0:
            return 0, 0
        pool_kind, pool_holder, pool_asset, _ = _DIV_POOL
        with self.raw.cursor() as cur:
            cur.execute(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                "amount) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (self.tenant, day.dividend_id, recipients + 1, pool_kind, pool_holder,
                 pool_asset, -distributed),
            )
            cur.execute(
                f"UPDATE holders SET cash = cash + {share}::bigint, "
                f"dividends = dividends + {share}::bigint, "
                f"quota_used = quota_used + {share}::bigint, exited = ({capped}) "
                f"WHERE tenant_id = %(t)s AND {self.eligible} AND {share} > 0",
                args,
            )
            assert cur.rowcount == recipients
        return distributed, recipients

    def _exits(self, price_num: int, price_den: int, seq: int) -> tuple[int, int, int]:
        """Rule 7 for everyone at once, after the dividends; (exits, units, payout)."""
        day = self.day
        keep_num, keep_den = day.rates.sell_keep
        args = {
            "t": self.tenant, "j": day.exit_id, "pn": price_num, "pd": price_den,
            "kn": keep_num, "kd": keep_den, "seq": seq,
        }
        (pk, pa), (ck, ca) = _EXIT_POINTS, _EXIT_CASH
        count, units, payout = self._one(
            "WITH e AS MATERIALIZED (SELECT name, points AS units, "
            "div(points::numeric * %(pn)s::numeric * %(kn)s::numeric, "
            "%(pd)s::numeric * %(kd)s::numeric)::bigint AS payout, "
            "row_number() OVER (ORDER BY name) AS rn FROM holders "
            "WHERE tenant_id = %(t)s AND NOT merchant AND points > 0 AND quota > 0 "
            "AND points::numeric * %(pn)s::numeric "
            ">= (quota - quota_used)::numeric * %(pd)s::numeric), "
            "ins AS (INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
            "amount) SELECT %(t)s, %(j)s, row_number() OVER (ORDER BY rn, k), account, name, "
            "asset, amount FROM ("
            f"SELECT rn, 0 AS k, '{pk}' AS account, name, '{pa}' AS asset, -units AS amount "
            f"FROM e UNION ALL SELECT rn, 1, '{ck}', name, '{ca}', payout FROM e "
            "WHERE payout > 0) AS lines), "
            "upd AS (UPDATE holders AS h SET points = 0, cash = h.cash + e.payout, "
            "quota_used = h.quota_used + LEAST(e.payout, h.quota - h.quota_used), "
            "exited = TRUE, points_seq = %(seq)s + e.rn FROM e "
            "WHERE h.tenant_id = %(t)s AND h.name = e.name) "
            "SELECT count(*), COALESCE(SUM(units), 0), COALESCE(SUM(payout), 0) FROM e",
            args,
        )
        count, units, payout = int(count), int(units), int(payout)
        if count:
            lines = [(_EXIT_SUPPLY, units), (_EXIT_BACKING, -payout)]
            rows = [
                (self.tenant, day.exit_id, 2 * count + 1 + i, kind, "", asset, amount)
                for i, ((kind, asset), amount) in enumerate(x for x in lines if x[1])
            ]
            with self.raw.cursor() as cur:
                cur.executemany(
                    "INSERT INTO postings (tenant_id, journal_id, line, account, holder, "
                    "asset, amount) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
        return count, units, payout

    def run(self) -> dict[str, Any]:
        day = self.day
        state = day.state
        price_num, price_den = state.price()
        amount = state.dividend_pool
        day._open_journals()
        distributed = recipients = 0
        if amount > 0:
            distributed, recipients = self._dividends(self._level(amount))
        exit_count = exit_units = exit_payout = 0
        if day.forced_exit:
            exit_count, exit_units, exit_payout = self._exits(price_num, price_den, state.seq)
        state.dividend_pool -= distributed
        state.dividends_paid += distributed
        state.pool -= exit_payout
        state.burned += exit_units
        state.circulating -= exit_units
        state.buybacks_paid += exit_payout
        if state.circulating == 0 and exit_count:
            state.last_price_num, state.last_price_den = price_num, price_den
        state.seq += exit_count + 1
        state.last_day = day.day.toordinal()
        return day._record(
            distributed, recipients, exit_count, exit_units, exit_payout, price_num, price_den
        )
