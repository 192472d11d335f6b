"""Migration 0045 on both databases: ``nfg_tokens.traded_at`` appears (existing tokens start from
``acquired_at``) and goes away on a downgrade, leaving the table's other columns as they were."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.store import Store

REVISION = "0045_token_traded_at"


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def _columns(store: Store) -> list[str]:
    return [str(c["name"]) for c in inspect(store.engine).get_columns("nfg_tokens")]


def test_0045_adds_the_last_trade_and_downgrades_back(store: Store) -> None:
    found = ScriptDirectory.from_config(migrate.config()).get_revision(REVISION)
    assert found is not None
    columns = _columns(store)
    assert "traded_at" in columns
    _migrate(store, "downgrade", str(found.down_revision))
    try:
        assert _columns(store) == [c for c in columns if c != "traded_at"]
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    assert _columns(store) == columns
