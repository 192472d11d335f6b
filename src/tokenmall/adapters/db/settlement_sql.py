"""The daily settlement's SQL: set-based statements over one tenant's holders.

PostgreSQL (``PgDaySets``): no per-holder Python. Each water-level pass is one aggregate query
(``SUM(weight), SUM(remaining) … WHERE remaining*den <= num*weight``); the payouts are one
``INSERT … SELECT`` of the postings and one ``UPDATE`` of the holders, both with
``WaterLevel.allocation``'s formula as ``min(remaining, ⌊weight·num/den⌋)``; the forced exits
are one statement of data-modifying CTEs (``must_exit``'s test, ``buyback_payout``'s floor).
Every such product is computed in bigint where it fits (``floor_sql``'s guard) and in NUMERIC
only where it does not (``within_sql``). Migration 0005 leaves room in the holders' pages so
the day's UPDATE is HOT.

SQLite (``settlement_sqlite.SqliteDaySets``): the same shape in SQLite's dialect, exact past
64 bits.

``PgDaySets`` and ``SqliteDaySets`` are context managers with the same ``level``,
``dividends`` and ``exits``; ``settled_result``, ``open_journals`` and ``record_day`` read and
write the day's journals and its ``settled_days`` row. The decisions (the water level, who
exits, the payouts) are the domain's (``dividend``, ``market``); this module only runs them
over rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select, update

from tokenmall.adapters.db import citus
from tokenmall.adapters.db.tables import journals, settled_days
from tokenmall.domain.economy.dividend import (
    Exit,
    WaterLevel,
    water_level_by_sums,
)
from tokenmall.domain.economy.state import Rates
from tokenmall.domain.ledger import from_economy as fe
from tokenmall.domain.ledger.codes import JournalCode

# A day opens its journals with this result and writes the real one at the end, in the same
# transaction: the only change to a journal the database allows (migration 0016).
PENDING_RESULT = "{}"


@dataclass(frozen=True, slots=True)
class DaySpec:
    """What the day's statements need to know: whose holders, how they are weighed, which
    journals the postings go to, and the rates of the day's payouts."""

    tenant_id: str
    by_shares: bool  # weigh by spend in share units, else by points
    share_unit: int
    forced_exit: bool
    dividend_id: int
    exit_id: int
    rates: Rates


def eligible_sql(day: DaySpec) -> str:
    unit = int(day.share_unit)  # an int from Params: safe to inline
    weight = f"spend >= {unit}" if day.by_shares else "points > 0"
    return f"(NOT exited AND quota > quota_used AND {weight})"


def settled_result(conn: Connection, tenant_id: str, business_date: date) -> str | None:
    """The stored result of a day already settled (its dividend journal's), else None."""
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
    return None if done is None else str(done[0])


def open_journals(
    conn: Connection,
    tenant_id: str,
    business_date: date,
    fingerprint: str,
    rows: Sequence[tuple[int, JournalCode, str]],
) -> None:
    """The day's journals ``(journal_id, code, key)``, first (postings refer to them), each
    with ``PENDING_RESULT``; ``record_day`` writes their results at the end."""
    conn.execute(
        journals.insert(),
        [
            {
                "tenant_id": tenant_id,
                "journal_id": journal_id,
                "code": str(code),
                "idempotency_key": journal_key,
                "fingerprint": fingerprint,
                "result": PENDING_RESULT,
                "business_date": business_date,
            }
            for journal_id, code, journal_key in rows
        ],
    )


def record_day(
    conn: Connection,
    tenant_id: str,
    business_date: date,
    answers: Sequence[tuple[int, dict[str, Any]]],
    dividend_id: int,
    exit_id: int,
) -> None:
    """Write each journal's result ``(journal_id, result)`` and the day's ``settled_days``."""
    for journal_id, answer in answers:
        conn.execute(
            update(journals)
            .where(journals.c.tenant_id == tenant_id, journals.c.journal_id == journal_id)
            .values(result=_json(answer))
        )
    conn.execute(
        settled_days.insert().values(
            tenant_id=tenant_id,
            business_date=business_date,
            dividend_journal_id=dividend_id,
            exit_journal_id=exit_id,
        )
    )


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# Account kinds and assets of the day's postings, as the ledger's own line builders spell them.
DIV_CASH, DIV_POOL = fe.dividend_rows([("h", 1)])
EXIT_POINTS, EXIT_CASH, EXIT_SUPPLY, EXIT_BACKING, EXIT_DIVIDEND = (
    (str(account.kind), str(account.asset)) for account, _ in fe.exit_lines([Exit("h", 1, 1, 1)])
)


