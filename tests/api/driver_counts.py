"""What reaches PostgreSQL, counted at the driver (psycopg): statements and round trips,
pipelines included, which SQLAlchemy's events do not see."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def at_the_driver(monkeypatch: pytest.MonkeyPatch, threads: str = "") -> Iterator[Counter[str]]:
    """Count, for every psycopg connection of the process used by a thread whose name starts
    with ``threads`` (all: ""): statements sent (``statements``), round trips (``round
    trips``: a statement outside a pipeline, with the BEGIN psycopg sends first in its own
    round trip when a transaction starts; a pipeline, whose sync sends and waits for all of
    its statements; a COMMIT or ROLLBACK sent on its own; statements committed at once with
    ``fast.commit_pipelined``, libpq's pipeline without the driver's cursors, one round trip
    and one commit), and those COMMITs and ROLLBACKs (``commits``, ``rollbacks``); the
    updates of ``mall_orders`` among the statements (``order updates``)."""
    import psycopg
    from psycopg import pq

    from tokenmall.adapters.db import fast

    seen: Counter[str] = Counter()
    execute, pipeline = psycopg.Cursor.execute, psycopg.Connection.pipeline
    commit, rollback = psycopg.Connection.commit, psycopg.Connection.rollback

    def ours() -> bool:
        return threading.current_thread().name.startswith(threads)

    def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if not ours():
            return execute(self, query, *args, **kwargs)
        conn = self.connection
        seen["statements"] += 1
        stock(query)
        if not conn.pgconn.pipeline_status:
            seen["round trips"] += 1
            idle = conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
            if idle and not conn.autocommit:
                seen["round trips"] += 1  # psycopg's BEGIN
        return execute(self, query, *args, **kwargs)

    def stock(query: Any) -> None:
        if isinstance(query, str) and query.startswith("WITH t AS") and "unnest" in query:
            seen["stock taken in the pipeline"] += 1
        if isinstance(query, str) and query.startswith("UPDATE mall_orders "):
            seen["order updates"] += 1

    committed_at_once = fast.commit_pipelined

    def counted_commit_pipelined(raw: Any, statements: Any, *args: Any, **kwargs: Any) -> Any:
        if ours():
            seen["round trips"] += 1
            seen["commits"] += 1
            seen["statements"] += len(statements)
            for sql, _ in statements:
                stock(sql)
        return committed_at_once(raw, statements, *args, **kwargs)

    def counted_pipeline(self: Any) -> Any:
        if ours() and not self.pgconn.pipeline_status:
            seen["round trips"] += 1
        return pipeline(self)

    def ending(real: Any, name: str) -> Any:
        def counted(self: Any) -> Any:
            open_ = self.pgconn.transaction_status != pq.TransactionStatus.IDLE
            if ours() and open_ and not self.pgconn.pipeline_status:
                seen["round trips"] += 1
                seen[name] += 1
            return real(self)

        return counted

    monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
    monkeypatch.setattr(fast, "commit_pipelined", counted_commit_pipelined)
    monkeypatch.setattr(psycopg.Connection, "pipeline", counted_pipeline)
    monkeypatch.setattr(psycopg.Connection, "commit", ending(commit, "commits"))
    monkeypatch.setattr(psycopg.Connection, "rollback", ending(rollback, "rollbacks"))
    try:
        yield seen
    finally:
        monkeypatch.undo()
