"""Editing the ledger as the database's owner could, past its immutability triggers (tests
of what ``audit`` still finds, and of histories dated in the past)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Executable, text

from tokenmall.adapters.db.store import Store


def behind_the_triggers(
    store: Store, conn: Connection, sql: str | Executable, params: dict[str, Any] | None = None
) -> None:
    """Run ``sql`` (SQL text or an SQLAlchemy statement) in ``conn``'s transaction with the
    ledger's immutability triggers out of the way, as someone who owns the database could:
    PostgreSQL skips ordinary triggers for the transaction; SQLite's are dropped and put back
    (in the same transaction)."""
    statement = text(sql) if isinstance(sql, str) else sql
    if store.postgres:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(statement, params)
        conn.execute(text("SET LOCAL session_replication_role = origin"))
        return
    saved = conn.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name IN ('journals', 'postings')"
        )
    ).all()
    for name, _ in saved:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    conn.execute(statement, params)
    for _, create in saved:
        conn.execute(text(create))
