"""Engines for SQLite (default) and PostgreSQL (psycopg 3); one URL decides.

SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` for every transaction: a transaction
takes the write lock when it starts, so two writers queue instead of one failing with
"database is locked" halfway. That lock is also the per-tenant lock of the simple path on
SQLite (the whole file is one writer at a time).

PostgreSQL's pool pings a connection at check-out only when it sat idle in the pool for
``PING_AFTER_IDLE`` seconds or more (``pool_pre_ping`` would ping every check-out: a round trip
before each transaction of a busy server, where a connection that was in use a moment ago
is all but certain to be alive). A connection that fails its ping is replaced, as with
``pool_pre_ping``; one that dies between its last use and the next, unpinged, fails that one
transaction and is replaced (SQLAlchemy invalidates the pool on a disconnect error).
psycopg prepares a statement server-side from its ``PREPARE_THRESHOLD``-th use on a
connection (its default is the 5th).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from tokenmall.adapters.db import citus

# Seconds a pooled PostgreSQL connection may sit unused before its next check-out pings it.
PING_AFTER_IDLE = 2.0  # float-ok: time
# psycopg's prepare_threshold: a statement is prepared from this many uses on a connection.
PREPARE_THRESHOLD = 2
_IDLE_SINCE = "tokenmall_idle_since"


def normalise_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


BACKENDS = ("sqlite", "postgresql")


class UnsupportedDatabase(ValueError):
    """A URL this install cannot open: not a URL, or a database other than SQLite and
    PostgreSQL."""


class NoSuchDatabase(UnsupportedDatabase):
    """A command that works on what a database holds (audit, report, settle) was pointed at a
    SQLite file that does not exist: opening it would create an empty one and act on nothing."""


def require_existing(url: str) -> None:
    """``NoSuchDatabase`` if ``url`` names a SQLite file that is not there (a server's
    database that does not exist fails on connect anyway)."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        return  # not a URL: make_engine says so
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    if not path.exists():
        raise NoSuchDatabase(
            f"no database at {path} (tokenmall db upgrade or tokenmall demo creates one)"
        )


def _masked(url: str) -> str:
    """``url`` with anything between ``user:`` and ``@`` (a password) hidden."""
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics of every table (``ANALYZE``), as PostgreSQL's
    autovacuum does on a live database. A table never analysed has none: the planner may then
    look a row up through a tenant's secondary index (every order of the tenant in a status)
    instead of its primary key, which costs more with each row."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def statistics_kept(engine: Engine) -> bool:
    """Whether the database refreshes its planner's statistics by itself: PostgreSQL with
    autovacuum and the row counts it needs (``track_counts``) on; SQLite never analyses by
    itself, but its planner does not depend on statistics as PostgreSQL's does (True)."""
    if not is_postgres(engine):
        return True
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT current_setting('autovacuum'), current_setting('track_counts')"
        ).one()
    return tuple(found) == ("on", "on")


def execute_alone(engine: Engine, statement: Executable) -> None:
    """Run one writing statement in a transaction of its own: on PostgreSQL in autocommit (no
    BEGIN and COMMIT round trips); on SQLite, whose engine begins every transaction itself
    (``_sqlite_setup``), in a committed one."""
    if not is_postgres(engine):
        with engine.begin() as conn:
            conn.execute(statement)
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(statement)


def make_engine(url: str, *, pool_size: int = 8) -> Engine:
    try:
        url = normalise_url(url)
        parsed = make_url(url)
    except ArgumentError:
        raise UnsupportedDatabase(
            f"not a database URL: {_masked(url)!r} (for example sqlite:///path/to/tokenmall.db or "
            "postgresql://user@host/dbname)"
        ) from None
    if parsed.get_backend_name() not in BACKENDS:
        raise UnsupportedDatabase(
            f"{parsed.get_backend_name()!r} databases are not supported: use SQLite "
            "(sqlite:///path) or PostgreSQL (postgresql://user@host/dbname)"
        )
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _sqlite_setup(engine)
        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 8,
        connect_args={"prepare_threshold": PREPARE_THRESHOLD},
    )
    _ping_after_idle(engine)
    citus.install(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Ping a connection at check-out only if it was idle ``PING_AFTER_IDLE`` s or more; a
    failed ping makes the pool replace it (``DisconnectionError``)."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"a pooled connection failed its ping: {error}") from error


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, begins
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Reads (Store.read) take no write lock, so under WAL they run beside the writer.
        readonly = conn.get_execution_options().get("tokenmall_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
