"""Migration steps that exist on PostgreSQL only (triggers, functions, planner settings):
SQLite has no such objects, and there the step does nothing."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op


def execute(statements: Iterable[str]) -> None:
    """Run ``statements`` in order when migrating a PostgreSQL database; nothing elsewhere."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in statements:
        op.execute(statement)
