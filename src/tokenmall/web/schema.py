"""Bringing the database to the newest migration, and telling whether it is there.

The migrations are Alembic's, run by the ledger's ``adapters/db/migrate.py``; the mall's tables
are its revision ``0002_mall``.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from tokenmall.adapters.db import migrate


def upgrade(engine: Engine) -> None:
    """Bring the schema to head (does nothing when it is already there)."""
    migrate.upgrade(engine)


def status(conn: Connection) -> str:
    """ "ok" when the schema is at head, else what is wrong."""
    from alembic.runtime.migration import MigrationContext

    heads = migrate.heads()
    current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return "ok"
    return f"at {sorted(current) or 'nothing'}, head is {sorted(heads)}"
