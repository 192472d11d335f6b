"""Alembic environment: runs on the connection ``migrate.upgrade`` hands over.

On PostgreSQL a transaction-level advisory lock makes concurrent first starts (several API
processes, a test run and a benchmark) migrate one at a time instead of racing. On a Citus
coordinator (the ``citus`` extension is there) the workers are checked before anything runs
and, after the migrations, the same transaction distributes the new tables (``citus.py``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from tokenmall.adapters.db import citus, citus_batch
from tokenmall.adapters.db.tables import metadata

MIGRATION_LOCK = 7_300_001  # an arbitrary constant shared by every tokenmall process


def run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        attributes = context.config.attributes
        required = bool(attributes.get("citus_required"))
        on_citus = citus.require(connection) if required else citus.version(connection)
        if on_citus:
            citus.preflight(connection)
            citus.sequential(connection)
        context.run_migrations()
        if on_citus:
            citus.distribute(connection, int(attributes.get("citus_shard_count", 32)))
            citus_batch.install(connection)  # (on the distributed tables)


run()
