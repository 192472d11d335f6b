"""``fast.commit_at_once``: statements as one implicit transaction in one round trip on a
PostgreSQL session with no transaction open (a shopper's checkout writes this way): all or
nothing, the driver's errors raised as SQLAlchemy raises them (a broken constraint
``IntegrityError``, a lock not had in time ``OperationalError``, which the API answers 503),
statements prepared again after the driver deallocated them, and nothing sent where it
cannot (a transaction open, SQLite)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, OperationalError

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.store import Store

INSERT = "INSERT INTO {table} (k, note) VALUES (%s, %s)"


@pytest.fixture
def table(store: Store) -> Iterator[str]:
    name = f"at_once_{secrets.token_hex(4)}"
    with store.transaction() as conn:
        conn.execute(text(f"CREATE TABLE {name} (k integer PRIMARY KEY, note text NOT NULL)"))
    yield name
    with store.transaction() as conn:
        conn.execute(text(f"DROP TABLE {name}"))


@pytest.fixture
def idle(store: Store) -> Iterator[Connection]:
    """A connection in autocommit: its session has no transaction open between statements
    (PostgreSQL: the pipeline is libpq's)."""
    if not store.postgres:
        pytest.skip("PostgreSQL's pipeline")
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _rows(store: Store, table: str) -> list[tuple[int, str]]:
    with store.transaction() as conn:
        found = conn.execute(text(f"SELECT k, note FROM {table} ORDER BY k"))
        return [(int(k), str(note)) for k, note in found]


def _deallocate(idle: Connection) -> None:
    """As psycopg does after a rollback once it has prepared its own statements."""
    raw = idle.connection.driver_connection
    assert raw is not None
    raw.execute("DEALLOCATE ALL")


def _statements(table: str, *rows: tuple[int, str | None]) -> list[fast.Statement]:
    return [(INSERT.format(table=table), row) for row in rows]


def test_statements_are_committed_together(store: Store, table: str, idle: Connection) -> None:
    assert fast.commit_at_once(idle, _statements(table, (1, "one"), (2, 'two "quoted"')))
    assert _rows(store, table) == [(1, "one"), (2, 'two "quoted"')]


def test_a_broken_constraint_writes_nothing(store: Store, table: str, idle: Connection) -> None:
    with pytest.raises(IntegrityError):
        fast.commit_at_once(idle, _statements(table, (1, "one"), (2, None), (3, "three")))
    assert _rows(store, table) == []
    # The session is usable again at once.
    assert fast.commit_at_once(idle, _statements(table, (4, "four")))
    assert _rows(store, table) == [(4, "four")]


def test_a_lock_not_had_in_time_is_an_operational_error(
    store: Store, table: str, idle: Connection
) -> None:
    assert fast.commit_at_once(idle, _statements(table, (1, "one")))
    idle.exec_driver_sql("SET lock_timeout = '50ms'")
    change = f"UPDATE {table} SET note = %s WHERE k = %s"
    with store.engine.connect() as other:
        other.execute(text(f"SELECT k FROM {table} WHERE k = 1 FOR UPDATE"))
        with pytest.raises(OperationalError):
            fast.commit_at_once(idle, [*_statements(table, (2, "two")), (change, ("x", 1))])
        other.rollback()
    idle.exec_driver_sql("RESET lock_timeout")
    assert _rows(store, table) == [(1, "one")]


def test_statements_deallocated_by_the_driver_are_prepared_again(
    store: Store, table: str, idle: Connection
) -> None:
    assert fast.commit_at_once(idle, _statements(table, (1, "one")))
    _deallocate(idle)
    assert fast.commit_at_once(idle, _statements(table, (2, "two")))
    assert _rows(store, table) == [(1, "one"), (2, "two")]


def test_a_batch_mixing_new_and_deallocated_statements_is_prepared_again(
    store: Store, table: str, idle: Connection
) -> None:
    """The first try prepares the new statement before the deallocated one fails it; the
    second prepares both again under names the session does not hold."""
    assert fast.commit_at_once(idle, _statements(table, (1, "one")))
    _deallocate(idle)
    renote = (f"UPDATE {table} SET note = %s WHERE k = %s", ("uno", 1))
    assert fast.commit_at_once(idle, [renote, *_statements(table, (2, "two"))])
    assert _rows(store, table) == [(1, "uno"), (2, "two")]


def test_nothing_is_sent_inside_a_transaction_or_on_sqlite(store: Store, table: str) -> None:
    with store.transaction() as conn:
        conn.execute(text("SELECT 1"))  # the transaction has begun
        assert not fast.commit_at_once(conn, _statements(table, (1, "one")))
    assert _rows(store, table) == []
