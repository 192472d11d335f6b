"""Migration 0044 on both databases: the partial indexes of the scheduler's two scans — payments
still open (``ix_mall_payments_open``, on pending or failed ones) and refunds still processing
(``ix_mall_refunds_processing``) — appear, go away on a downgrade leaving the tables' other
indexes as they were, and are what the scans read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Select, inspect, text

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.mall.payments import open_payments_query
from tokenmall.adapters.db.mall.refunds import processing_refunds_query
from tokenmall.adapters.db.store import Store

REVISION = "0044_open_scan_indexes"
INDEXES = {
    "mall_payments": ("ix_mall_payments_open", ["created_at", "payment_id"]),
    "mall_refunds": ("ix_mall_refunds_processing", ["submitted_at", "tenant_id", "refund_id"]),
}
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def _indexes(store: Store, table: str) -> dict[str, list[str | None]]:
    found = inspect(store.engine).get_indexes(table)
    return {str(i["name"]): list(i["column_names"]) for i in found}


def test_0044_is_in_the_lineage() -> None:
    scripts = ScriptDirectory.from_config(migrate.config())
    found = scripts.get_revision(REVISION)
    assert found is not None
    assert REVISION in {r.revision for r in scripts.walk_revisions()}


def test_0044_adds_the_scan_indexes_and_downgrades_back(store: Store) -> None:
    others = {}
    for table, (name, columns) in INDEXES.items():
        assert _indexes(store, table)[name] == columns
        others[table] = {k: v for k, v in _indexes(store, table).items() if k != name}
    down = ScriptDirectory.from_config(migrate.config()).get_revision(REVISION)
    assert down is not None
    _migrate(store, "downgrade", str(down.down_revision))
    try:
        for table, (name, _) in INDEXES.items():
            assert name not in _indexes(store, table)
            assert _indexes(store, table) == others[table]
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    for table, (name, _) in INDEXES.items():
        assert name in _indexes(store, table)


def _plan(store: Store, query: Select[Any]) -> str:
    with store.engine.connect() as conn:
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "sqlite":
            rows = conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            return " ".join(str(r[-1]) for r in rows)
        # empty tables: forbid the sequential scan to see that the index is usable
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        return " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {sql}")))


def test_the_scheduler_scans_read_the_partial_indexes(store: Store) -> None:
    payments = open_payments_query(("pending", "failed"), ("wechat", "alipay"), NOW, 200)
    assert "ix_mall_payments_open" in _plan(store, payments)
    assert "ix_mall_refunds_processing" in _plan(store, processing_refunds_query(NOW, 200))


def test_the_statuses_are_written_into_the_statement(store: Store) -> None:
    """The planner proves a partial index usable only from values it sees: the scans' statuses
    are literals of the statement even when the rest is sent as parameters."""
    sent = {"render_postcompile": True}  # the statement as it goes to the database
    with store.engine.connect() as conn:
        payments = open_payments_query(("pending",), ("wechat",), NOW, 5)
        refunds = processing_refunds_query(NOW, 5)
        payments_sql = str(payments.compile(dialect=conn.dialect, compile_kwargs=sent))
        refunds_sql = str(refunds.compile(dialect=conn.dialect, compile_kwargs=sent))
    assert "'pending'" in payments_sql
    assert "'wechat'" not in payments_sql  # the rest stays a parameter
    assert "'processing'" in refunds_sql