class PgDaySets:
    """PostgreSQL: the whole day as a handful of set-based statements, no per-holder Python.

    The water level is ``dividend.water_level_by_sums`` with each pass one aggregate query
    (products in NUMERIC, so nothing overflows). The payouts are one ``INSERT … SELECT`` of
    the postings and one ``UPDATE`` of the holders, both computing each allocation with
    ``WaterLevel.allocation``'s formula; the forced exits are one statement (data-modifying
    CTEs) testing ``must_exit`` at the step's one price and paying ``buyback_payout``'s floor.
    """

    def __init__(self, conn: Connection, day: DaySpec) -> None:
        self.day = day
        self.conn = conn
        raw = conn.connection.driver_connection
        assert raw is not None
        self.raw = raw
        self.tenant = day.tenant_id
        unit = int(day.share_unit)  # an int from Params: safe to inline
        self.weight = f"(spend / {unit})" if day.by_shares else "points"
        self.eligible = eligible_sql(day)

    def _one(self, sql: str, args: dict[str, Any]) -> tuple[Any, ...]:
        with self.raw.cursor() as cur:
            cur.execute(sql, args)
            row = cur.fetchone()
        assert row is not None
        return tuple(row)

    def _capped_sql(self, num: int, den: int) -> str:
        """``remaining·den <= num·weight``: capped at the level num/den (``within_sql``)."""
        return within_sql("(quota - quota_used)", self.weight, num, den)

    def _share_sql(self, level: WaterLevel) -> str:
        """``level.allocation`` as a bigint expression. For integers, ``r·den <= num·w`` holds
        exactly when ``r <= ⌊w·num/den⌋``, so the allocation is ``min(r, ⌊w·num/den⌋)``: one
        floor per row, in bigint where the product fits (NUMERIC only where it does not: a
        product of two NUMERICs per row is much slower)."""
        weight, remaining = self.weight, "(quota - quota_used)"
        if level.everyone_capped:
            return remaining
        num, den = int(level.num), int(level.den)
        exact = (
            f"LEAST({remaining}::numeric, "
            f"div({weight}::numeric * {num}::numeric, {den}::numeric))::bigint"
        )
        floor = floor_sql(weight, num, den)
        if floor is None:
            return f"({exact})"
        guard, value = floor
        return f"(CASE WHEN {guard} THEN LEAST({remaining}, {value}) ELSE {exact} END)"

    def level(self, amount: int) -> WaterLevel:
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

    def dividends(self, level: WaterLevel) -> tuple[int, int]:
        """Post and pay every allocation; (fen distributed, recipients)."""
        day = self.day
        capped = (
            "TRUE" if level.everyone_capped else self._capped_sql(int(level.num), int(level.den))
        )
        share = self._share_sql(level)
        args = {"t": self.tenant, "j": day.dividend_id}
        kind, _, asset, _ = DIV_CASH
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
        pool_kind, pool_holder, pool_asset, _ = DIV_POOL
        with self.raw.cursor() as cur:
            cur.execute(
                "INSERT INTO postings (tenant_id, journal_id, line, account, holder, asset, "
                "amount) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    self.tenant,
                    day.dividend_id,
                    recipients + 1,
                    pool_kind,
                    pool_holder,
                    pool_asset,
                    -distributed,
                ),
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

    def exits(self, price_num: int, price_den: int, seq: int) -> tuple[int, int, int, int]:
        """Rule 7 for everyone at once, after the dividends; (exits, units, payout, fee): ``fee``
        is what moves from the backing pool to the dividend pool (``sell_fee_to``)."""
        day = self.day
        keep_num, keep_den = day.rates.sell_keep
        args = {
            "t": self.tenant,
            "j": day.exit_id,
            "pn": price_num,
            "pd": price_den,
            "kn": keep_num,
            "kd": keep_den,
            "seq": seq,
        }
        # ``market.fee_to_dividend``: the points' value floor(q × p) less the payout, or none.
        value = (
            "div(points::numeric * %(pn)s::numeric, %(pd)s::numeric)::bigint"
            if day.rates.fee_to_dividend
            else None
        )
        (pk, pa), (ck, ca) = EXIT_POINTS, EXIT_CASH
        count, units, payout, fee = self._one(
            "WITH p AS MATERIALIZED (SELECT name, points AS units, "
            "div(points::numeric * %(pn)s::numeric * %(kn)s::numeric, "
            "%(pd)s::numeric * %(kd)s::numeric)::bigint AS payout, "
            f"{value or '0::bigint'} AS value, "
            "row_number() OVER (ORDER BY name) AS rn FROM holders "
            "WHERE tenant_id = %(t)s AND NOT merchant AND points > 0 AND quota > 0 "
            f"AND {within_sql('(quota - quota_used)', 'points', price_num, price_den)}), "
            "e AS MATERIALIZED (SELECT name, units, payout, rn, "
            f"{'value - payout' if value else '0::bigint'} AS fee FROM p), "
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
            "SELECT count(*), COALESCE(SUM(units), 0), COALESCE(SUM(payout), 0), "
            "COALESCE(SUM(fee), 0) FROM e",
            args,
        )
        count, units, payout, fee = int(count), int(units), int(payout), int(fee)
        if count:
            lines = [(EXIT_SUPPLY, units), (EXIT_BACKING, -(payout + fee)), (EXIT_DIVIDEND, fee)]
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
        return count, units, payout, fee

    def __enter__(self) -> PgDaySets:
        # Every statement of the day reads one tenant's holders. Left to itself the planner
        # scans the whole holders table whenever the tenant has a good share of it, so the day
        # grew with every other tenant of the install; by the primary key (tenant_id leads) it
        # reads only this tenant's pages. JIT compiling the day's expressions (PostgreSQL's
        # default above a plan cost of 100,000, which every statement of a large day passes)
        # cost more than it saved. Both settings last until the transaction ends.
        citus.note_postings(self.conn, self.tenant)
        with self.raw.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute("SET LOCAL jit = off")
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        return None


