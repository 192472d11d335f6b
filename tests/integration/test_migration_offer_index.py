"""Migration 0029 on both databases: ``ix_market_orders_to_user`` (the "offers to me" read by
addressee) appears, partial on ``to_user_id IS NOT NULL``, and goes away on a downgrade to 0028
leaving the table and its other indexes as they were."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.store import Store

BEFORE = "0028_royalty_payouts"
REVISION = "0029_offer_to_user_index"
INDEX = "ix_market_orders_to_user"


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def _indexes(store: Store) -> dict[str, list[str | None]]:
    found = inspect(store.engine).get_indexes("market_orders")
    return {str(i["name"]): list(i["column_names"]) for i in found}


def test_0029_follows_0028_and_is_in_the_lineage() -> None:
    scripts = ScriptDirectory.from_config(migrate.config())
    found = scripts.get_revision(REVISION)
    assert found is not None
    assert found.down_revision == BEFORE
    assert REVISION in {r.revision for r in scripts.walk_revisions()}


def test_0029_adds_the_addressee_index_and_downgrades_back(store: Store) -> None:
    assert _indexes(store)[INDEX] == ["tenant_id", "to_user_id", "status", "order_id"]
    others = {k: v for k, v in _indexes(store).items() if k != INDEX}
    _migrate(store, "downgrade", BEFORE)
    try:
        assert INDEX not in _indexes(store)
        assert _indexes(store) == others
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    assert INDEX in _indexes(store)


def test_the_offers_to_me_read_uses_the_index(store: Store) -> None:
    read = (
        "SELECT order_id FROM market_orders WHERE tenant_id = 't' AND to_user_id = 'u' "
        "AND kind = 'offer' AND status = 'open' ORDER BY order_id"
    )
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {read}")))
        else:  # an empty table: forbid the sequential scan to see the index is usable
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {read}")))
    assert INDEX in plan
