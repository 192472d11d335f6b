"""The daily settlement (rules 6 then 7) straight against the database.

One transaction per (tenant, business date), under the tenant's write lock: the day's
dividend by the engine's exact water-filling (``dividend.water_level_by_sums``, the one
implementation of the fixpoint passes and the sweep), then the forced exits at the price the
step began with. Holders are never all in memory.

PostgreSQL (``_SetBased``): no per-holder Python. Each water-level pass is one aggregate query
(``SUM(weight), SUM(remaining) … WHERE remaining*den <= num*weight``); the payouts are one
``INSERT … SELECT`` of the postings and one ``UPDATE`` of the holders, both with
``WaterLevel.allocation``'s formula as ``min(remaining, ⌊weight·num/den⌋)``; the forced exits
are one statement of data-modifying CTEs (``must_exit``'s test, ``buyback_payout``'s floor).
Every such product is computed in bigint where it fits (``_floor_sql``'s guard) and in NUMERIC
only where it does not (``_within_sql``). Migration 0005 leaves room in the holders' pages so
the day's UPDATE is HOT.

SQLite (``_SqliteSets``): the same shape, a handful of set-based statements that SQLite runs
row by row in C. Its integer products silently become floats past 64 bits, so each product
that might overflow is guarded: where ``x <= INT64 // factor`` SQLite computes the floor
itself, exactly, and elsewhere it calls a Python function registered on the connection for the
day (exact big integers, one call per such row). The totals come from an exact SQL ``SUM``
(which raises rather than rounding; then the level is computed in Python over keyset chunks of
``CHUNK`` rows). Needs SQLite 3.33 (``UPDATE … FROM``).

Two journals per day: ``dividend`` (key ``settle:<date>``, one cash posting per recipient, then
one for the pool) and ``forced_exit`` (key ``settle:<date>:forced_exit``, the points and cash
of each exit, then the supply and the backing pool). Both balance; PostgreSQL's deferred
trigger checks it again at commit.
``settled_days`` makes the day idempotent: settling it again returns the first result and
changes nothing.

The decisions mirror ``dividend.settle``; ``tests/integration`` checks that both paths pay
exactly what the in-memory engine pays, to the fen.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from sqlalchemy import Connection, select, update

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import journals, settled_days
from tokenmall.domain.economy.dividend import (
    Exit,
    WaterLevel,
    water_level,
    water_level_by_sums,
)
from tokenmall.domain.economy.market import buyback_payout
from tokenmall.domain.economy.state import Rates
from tokenmall.domain.errors import RuleViolation
from tokenmall.domain.ledger import from_economy as fe
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.ledger.commands import SettleDay, settle_key
from tokenmall.domain.money import format_money, format_points

CHUNK = 50_000  # holders per keyset chunk when SQLite's totals overflow (see _SqliteSets)

# A day opens its journals with this result and writes the real one at the end, in the same
# transaction: the only change to a journal the database allows (migration 0016).
PENDING_RESULT = "{}"


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

    # -- reading ------------------------------------------------------------------------------

    def _eligible_sql(self) -> str:
        unit = int(self.share_unit)  # an int from Params: safe to inline
        weight = f"spend >= {unit}" if self.by_shares else "points > 0"
        return f"(NOT exited AND quota > quota_used AND {weight})"

    # -- deciding and writing -----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if self.store.postgres:
            return _SetBased(self).run()
        return _SqliteSets(self).run()

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
                    "result": PENDING_RESULT,  # written once at the end (_record)
                    "business_date": day,
                }
                for journal_id, code, journal_key in rows
            ],
        )

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
        from tokenmall.domain.ledger.batch import STATE_FIELDS

        row = {name: getattr(self.state, name) for name in STATE_FIELDS}
        row["last_journal_id"] = self.exit_id
        self.store.write_state(conn, self.tenant_id, row)
        return result


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


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

    def _capped_sql(self, num: int, den: int) -> str:
        """``remaining·den <= num·weight``: capped at the level num/den (``_within_sql``)."""
        return _within_sql("(quota - quota_used)", self.weight, num, den)

    def _share_sql(self, level: WaterLevel) -> str:
        """``level.allocation`` as a bigint expression. For integers, ``r·den <= num·w`` holds
        exactly when ``r <= ⌊w·num/den⌋``, so the allocation is ``min(r, ⌊w·num/den⌋)``: one
        floor per row, in bigint where the product fits (NUMERIC costed the 1M-holder day's
        UPDATE 4.0 s, this 2.5 s, 2026-11-30)."""
        weight, remaining = self.weight, "(quota - quota_used)"
        if level.everyone_capped:
            return remaining
        num, den = int(level.num), int(level.den)
        exact = (
            f"LEAST({remaining}::numeric, "
            f"div({weight}::numeric * {num}::numeric, {den}::numeric))::bigint"
        )
        floor = _floor_sql(weight, num, den)
        if floor is None:
            return f"({exact})"
        guard, value = floor
        return f"(CASE WHEN {guard} THEN LEAST({remaining}, {value}) ELSE {exact} END)"

    def _level(self, amount: int) -> WaterLevel:
        base = f"FROM holders WHERE tenant_id = %(t)s AND {self.eligible}"
        sums = f"SELECT COALESCE(SUM({self.weight}), 0), COALESCE(SUM(quota - quota_used), 0)"
        total_weight, total_remaining = self._one(f"{sums} {base}", {"t": self.tenant})

        def capped(num: int, den: int) -> tuple[int, int]:
            weight, remaining = self._one(
                f"{sums} {base} AND {self._capped_sql(num, den)}", {"t": self.tenant}
            )
            return int(weight), int(remaining)

        def split(num: int, den: int) -> tuple[int, int, list[tuple[int, int]]]:
            weight, remaining = capped(num, den)
            with self.raw.cursor() as cur:
                cur.execute(
                    f"SELECT {self.weight}, quota - quota_used {base} "
                    f"AND NOT {self._capped_sql(num, den)}",
                    {"t": self.tenant},
                )
                rest = [(int(w), int(r)) for w, r in cur.fetchall()]
            return weight, remaining, rest

        return water_level_by_sums(amount, int(total_weight), int(total_remaining), capped, split)

    def _dividends(self, level: WaterLevel) -> tuple[int, int]:
        """Post and pay every allocation; (fen distributed, recipients)."""
        day = self.day
        capped = (
            "TRUE" if level.everyone_capped else self._capped_sql(int(level.num), int(level.den))
        )
        share = self._share_sql(level)
        args = {"t": self.tenant, "j": day.dividend_id}
        kind, _, asset, _ = _DIV_CASH
        recipients, distributed = self._one(
            f"WITH ins AS (INSERT INTO postings (tenant_id, journal_id, line, account, holder, "
            f"asset, amount) SELECT %(t)s, %(j)s, row_number() OVER (), '{kind}', name, "
            f"'{asset}', share FROM (SELECT name, {share} AS share FROM holders "
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
                f"UPDATE holders SET cash = cash + {share}, "
                f"dividends = dividends + {share}, "
                f"quota_used = quota_used + {share}, exited = {capped} "
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
            f"AND {_within_sql('(quota - quota_used)', 'points', price_num, price_den)}), "
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
        # Every statement of the day reads one tenant's holders. Left to itself the planner
        # scans the whole holders table whenever the tenant has a good share of it, so the day
        # grew with every other tenant of the install; by the primary key (tenant_id leads) it
        # reads only this tenant's pages. 1M-holder day, 2026-11-30: 8.7-8.8 s instead of
        # 9.7-10.3 s beside 4-5M other holders; 6.4 s instead of 5.6 s alone in the table.
        # JIT compiling the day's expressions (PostgreSQL's default above a plan cost of
        # 100,000, which every statement of a large day passes) cost more than it saved: 0.6 s
        # of compiling in the first sum alone; the 1M-holder day 6.8-7.1 s with it, 6.3-7.0 s
        # without (alternating runs, 2026-12-01).
        with self.raw.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute("SET LOCAL jit = off")
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


class _SqliteSets:
    """SQLite: the whole day as a handful of set-based statements, like ``_SetBased``.

    SQLite streams the holders through each statement in C; Python sees a holder only when one
    of the day's products would overflow 64 bits (see ``_floor_sql``): then SQLite calls a
    function registered on the connection for the day (``tokenmall_capped``,
    ``tokenmall_share``, ``tokenmall_exit``, ``tokenmall_payout``; exact integers, removed at
    the end). No holder is ever held in memory.

    The water level is ``water_level_by_sums`` with each pass one aggregate query. The shares
    (``WaterLevel.allocation``) go into a temporary table whose rowid is the posting's line;
    from it one ``INSERT … SELECT`` writes the postings, and one ``UPDATE`` pays the eligible
    holders in key order (a row-value subquery computes each share once: one table scan, no
    lookup per holder). The forced exits (``must_exit``'s test, ``buyback_payout``'s floor at
    the step's one price) are chosen into a second temporary table, then posted and paid.
    """

    SHARES = "tokenmall_settle_shares"
    EXITS = "tokenmall_settle_exits"

    def __init__(self, day: _Day) -> None:
        self.day = day
        raw = day.conn.connection.driver_connection
        assert raw is not None
        self.raw: sqlite3.Connection = raw
        self.tenant = day.tenant_id
        self.unit = int(day.share_unit)  # an int from Params: safe to inline
        self.eligible = day._eligible_sql()
        self._functions: set[tuple[str, int]] = set()

    def _weight(self, table: str = "") -> str:
        return f"({table}spend / {self.unit})" if self.day.by_shares else f"{table}points"

    def _function(self, name: str, arity: int, function: Callable[..., Any]) -> None:
        self.raw.create_function(name, arity, function)
        self._functions.add((name, arity))

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[int, ...]:
        rows = self.raw.execute(sql, args).fetchall()  # read to the end: the statement is done
        assert len(rows) == 1
        return tuple(int(value) for value in rows[0])

    # -- the water level ----------------------------------------------------------------------

    def _level(self, amount: int) -> WaterLevel:
        """Totals by SQL (``SUM`` over integers is exact or raises), then the passes."""
        weight, base = self._weight(), f"FROM holders WHERE tenant_id = ? AND {self.eligible}"
        sums = f"SELECT COALESCE(SUM({weight}), 0), COALESCE(SUM(quota - quota_used), 0)"
        try:
            total_weight, total_remaining = self._one(f"{sums} {base}", (self.tenant,))
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
            return water_level(amount, self._pairs)  # sums past 64 bits: in Python, streamed

        def test(num: int, den: int) -> str:
            """SQL for ``remaining * den <= num * weight``, i.e. ``remaining <= ⌊num·w/den⌋``."""

            def capped(weight: int, remaining: int) -> bool:
                return remaining * den <= num * weight

            self._function("tokenmall_capped", 2, capped)
            python = f"tokenmall_capped({weight}, quota - quota_used)"
            floor = _floor_sql(weight, num, den)
            if floor is None:
                return python
            guard, value = floor
            return f"(CASE WHEN {guard} THEN quota - quota_used <= {value} ELSE {python} END)"

        def capped(num: int, den: int) -> tuple[int, int]:
            capped_weight, capped_remaining = self._one(
                f"{sums} {base} AND {test(num, den)}", (self.tenant,)
            )
            return capped_weight, capped_remaining

        def split(num: int, den: int) -> tuple[int, int, list[tuple[int, int]]]:
            capped_weight, capped_remaining = capped(num, den)
            rows = self.raw.execute(
                f"SELECT {weight}, quota - quota_used {base} AND NOT {test(num, den)}",
                (self.tenant,),
            ).fetchall()
            return capped_weight, capped_remaining, [(int(w), int(r)) for w, r in rows]

        return water_level_by_sums(amount, total_weight, total_remaining, capped, split)

    def _pairs(self) -> Iterator[tuple[int, int]]:
        """(weight, remaining quota) of every eligible holder, by keyset chunks of ``CHUNK``."""
        sql = (
            f"SELECT name, {self._weight()}, quota - quota_used FROM holders "
            f"WHERE tenant_id = ? AND name > ? AND {self.eligible} ORDER BY name LIMIT ?"
        )
        after = ""
        while True:
            rows = self.raw.execute(sql, (self.tenant, after, CHUNK)).fetchall()
            for _, weight, remaining in rows:
                yield weight, remaining
            if len(rows) < CHUNK:
                return
            after = rows[-1][0]

    # -- the dividends ------------------------------------------------------------------------

    def _dividends(self, level: WaterLevel) -> tuple[int, int]:
        """Post and pay every allocation; (fen distributed, recipients)."""
        day, raw, tenant = self.day, self.raw, self.tenant
        weight, remaining = self._weight("holders."), "holders.quota - holders.quota_used"
        share = remaining  # everyone capped: each gets what remains of their quota
        if not level.everyone_capped:
            self._function("tokenmall_share", 2, _allocation(level))
            share = f"tokenmall_share({weight}, {remaining})"
            floor = _floor_sql(weight, level.num, level.den)
            if floor is not None:  # allocation is min(r, ⌊λw⌋): r <= λw iff r <= ⌊λw⌋
                guard, value = floor
                share = f"(CASE WHEN {guard} THEN MIN({remaining}, {value}) ELSE {share} END)"
        shares = f"temp.{self.SHARES}"
        raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {self.SHARES} "
            "(line INTEGER PRIMARY KEY, name TEXT NOT NULL, share INTEGER NOT NULL)"
        )
        raw.execute(f"DELETE FROM {shares}")
        # LIMIT -1 keeps SQLite from flattening the subquery, which would compute each share
        # twice (for the WHERE and for the column). The rowids, 1, 2, …, are the lines.
        raw.execute(
            f"INSERT INTO {shares} (name, share) SELECT name, share FROM "
            f"(SELECT holders.name AS name, {share} AS share FROM holders "
            f"WHERE tenant_id = ? AND {self.eligible} ORDER BY name LIMIT -1) WHERE share > 0",
            (tenant,),
        )
        recipients, distributed = self._one(
            f"SELECT count(*), COALESCE(SUM(share), 0) FROM {shares}"
        )
        # lines 1 … recipients (a fresh rowid table), so the pool's line comes next
        assert self._one(f"SELECT COALESCE(MAX(line), 0) FROM {shares}") == (recipients,)
        if recipients:
            (kind, _, asset, _), (pool_kind, pool_holder, pool_asset, _) = _DIV_CASH, _DIV_POOL
            raw.execute(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                f"amount) SELECT ?, ?, line, ?, name, ?, share FROM {shares}",
                (tenant, day.dividend_id, kind, asset),
            )
            raw.execute(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                "amount) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tenant, day.dividend_id, recipients + 1, pool_kind, pool_holder, pool_asset,
                 -distributed),
            )
            # Every eligible holder in one scan; the row-value subquery computes the share once
            # per row (a share of 0 writes the row back unchanged: 0 = remaining is false).
            raw.execute(
                "UPDATE holders SET (cash, dividends, quota_used, exited) = "
                "(SELECT holders.cash + s.share, holders.dividends + s.share, "
                f"holders.quota_used + s.share, s.share = {remaining} "
                f"FROM (SELECT {share} AS share) AS s) "
                f"WHERE tenant_id = ? AND {self.eligible}",
                (tenant,),
            )
        raw.execute(f"DROP TABLE {shares}")
        return distributed, recipients

    # -- the forced exits ---------------------------------------------------------------------

    def _exits(self, price_num: int, price_den: int, seq: int) -> tuple[int, int, int]:
        """Rule 7 for everyone at once, after the dividends; (exits, units, payout)."""
        day, raw, tenant, rates = self.day, self.raw, self.tenant, self.day.rates

        def leaves(points: int, remaining: int) -> bool:
            return points * price_num >= remaining * price_den

        def payout(points: int) -> int:
            return buyback_payout(rates, points, price_num, price_den)

        self._function("tokenmall_exit", 2, leaves)
        self._function("tokenmall_payout", 1, payout)
        # must_exit: not a merchant, points, quota, and points * price >= remaining quota, i.e.
        # remaining <= ⌊points·price⌋ (after the dividends, which used up some quota).
        test = "tokenmall_exit(points, quota - quota_used)"
        floor = _floor_sql("points", price_num, price_den)
        if floor is not None:
            guard, value = floor
            test = f"(CASE WHEN {guard} THEN quota - quota_used <= {value} ELSE {test} END)"
        exits = f"temp.{self.EXITS}"
        raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {self.EXITS} (rn INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, units INTEGER NOT NULL, payout INTEGER NOT NULL)"
        )
        raw.execute(f"DELETE FROM {exits}")
        raw.execute(
            f"INSERT INTO {exits} (rn, name, units, payout) "
            "SELECT row_number() OVER (ORDER BY name), name, points, tokenmall_payout(points) "
            "FROM holders WHERE tenant_id = ? AND NOT merchant AND points > 0 AND quota > 0 "
            f"AND {test}",
            (tenant,),
        )
        count, units, paid, cash_lines = self._one(
            "SELECT count(*), COALESCE(SUM(units), 0), COALESCE(SUM(payout), 0), "
            f"COALESCE(SUM(payout > 0), 0) FROM {exits}"
        )
        if count:
            # Each exit's points line, then its cash line (if it was paid anything), by name.
            (pk, pa), (ck, ca) = _EXIT_POINTS, _EXIT_CASH
            raw.execute(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                "amount) SELECT ?, ?, row_number() OVER (ORDER BY rn, k), account, name, asset, "
                "amount FROM (SELECT rn, 0 AS k, ? AS account, name, ? AS asset, "
                f"-units AS amount FROM {exits} UNION ALL "
                f"SELECT rn, 1, ?, name, ?, payout FROM {exits} WHERE payout > 0)",
                (tenant, day.exit_id, pk, pa, ck, ca),
            )
            totals = [(_EXIT_SUPPLY, units), (_EXIT_BACKING, -paid)]
            raw.executemany(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                "amount) VALUES (?, ?, ?, ?, '', ?, ?)",
                [
                    (tenant, day.exit_id, count + cash_lines + 1 + i, kind, asset, amount)
                    for i, ((kind, asset), amount) in enumerate(t for t in totals if t[1])
                ],
            )
            raw.execute(
                "UPDATE holders SET points = 0, cash = cash + e.payout, "
                "quota_used = quota_used + MIN(e.payout, quota - quota_used), exited = 1, "
                f"points_seq = ? + e.rn FROM {exits} AS e "
                "WHERE holders.tenant_id = ? AND holders.name = e.name",
                (seq, tenant),
            )
        raw.execute(f"DROP TABLE {exits}")
        return count, units, paid

    def run(self) -> dict[str, Any]:
        day = self.day
        state = day.state
        price_num, price_den = state.price()
        amount = state.dividend_pool
        day._open_journals()
        distributed = recipients = exit_count = exit_units = exit_payout = 0
        try:
            if amount > 0:
                distributed, recipients = self._dividends(self._level(amount))
            if day.forced_exit:
                exit_count, exit_units, exit_payout = self._exits(
                    price_num, price_den, state.seq
                )
        finally:
            for name, arity in self._functions:  # the connection goes back to the pool
                with contextlib.suppress(sqlite3.Error):  # never hide the day's own error
                    self.raw.create_function(name, arity, None)
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


def _allocation(level: WaterLevel) -> Callable[[int, int], int]:
    """``level.allocation`` (not everyone capped) as a plain function of (weight, remaining):
    the same formula with the level's numbers bound, for SQLite to call per holder."""
    num, den = level.num, level.den

    def share(weight: int, remaining: int) -> int:
        if remaining * den <= num * weight:
            return remaining
        return num * weight // den

    return share


_INT64 = 2**63 - 1


def _within_sql(value: str, column: str, num: int, den: int) -> str:
    """PostgreSQL: ``value·den <= column·num`` for non-negative bigint expressions, exactly.

    For integers that is ``value <= ⌊column·num/den⌋``: in bigint where ``column·num`` fits
    (``_floor_sql``'s guard; one product and one division), in NUMERIC elsewhere (where
    products of two bigints cost the 1M-holder day about a second per statement, 2026-11-30).
    ``num`` and ``den`` are Python ints, inlined as literals."""
    exact = f"{value}::numeric * {den}::numeric <= {column}::numeric * {num}::numeric"
    floor = _floor_sql(column, num, den)
    if floor is None:
        return f"({exact})"
    guard, quotient = floor
    return f"(CASE WHEN {guard} THEN {value} <= {quotient} ELSE {exact} END)"


def _floor_sql(column: str, num: int, den: int) -> tuple[str, str] | None:
    """(guard, value): SQL for ``⌊column·num/den⌋`` in 64-bit integers, exact where the guard
    holds (``column`` non-negative); None if ``num`` or ``den`` is not a positive 64-bit
    integer.

    SQLite multiplies 64-bit integers and silently turns a product that overflows into a float
    (PostgreSQL's bigint raises); ``/`` of two non-negative integers is the exact floor in both.
    ``column <= INT64 // num`` makes the product fit, so the guard decides row by row whether
    the database may compute the floor itself; where it does not hold, the caller computes it
    another way (SQLite: a Python function; PostgreSQL: NUMERIC), exactly."""
    if not (0 < num <= _INT64 and 0 < den <= _INT64):
        return None
    return f"{column} <= {_INT64 // num}", f"({column} * {num} / {den})"