INT64 = 2**63 - 1


def within_sql(value: str, column: str, num: int, den: int) -> str:
    """PostgreSQL: ``value·den <= column·num`` for non-negative bigint expressions, exactly.

    For integers that is ``value <= ⌊column·num/den⌋``: in bigint where ``column·num`` fits
    (``floor_sql``'s guard; one product and one division), in NUMERIC elsewhere (NUMERIC
    products of two bigints are much slower).
    ``num`` and ``den`` are Python ints, inlined as literals."""
    exact = f"{value}::numeric * {den}::numeric <= {column}::numeric * {num}::numeric"
    floor = floor_sql(column, num, den)
    if floor is None:
        return f"({exact})"
    guard, quotient = floor
    return f"(CASE WHEN {guard} THEN {value} <= {quotient} ELSE {exact} END)"


def floor_sql(column: str, num: int, den: int) -> tuple[str, str] | None:
    """(guard, value): SQL for ``⌊column·num/den⌋`` in 64-bit integers, exact where the guard
    holds (``column`` non-negative); None if ``num`` or ``den`` is not a positive 64-bit
    integer.

    SQLite multiplies 64-bit integers and silently turns a product that overflows into a float
    (PostgreSQL's bigint raises); ``/`` of two non-negative integers is the exact floor in both.
    ``column <= INT64 // num`` makes the product fit, so the guard decides row by row whether
    the database may compute the floor itself; where it does not hold, the caller computes it
    another way (SQLite: a Python function; PostgreSQL: NUMERIC), exactly."""
    if not (0 < num <= INT64 and 0 < den <= INT64):
        return None
    return f"{column} <= {INT64 // num}", f"({column} * {num} / {den})"
