"""The Alembic migrations create exactly the tables of ``adapters/db/tables.py``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.mall.schema_all import metadata  # the ledger's and every mall table
from tokenmall.adapters.db.store import Store
from tokenmall.cli.main import app


def test_migrated_schema_matches_the_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, type_, parent: (
                    type_ != "table" or name in metadata.tables
                ),
                "compare_server_default": False,
            },
        )
        assert compare_metadata(context, metadata) == []
    assert migrate.current(store.engine) == migrate.heads()


def test_db_upgrade_command_is_idempotent(db_url: str, store: Store) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--database", db_url])
    assert result.exit_code == 0, result.output
    assert "already current" in result.output
