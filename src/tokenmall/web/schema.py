"""Bringing the database to the newest migration, and telling whether it is there.

The migrations are Alembic's (the ledger's folder, with the mall's tables in their own
revision). Until that folder exists, the mall's tables are created from their metadata.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect

from tokenmall.adapters.db.mall.tables import metadata

_CANDIDATES = ("migrations", "alembic")


def migrations_dir() -> Path | None:
    import tokenmall.adapters.db.mall as mall

    base = Path(mall.__path__[0]).parent
    for name in _CANDIDATES:
        if (base / name / "env.py").exists():
            return base / name
    return None


def _config(url: str) -> object:
    from alembic.config import Config

    folder = migrations_dir()
    assert folder is not None
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to head (safe to run again; it does nothing when already there)."""
    if migrations_dir() is None:
        metadata.create_all(engine)
        return
    from alembic import command

    url = engine.url.render_as_string(hide_password=False)
    command.upgrade(_config(url), "head")  # type: ignore[arg-type]


def status(conn: Connection) -> str:
    """ "ok" when the schema is at head, else what is wrong."""
    if migrations_dir() is None:
        missing = set(metadata.tables) - set(inspect(conn).get_table_names())
        return "ok" if not missing else f"missing tables: {', '.join(sorted(missing))}"
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    url = conn.engine.url.render_as_string(hide_password=False)
    heads = set(ScriptDirectory.from_config(_config(url)).get_heads())  # type: ignore[arg-type]
    current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return "ok"
    return f"at {sorted(current) or 'nothing'}, head is {sorted(heads)}"
