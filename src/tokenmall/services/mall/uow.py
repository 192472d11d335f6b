"""The unit of work: one business transaction, committed whole or rolled back whole.

``Database.transaction()`` yields a connection inside a transaction; leaving the block normally
commits, any exception rolls back, so a refused request changes nothing. Use cases take the
connection and call repositories; they never commit themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine


def utc_now() -> datetime:
    return datetime.now(UTC)


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads (rolled back at the end; no write lock on SQLite)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(tokenmall_readonly=True)
            with conn.begin() as txn:
                yield conn
                txn.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
