"""``fast.pipeline`` on PostgreSQL holds its statements and sends them together when it syncs
(``held_pipeline``): nothing reaches the server while the block queues, everything does at
its end, a result read inside the block sends what was held before it, in order, and a long
block sends every ``HOLD`` statements. A lock taken by a statement of the block, watched from
another connection, shows when the server got it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text

from tokenmall.adapters.db import fast, held_pipeline
from tokenmall.adapters.db.store import Store

LOCKED = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = 0 AND objid = :key AND objsubid = 1"
)


@pytest.fixture
def pg(store: Store) -> Store:
    if not store.postgres:
        pytest.skip("pipelines: PostgreSQL")
    return store


@pytest.fixture
def watcher(pg: Store) -> Iterator[Connection]:
    with pg.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _key() -> int:
    return secrets.randbelow(2**31 - 1) + 1


def _locked(watcher: Connection, key: int) -> bool:
    return bool(watcher.execute(text(LOCKED), {"key": key}).scalar_one())


def _lock(conn: Connection, key: int) -> None:
    cur = fast.cursor(conn)
    cur.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (key,))


def test_the_statements_reach_the_server_when_the_pipeline_ends(
    pg: Store, watcher: Connection
) -> None:
    assert held_pipeline.pipeline_class() is not None  # this psycopg has what it overrides
    key = _key()
    with pg.transaction() as conn:
        with fast.pipeline(conn, True):
            _lock(conn, key)
            time.sleep(0.2)  # time enough for a statement already sent
            assert not _locked(watcher, key)
        assert _locked(watcher, key)  # sent and done at the block's end
    assert not _locked(watcher, key)  # the transaction ended, the lock with it


def test_a_result_read_inside_the_block_sends_what_was_held_first(pg: Store) -> None:
    with pg.transaction() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE held_rows (n integer) ON COMMIT DROP"))
        with fast.pipeline(conn, True):
            cur = fast.cursor(conn)
            for n in range(3):
                cur.execute("INSERT INTO held_rows VALUES (%s)", (n,))
            reader = fast.cursor(conn)
            reader.execute("SELECT sum(n) FROM held_rows")
            assert reader.fetchall() == [(3,)]
            cur.execute("INSERT INTO held_rows VALUES (%s)", (10,))
        assert conn.execute(text("SELECT sum(n) FROM held_rows")).scalar_one() == 13


def test_a_long_block_sends_every_hold_statements(pg: Store, watcher: Connection) -> None:
    key = _key()
    with pg.transaction() as conn, fast.pipeline(conn, True):
        _lock(conn, key)
        cur = fast.cursor(conn)
        for _ in range(held_pipeline.HOLD):
            cur.execute("SELECT 1")
        deadline = time.monotonic() + 10
        while not _locked(watcher, key):  # sent with the HOLD-th; the server runs it soon
            assert time.monotonic() < deadline, "the held statements were not sent"
            time.sleep(0.02)


def test_a_failed_statement_fails_the_block_and_nothing_after_it_runs(pg: Store) -> None:
    from sqlalchemy.exc import IntegrityError

    table = f"held_keys_{secrets.token_hex(4)}"
    with pg.transaction() as conn:
        conn.execute(text(f"CREATE TABLE {table} (k integer PRIMARY KEY)"))
    try:
        with pytest.raises(IntegrityError), pg.transaction() as conn, fast.pipeline(conn, True):
            cur = fast.cursor(conn)
            cur.execute(f"INSERT INTO {table} VALUES (1)")
            cur.execute(f"INSERT INTO {table} VALUES (1)")
            cur.execute(f"INSERT INTO {table} VALUES (2)")
        with pg.transaction() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    finally:
        with pg.transaction() as conn:
            conn.execute(text(f"DROP TABLE {table}"))


def test_without_the_internals_it_overrides_psycopgs_own_pipeline_is_used(
    pg: Store, watcher: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    held_pipeline.pipeline_class.cache_clear()
    monkeypatch.setattr(held_pipeline, "_INTERNALS", ("_no_such_method",))
    try:
        assert held_pipeline.pipeline_class() is None
        key = _key()
        with pg.transaction() as conn, fast.pipeline(conn, True):
            _lock(conn, key)
            deadline = time.monotonic() + 10
            while not _locked(watcher, key):  # psycopg sends each statement as it comes
                assert time.monotonic() < deadline, "psycopg's pipeline did not send it"
                time.sleep(0.02)
    finally:
        monkeypatch.undo()
        held_pipeline.pipeline_class.cache_clear()
    assert held_pipeline.pipeline_class() is not None
