"""``analyze`` (``adapters/db/engine.py``) and ``tokenmall db analyze``: the planner's
statistics refreshed, as autovacuum does on a live database (the benchmarks run it before
their clock; a database whose autovacuum is off has none)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tokenmall.adapters.db.engine import analyze
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.execute import execute


def _book(store: Store, tenant: str, n: int) -> None:
    for i in range(n):
        purchase = c.Purchase(tenant_id=tenant, idempotency_key=f"a{i}", user="u", amount_fen=900)
        execute(store, purchase)


def test_analyze_gives_the_planner_statistics_of_the_rows_written(
    store: Store, tenant: str
) -> None:
    # given journals written and never analysed
    _book(store, tenant, 5)
    with store.read() as conn:
        if store.postgres:
            before = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'journals'::regclass")
            ).scalar_one()
            assert before < 0  # never analysed
    # when the store analyses its tables
    analyze(store.engine)
    # then the planner knows the journals' rows and their values
    with store.read() as conn:
        if store.postgres:
            rows = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'journals'::regclass")
            ).scalar_one()
            assert rows >= 5
            stats = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() "
                    "AND tablename = 'journals' AND attname = 'journal_id'"
                )
            ).scalar_one()
            assert stats == 1
        else:
            stat = conn.execute(
                text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'journals' AND stat IS NOT NULL")
            ).scalars()
            assert any(int(s.split()[0]) >= 5 for s in stat)


def _planned_rows(store: Store) -> float:
    """The journals' row count the planner holds (SQLite: of their first index)."""
    with store.read() as conn:
        if store.postgres:
            sql = "SELECT reltuples FROM pg_class WHERE oid = 'journals'::regclass"
            return float(conn.execute(text(sql)).scalar_one())
        analysed = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        if not conn.execute(text(analysed)).scalar_one():
            return -1.0
        stats = conn.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'journals'"))
        return max((float(s.split()[0]) for (s,) in stats if s), default=-1.0)


def test_the_db_analyze_command_refreshes_them(cli: Any, store: Store, tenant: str) -> None:
    # given journals the statistics do not count yet
    _book(store, tenant, 4)
    with store.read() as conn:
        journals = conn.execute(text("SELECT count(*) FROM journals")).scalar_one()
    assert _planned_rows(store) != journals
    # when the operator runs the command on the database
    result = cli("db", "analyze", "--database", str(store.engine.url.render_as_string(False)))
    # then it says so, and the planner counts every journal
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("statistics refreshed in ")
    assert _planned_rows(store) == journals
    if store.postgres:
        with store.read() as conn:
            autovacuum = conn.execute(text("SELECT current_setting('autovacuum')")).scalar_one()
        assert ("autovacuum is off" in result.stdout) == (autovacuum == "off")
