"""``Store.analyze``: the planner's statistics refreshed, as autovacuum does on a live database
(the benchmarks run it before their clock; a database whose autovacuum is off has none)."""

from __future__ import annotations

from sqlalchemy import text

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
    store.analyze()
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
