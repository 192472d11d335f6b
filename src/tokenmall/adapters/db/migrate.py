"""Run the Alembic migrations from the package (``tokenmall db upgrade`` and first use)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from tokenmall.adapters.db import citus, citus_batch
from tokenmall.config import Settings

FOLDER = Path(__file__).with_name("migrations")


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(FOLDER))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(FOLDER / "versions"))
    return cfg


def heads() -> set[str]:
    return set(ScriptDirectory.from_config(config()).get_heads())


def current(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine, *, citus_required: bool | None = None) -> bool:
    """Bring the database to every head (on a Citus coordinator, distributed: ``citus.py``);
    True if anything ran. ``citus_required`` (default: the settings'): a database without
    Citus is refused (``CitusNotReady``) instead of migrated as a plain one."""
    settings = Settings()
    required = settings.citus_required if citus_required is None else citus_required
    if current(engine) == heads() and not _citus_pending(engine, required):
        return False
    cfg = config()
    cfg.attributes["citus_required"] = required
    cfg.attributes["citus_shard_count"] = settings.citus_shard_count
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    return True


def _citus_pending(engine: Engine, required: bool) -> bool:
    """A schema at head that Citus has not distributed (yet), or should but cannot, or whose
    batch function is an older version."""
    if engine.dialect.name != "postgresql" and not required:
        return False
    with engine.connect() as conn:
        if required:
            citus.require(conn)
        if citus.version(conn) is None:
            return False
        return citus.needs_distribution(conn) or not citus_batch.installed(conn)
