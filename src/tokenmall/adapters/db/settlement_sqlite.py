"""The daily settlement's SQL on SQLite: ``SqliteDaySets``, the set-based statements of
``settlement_sql.PgDaySets`` in SQLite's dialect, exact past 64 bits.

SQLite's integer products silently become floats past 64 bits, so each product that might
overflow is guarded (``settlement_sql.floor_sql``): where ``x <= INT64 // factor`` SQLite
computes the floor itself, exactly, and elsewhere it calls a Python function registered on the
connection for the day (exact big integers, one call per such row). The totals come from an
exact SQL ``SUM`` (which raises rather than rounding; then the level is computed in Python over
keyset chunks of ``CHUNK`` rows). Needs SQLite 3.33 (``UPDATE … FROM``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.settlement_sql import (
    DIV_CASH,
    DIV_POOL,
    EXIT_BACKING,
    EXIT_CASH,
    EXIT_DIVIDEND,
    EXIT_POINTS,
    EXIT_SUPPLY,
    DaySpec,
    eligible_sql,
    floor_sql,
)
from tokenmall.domain.economy.dividend import WaterLevel, water_level, water_level_by_sums
from tokenmall.domain.economy.market import buyback_payout, value_at_price

CHUNK = 50_000  # holders per keyset chunk when SQLite's totals overflow


class SqliteDaySets:
    """SQLite: the whole day as a handful of set-based statements, like ``PgDaySets``.

    SQLite streams the holders through each statement in C; Python sees a holder only when one
    of the day's products would overflow 64 bits (see ``floor_sql``): then SQLite calls a
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

    def __init__(self, conn: Connection, day: DaySpec) -> None:
        self.day = day
        raw = conn.connection.driver_connection
        assert raw is not None
        self.raw: sqlite3.Connection = raw
        self.tenant = day.tenant_id
        self.unit = int(day.share_unit)  # an int from Params: safe to inline
        self.eligible = eligible_sql(day)
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

    def level(self, amount: int) -> WaterLevel:
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
            floor = floor_sql(weight, num, den)
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

    def dividends(self, level: WaterLevel) -> tuple[int, int]:
        """Post and pay every allocation; (fen distributed, recipients)."""
        day, raw, tenant = self.day, self.raw, self.tenant
        weight, remaining = self._weight("holders."), "holders.quota - holders.quota_used"
        share = remaining  # everyone capped: each gets what remains of their quota
        if not level.everyone_capped:
            self._function("tokenmall_share", 2, _allocation(level))
            share = f"tokenmall_share({weight}, {remaining})"
            floor = floor_sql(weight, level.num, level.den)
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
            (kind, _, asset, _), (pool_kind, pool_holder, pool_asset, _) = DIV_CASH, DIV_POOL
            raw.execute(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                f"amount) SELECT ?, ?, line, ?, name, ?, share FROM {shares}",
                (tenant, day.dividend_id, kind, asset),
            )
            raw.execute(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                "amount) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    day.dividend_id,
                    recipients + 1,
                    pool_kind,
                    pool_holder,
                    pool_asset,
                    -distributed,
                ),
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

    def exits(self, price_num: int, price_den: int, seq: int) -> tuple[int, int, int, int]:
        """Rule 7 for everyone at once, after the dividends; (exits, units, payout, fee): ``fee``
        is what moves from the backing pool to the dividend pool (``sell_fee_to``)."""
        day, raw, tenant, rates = self.day, self.raw, self.tenant, self.day.rates

        def leaves(points: int, remaining: int) -> bool:
            return points * price_num >= remaining * price_den

        def payout(points: int) -> int:
            return buyback_payout(rates, points, price_num, price_den)

        def worth_of(points: int) -> int:
            return value_at_price(points, price_num, price_den)

        floor = floor_sql("points", price_num, price_den)
        self._function("tokenmall_exit", 2, leaves)
        self._function("tokenmall_payout", 1, payout)
        # ``market.fee_to_dividend``: the points' value floor(q × p) less the payout, or none.
        worth = "0"
        if rates.fee_to_dividend:
            self._function("tokenmall_value", 1, worth_of)
            worth = "tokenmall_value(points)"
            if floor is not None:
                worth = f"(CASE WHEN {floor[0]} THEN {floor[1]} ELSE {worth} END)"
        # must_exit: not a merchant, points, quota, and points * price >= remaining quota, i.e.
        # remaining <= ⌊points·price⌋ (after the dividends, which used up some quota).
        test = "tokenmall_exit(points, quota - quota_used)"
        if floor is not None:
            guard, value = floor
            test = f"(CASE WHEN {guard} THEN quota - quota_used <= {value} ELSE {test} END)"
        exits = f"temp.{self.EXITS}"
        raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {self.EXITS} (rn INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, units INTEGER NOT NULL, payout INTEGER NOT NULL, "
            "value INTEGER NOT NULL)"
        )
        raw.execute(f"DELETE FROM {exits}")
        raw.execute(
            f"INSERT INTO {exits} (rn, name, units, payout, value) "
            "SELECT row_number() OVER (ORDER BY name), name, points, tokenmall_payout(points), "
            f"{worth} "
            "FROM holders WHERE tenant_id = ? AND NOT merchant AND points > 0 AND quota > 0 "
            f"AND {test}",
            (tenant,),
        )
        count, units, paid, cash_lines, fee = self._one(
            "SELECT count(*), COALESCE(SUM(units), 0), COALESCE(SUM(payout), 0), "
            "COALESCE(SUM(payout > 0), 0), "
            f"COALESCE(SUM(CASE WHEN value > 0 THEN value - payout ELSE 0 END), 0) FROM {exits}"
        )
        if count:
            # Each exit's points line, then its cash line (if it was paid anything), by name.
            (pk, pa), (ck, ca) = EXIT_POINTS, EXIT_CASH
            raw.execute(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                "amount) SELECT ?, ?, row_number() OVER (ORDER BY rn, k), account, name, asset, "
                "amount FROM (SELECT rn, 0 AS k, ? AS account, name, ? AS asset, "
                f"-units AS amount FROM {exits} UNION ALL "
                f"SELECT rn, 1, ?, name, ?, payout FROM {exits} WHERE payout > 0)",
                (tenant, day.exit_id, pk, pa, ck, ca),
            )
            totals = [(EXIT_SUPPLY, units), (EXIT_BACKING, -(paid + fee)), (EXIT_DIVIDEND, fee)]
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
        return count, units, paid, fee

    def __enter__(self) -> SqliteDaySets:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        for name, arity in self._functions:  # the connection goes back to the pool
            with contextlib.suppress(sqlite3.Error):  # never hide the day's own error
                self.raw.create_function(name, arity, None)


def _allocation(level: WaterLevel) -> Callable[[int, int], int]:
    """``level.allocation`` (not everyone capped) as a plain function of (weight, remaining):
    the same formula with the level's numbers bound, for SQLite to call per holder."""
    num, den = level.num, level.den

    def share(weight: int, remaining: int) -> int:
        if remaining * den <= num * weight:
            return remaining
        return num * weight // den

    return share
