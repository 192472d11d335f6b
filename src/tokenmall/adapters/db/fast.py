"""The writer's hot statements as fixed SQL on the driver's own cursor (psycopg 3 or sqlite3).

SQLAlchemy costs about a millisecond per statement (compiling, building parameter dicts), and
psycopg's ``executemany`` sends one statement per row. Here every statement is fixed text:
PostgreSQL gets one ``INSERT … SELECT FROM unnest(%s::type[], …)`` per table with one array per
column (psycopg prepares it server-side after a few uses; the overlapping writer's committer
sends a batch as one libpq pipeline of statements it prepared itself, ``commit_pipelined``),
SQLite the driver's
``executemany`` over one prepared statement (a C loop). The column lists are the ones of
``tables.py``; a test writes and reads back through these and through SQLAlchemy.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError, IntegrityError

from tokenmall.adapters.db import citus, held_pipeline

HOLDER_COLUMNS = (
    "name",
    "points",
    "cash",
    "stable",
    "quota",
    "quota_used",
    "spend",
    "dividends",
    "exited",
    "merchant",
    "referrer",
    "points_seq",
)
_HOLDER_TYPES = (
    "text",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "boolean",
    "boolean",
    "text",
    "bigint",
)
JOURNAL_COLUMNS = (
    "journal_id",
    "code",
    "idempotency_key",
    "fingerprint",
    "result",
    "business_date",
    "reverses",
)
_JOURNAL_TYPES = ("bigint", "text", "text", "text", "text", "date", "bigint")
POSTING_COLUMNS = ("journal_id", "line", "account", "holder", "asset", "amount")
_POSTING_TYPES = ("bigint", "integer", "text", "text", "text", "bigint")


def _pg_insert(table: str, columns: Sequence[str], types: Sequence[str], tail: str = "") -> str:
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    return (
        f"INSERT INTO {table} (tenant_id, {', '.join(columns)}) "
        f"SELECT %s, * FROM unnest({arrays}){tail}"
    )


def _sqlite_insert(table: str, columns: Sequence[str], tail: str = "") -> str:
    marks = ", ".join("?" for _ in range(len(columns) + 1))
    return f"INSERT INTO {table} (tenant_id, {', '.join(columns)}) VALUES ({marks}){tail}"


_UPSERT_TAIL = " ON CONFLICT (tenant_id, name) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in HOLDER_COLUMNS[1:]
)
PG_HOLDERS = _pg_insert("holders", HOLDER_COLUMNS, _HOLDER_TYPES, _UPSERT_TAIL)
PG_JOURNALS = _pg_insert("journals", JOURNAL_COLUMNS, _JOURNAL_TYPES)
PG_POSTINGS = _pg_insert("postings", POSTING_COLUMNS, _POSTING_TYPES)
SQLITE_HOLDERS = _sqlite_insert("holders", HOLDER_COLUMNS, _UPSERT_TAIL)
# For the same writes as one function on Citus (``citus_batch``).
HOLDER_TYPES, JOURNAL_TYPES, POSTING_TYPES = _HOLDER_TYPES, _JOURNAL_TYPES, _POSTING_TYPES
UPSERT_TAIL = _UPSERT_TAIL
SQLITE_JOURNALS = _sqlite_insert("journals", JOURNAL_COLUMNS)
SQLITE_POSTINGS = _sqlite_insert("postings", POSTING_COLUMNS)

# One probe of the (tenant_id, idempotency_key) index per key, whatever the statistics say.
# With ``idempotency_key = ANY(…)`` a table whose statistics did not know the tenant yet (a fresh
# database, a new tenant) was read through another index by tenant_id alone, every journal of
# the tenant per batch (half the throughput at 64 clients); a LATERAL subquery with a LIMIT
# is one lookup per key.
PG_FIND_JOURNALS = (
    "SELECT k.key, j.fingerprint, j.result FROM unnest(%s::text[]) AS k(key) "
    "CROSS JOIN LATERAL (SELECT fingerprint, result FROM journals "
    "WHERE tenant_id = %s AND idempotency_key = k.key LIMIT 1) AS j"
)
PG_LOAD_HOLDERS = (
    f"SELECT {', '.join(HOLDER_COLUMNS)} FROM holders "
    "WHERE tenant_id = %s AND name = ANY(%s::text[])"
)
SQLITE_CHUNK = 500  # bound parameters per IN (...) list on SQLite


def _element(value: Any) -> str:
    if value is None:
        return "NULL"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, int):
        return str(value)
    text = value if isinstance(value, str) else value.isoformat()  # a date
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of ints, bools, strings, dates and None (NULL), to be cast
    by the statement (``%s::bigint[]``). psycopg's own list dumper escapes every element with
    a regular expression in Python, which costs more than the insert itself; here columns of
    plain ints or of strings needing no escapes are joined in one C call."""
    if not values:
        return "{}"
    first = values[0]
    if type(first) is str:
        try:
            body = '","'.join(values)
        except TypeError:  # a None (or another type) among them
            body = None
        if body is not None and "\\" not in body and body.count('"') == 2 * (len(values) - 1):
            return '{"' + body + '"}'
    elif type(first) is int and None not in values:
        try:
            if all(type(v) is int for v in values):
                return "{" + ",".join(map(str, values)) + "}"
        except TypeError:
            pass
    return "{" + ",".join(map(_element, values)) + "}"


def pipeline(conn: Connection, postgres: bool) -> AbstractContextManager[Any]:
    """On PostgreSQL, send the statements of the block together and wait once at its end
    (psycopg pipeline mode; an error is raised there, inside the caller's transaction, as
    SQLAlchemy's ``IntegrityError`` for a violated constraint, like outside a pipeline)."""
    if not postgres:
        return nullcontext()
    driver = conn.connection.driver_connection
    if driver is not None and driver.pgconn.pipeline_status:
        # Already in a pipeline (a caller's): psycopg would sync on entering and leaving a
        # nested one, costing two round trips; the outer block sends and waits for all.
        return nullcontext()
    return _pipeline(conn)


@contextmanager
def _pipeline(conn: Connection) -> Iterator[Any]:
    import psycopg

    driver = conn.connection.driver_connection
    held_pipeline.install(driver)  # its statements sent together when it syncs
    try:
        with driver.pipeline() as pipe:  # type: ignore[union-attr]
            yield pipe
    except psycopg.IntegrityError as error:
        raise IntegrityError(str(error), None, error) from error
    finally:
        checks = _CHECKS.pop(driver, [])
    # The pipeline synced: each guarded update's count is known now.
    missed = None
    for cur, refusal in checks:
        if cur.rowcount != 1 and missed is None:
            missed = refusal
        cur.close()
    if missed is not None:
        raise missed()


def commit_in_pipeline(conn: Connection) -> None:
    """Inside ``pipeline``: queue the transaction's COMMIT after the block's statements, so
    the block's one sync sends and ends it all (one round trip; psycopg's own ``commit()``
    here would sync at once and the block's end again, two). A failed statement before it
    aborts the transaction and the COMMIT is skipped: the error is raised at the block's
    end and the caller rolls back. The caller's own commit that follows finds no
    transaction open and sends nothing."""
    cur = cursor(conn)
    try:
        cur.execute("COMMIT", prepare=False)
    finally:
        cur.close()


# Guarded updates sent in a pipeline, checked when it ends (``guarded_update``).
_CHECKS: weakref.WeakKeyDictionary[Any, list[tuple[Any, Callable[[], Exception]]]] = (
    weakref.WeakKeyDictionary()
)


def in_pipeline(conn: Connection) -> bool:
    """Whether ``conn`` is a PostgreSQL connection inside a pipeline (``pipeline``): there a
    statement's results, its row count too, are known only when the pipeline ends."""
    if conn.dialect.name != "postgresql":
        return False
    driver = conn.connection.driver_connection
    return driver is not None and bool(driver.pgconn.pipeline_status)


def guarded_update(
    conn: Connection, sql: str, parameters: Mapping[str, Any], refusal: Callable[[], Exception]
) -> None:
    """Inside a pipeline: send an ``UPDATE`` that must change exactly one row; if it changed
    none, ``refusal()`` is raised when the pipeline ends (inside the caller's transaction, so
    the block's writes roll back with it, as a refusal raised at once would have them)."""
    driver = conn.connection.driver_connection
    cur = cursor(conn)
    cur.execute(sql, parameters)
    _CHECKS.setdefault(driver, []).append((cur, refusal))


def cursor(conn: Connection) -> Any:
    """A cursor of the connection's own DBAPI connection (inside its current transaction)."""
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


class Row(dict[str, Any]):
    """A driver's row as a dict with attribute access and ``_mapping``, as SQLAlchemy's rows
    are read by the adapters' row converters (psycopg's named-tuple rows have no
    ``_mapping``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> dict[str, Any]:
        return self


def rows(cur: Any) -> list[Row]:
    """The rows a cursor's statement answered, as ``Row``s."""
    names = [column[0] for column in cur.description]
    return [Row(zip(names, row, strict=True)) for row in cur.fetchall()]


def fetch(conn: Connection, sql: str, params: Any) -> list[Row]:
    """Fixed SQL on the driver's cursor, in the connection's transaction: its rows."""
    cur = cursor(conn)
    try:
        cur.execute(sql, params)
        return rows(cur)
    finally:
        cur.close()


def insert_rows(
    conn: Connection, postgres: bool, table: str, tenant_id: str, rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (column order of the table's *_COLUMNS) in one statement."""
    if not rows:
        return
    if postgres:
        if table == "postings":
            citus.note_postings(conn, tenant_id)
        execute(conn, [pg_insert(table, tenant_id, rows)])
        return
    import sqlite3

    cur = cursor(conn)
    try:
        cur.executemany(_STATEMENTS[table][1], [(tenant_id, *row) for row in rows])
    except sqlite3.IntegrityError as error:
        # As SQLAlchemy raises it (a unique key taken by a racing request is retried by
        # callers that catch ``sqlalchemy.exc.IntegrityError``).
        raise IntegrityError(str(error), None, error) from error
    finally:
        cur.close()


Statement = tuple[str, tuple[Any, ...]]


def pg_insert(table: str, tenant_id: str, rows: Sequence[Sequence[Any]]) -> Statement:
    """PostgreSQL's one ``INSERT … SELECT FROM unnest(…)`` of ``rows`` with its parameters
    (all the Python work of the insert: a writer builds it before it needs the connection)."""
    columns = [array_literal(column) for column in zip(*rows, strict=True)]
    return _STATEMENTS[table][0], (tenant_id, *columns)


def execute(conn: Connection, statements: Sequence[Statement]) -> None:
    """Run prepared ``(sql, parameters)`` statements on the connection's own cursor."""
    on_citus = conn.dialect.name == "postgresql" and citus.is_citus(conn)
    cur = cursor(conn)
    try:
        for sql, params in statements:
            cur.execute(_CITUS.get(sql, sql) if on_citus else sql, params)
    finally:
        cur.close()


# -- PostgreSQL: a batch as prepared statements in one pipeline --------------------------------

Bound = tuple[str, list[bytes | None]]
"""A statement as the pipelined commit sends it: SQL with ``$n`` placeholders and its
parameters as text (bytes; None is NULL)."""

_DOLLAR: dict[str, str] = {}
# Per connection (psycopg's, weakly): SQL -> the name it is prepared under in that session.
_PREPARED: weakref.WeakKeyDictionary[Any, dict[str, bytes]] = weakref.WeakKeyDictionary()
# Names never reused in the process, so never one a session still holds.
_NAMES = itertools.count()


def _dollar(sql: str) -> str:
    """``sql`` with its ``%s`` placeholders numbered ``$1, $2, …`` (the fixed statements
    here hold no other ``%``)."""
    found = _DOLLAR.get(sql)
    if found is None:
        parts = sql.split("%s")
        found = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))
        _DOLLAR[sql] = found
    return found


dollar = _dollar


def _text(value: Any) -> bytes | None:
    if value is None:
        return None
    if value is True:
        return b"t"
    if value is False:
        return b"f"
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return str(value).encode()
    encoded: bytes = value.isoformat().encode()  # a date
    return encoded


def bind_text(statements: Sequence[Statement]) -> list[Bound]:
    """``statements`` as ``commit_pipelined`` sends them (no connection needed: a writer
    does this on its own thread, off the path between two commits)."""
    return [(_dollar(sql), [_text(value) for value in params]) for sql, params in statements]


def commit_pipelined(
    raw: Any, statements: Sequence[Bound], on_send: Callable[[], object] | None = None
) -> list[bytes | None]:
    """Run ``statements`` on psycopg connection ``raw`` (idle, no transaction open) as ONE
    transaction, in one round trip: each is prepared once per session and then only
    executed (libpq's pipeline mode; the statements up to the pipeline's sync are one
    implicit transaction, committed at the sync). Raises psycopg's error for the first
    statement that failed; the transaction is then rolled back and the session idle.
    Returns each statement's first value as text (None: it returned no row). A session
    whose prepared statements were deallocated meanwhile (psycopg sends ``DEALLOCATE ALL``
    after a rollback once it has prepared its own) fails before anything is written; its
    statements are then prepared again and sent once more.

    The same statements sent as one simple-protocol query with literals cost PostgreSQL a
    parse, an analysis and a plan of each per batch, a fifth of a batch's time more."""
    from psycopg import errors

    try:
        return _commit_pipelined(raw, statements, on_send)
    except errors.InvalidSqlStatementName:
        _PREPARED.pop(raw, None)
        return _commit_pipelined(raw, statements, None)


def _commit_pipelined(
    raw: Any, statements: Sequence[Bound], on_send: Callable[[], object] | None
) -> list[bytes | None]:
    from psycopg import errors, generators, pq

    pgconn = raw.pgconn
    names = _PREPARED.get(raw)
    if names is None:
        names = _PREPARED[raw] = {}
    if on_send is not None:
        on_send()
    preparing: dict[str, bytes] = {}
    failure = None
    pgconn.enter_pipeline_mode()
    try:
        answers: list[str | None] = []  # per result: the SQL it prepared, or None (a run)
        values: list[bytes | None] = []
        for sql, params in statements:
            name = names.get(sql) or preparing.get(sql)
            if name is None:
                name = preparing[sql] = f"tokenmall_{next(_NAMES)}".encode()
                pgconn.send_prepare(name, sql.encode())
                answers.append(sql)
            pgconn.send_query_prepared(name, params)
            answers.append(None)
        pgconn.pipeline_sync()
        raw.wait(generators.send(pgconn))
        for prepared in answers:
            result = raw.wait(generators.fetch(pgconn))
            status = result.status if result is not None else None
            if status == pq.ExecStatus.FATAL_ERROR:
                failure = failure or errors.error_from_result(result, encoding=raw.info.encoding)
            elif prepared is not None and status == pq.ExecStatus.COMMAND_OK:
                names[prepared] = preparing[prepared]  # (it outlives a rolled-back batch)
            elif prepared is None and result is not None:
                tuples = status == pq.ExecStatus.TUPLES_OK and result.ntuples > 0
                values.append(result.get_value(0, 0) if tuples else None)
            if result is None or raw.wait(generators.fetch(pgconn)) is not None:
                raise errors.InternalError("unexpected results in the writer's pipeline")
        sync = raw.wait(generators.fetch(pgconn))
        if sync is None or sync.status != pq.ExecStatus.PIPELINE_SYNC:
            raise errors.InternalError("the writer's pipeline did not end with its sync")
    except BaseException:
        with suppress(Exception):  # a broken session: the caller resets it
            pgconn.exit_pipeline_mode()
        raise
    pgconn.exit_pipeline_mode()
    if failure is not None:
        if raw.info.transaction_status == pq.TransactionStatus.INERROR:
            pgconn.exec_(b"ROLLBACK")  # an explicit BEGIN in the pipeline (Citus)
        raise failure
    return values


def commit_at_once(conn: Connection, statements: Sequence[Statement]) -> bool:
    """PostgreSQL (not Citus), its session idle (no transaction open, as after reads in
    autocommit): ``statements`` as ONE implicit transaction in one round trip
    (``commit_pipelined``: each prepared once per session, parameters as text, none of the
    driver's cursor machinery). ``IntegrityError`` when one of them breaks a constraint,
    SQLAlchemy's other errors as it raises them: nothing is written. False, and nothing
    sent, where it cannot: the caller writes them in a transaction of its own."""
    import psycopg

    if conn.dialect.name != "postgresql" or citus.is_citus(conn):
        return False
    raw = conn.connection.driver_connection
    idle = psycopg.pq.TransactionStatus.IDLE
    if raw is None or raw.info.transaction_status != idle or raw.pgconn.pipeline_status:
        return False
    try:
        commit_pipelined(raw, bind_text(statements))
    except psycopg.Error as error:
        # As SQLAlchemy raises the driver's errors (a broken constraint ``IntegrityError``, a
        # deadlock or a lost connection ``OperationalError``), which callers already handle.
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error
    return True


_STATEMENTS = {
    "holders": (PG_HOLDERS, SQLITE_HOLDERS),
    "journals": (PG_JOURNALS, SQLITE_JOURNALS),
    "postings": (PG_POSTINGS, SQLITE_POSTINGS),
}


def _citus_insert(sql: str) -> str:
    """``_pg_insert``'s statement as Citus routes it to the tenant's shard: Citus pulls an
    ``INSERT … SELECT`` whose distribution column is a parameter to the coordinator (the rows
    come back and are copied out again), while one whose rows take it from the co-located
    ``tenants`` row, filtered to the tenant, is one task on the tenant's worker. The same
    rows are inserted (the tenant's row always exists: the writer books for it)."""
    head, _, rest = sql.partition("SELECT %s, * FROM unnest(")
    arrays, _, tail = rest.partition(")")
    return (
        f"{head}SELECT t.tenant_id, u.* FROM (SELECT tenant_id FROM tenants WHERE tenant_id = %s)"
        f" AS t CROSS JOIN unnest({arrays}) AS u{tail}"
    )


# The writer's inserts as they run on Citus (``execute``, ``for_citus``).
_CITUS = {sql: _citus_insert(sql) for sql, _ in _STATEMENTS.values()}
_CITUS_DOLLAR = {_dollar(sql): _dollar(citus_sql) for sql, citus_sql in _CITUS.items()}


def for_citus(statements: Sequence[Bound]) -> list[Bound]:
    """Bound statements (``bind_text``) with the writer's inserts as Citus routes them."""
    return [(_CITUS_DOLLAR.get(sql, sql), params) for sql, params in statements]


_INSERTS: dict[tuple[str, tuple[str, ...]], str] = {}
_DEFERRED = "tokenmall.fast.deferred"


class Deferred:
    """Rows of ``insert_dicts`` held back while ``deferring`` (see there), by table."""

    def __init__(self) -> None:
        self.rows: dict[Table, list[Mapping[str, Any]]] = {}

    def add(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows.setdefault(table, []).extend(rows)

    def update(self, table: Table, match: Mapping[str, Any], values: Mapping[str, Any]) -> int:
        """Change held rows of ``table`` whose columns equal ``match``; how many matched."""
        count = 0
        held = self.rows.get(table, [])
        for n, row in enumerate(held):
            if all(row.get(name) == value for name, value in match.items()):
                held[n] = {**row, **values}
                count += 1
        return count

    def flush(self, conn: Connection) -> None:
        """Insert every held row: tables in the order their foreign keys need (a user before
        the rows that name it), each table's rows in one statement per set of columns."""
        for table in _fk_order(list(self.rows)):
            by_columns: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
            for row in self.rows[table]:
                by_columns.setdefault(tuple(row), []).append(row)
            for rows in by_columns.values():
                insert_dicts(conn, table, rows)
        self.rows = {}


def _fk_order(tables: list[Table]) -> list[Table]:
    """``tables`` sorted so that a table comes after those among them it references."""
    ordered: list[Table] = []
    placed: set[Table] = set()

    def place(table: Table, path: tuple[Table, ...]) -> None:
        if table in placed or table in path:
            return
        for fk in table.foreign_keys:
            target = fk.column.table
            if isinstance(target, Table) and target in tables and target is not table:
                place(target, (*path, table))
        placed.add(table)
        ordered.append(table)

    for table in tables:
        place(table, ())
    return ordered


@contextmanager
def deferring(conn: Connection) -> Iterator[Deferred]:
    """Inside the block, ``insert_dicts`` on ``conn`` holds its rows back (and
    ``ledger.LedgerBatch.flush`` leaves the book's batch to its owner): a caller writing many
    orders in one transaction sends each table's rows together at the end with
    ``Deferred.flush``. Reads inside the block do not see the held rows."""
    if _DEFERRED in conn.info:
        raise RuntimeError("already deferring on this connection")
    held = conn.info[_DEFERRED] = Deferred()
    try:
        yield held
    finally:
        del conn.info[_DEFERRED]


def deferred(conn: Connection) -> bool:
    """Whether ``conn`` is inside ``deferring``."""
    return _DEFERRED in conn.info


def update_held(
    conn: Connection, table: Table, match: Mapping[str, Any], values: Mapping[str, Any]
) -> int:
    """Inside ``deferring``: change the held rows of ``table`` matching ``match`` (a row
    inserted earlier in the block, which an UPDATE could not see yet); else 0."""
    held = conn.info.get(_DEFERRED)
    return 0 if held is None else held.update(table, match, values)


def insert_dicts(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys: every column without a server default)
    into ``table``. On PostgreSQL a fixed ``INSERT … VALUES (%s, …)`` on the driver's cursor
    (nothing compiled per call; in a pipeline it is only queued); elsewhere SQLAlchemy's
    insert (which also renders SQLite's date-times its way). Inside ``deferring``, held."""
    if not rows:
        return
    held = conn.info.get(_DEFERRED)
    if held is not None:
        held.add(table, rows)
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), [dict(row) for row in rows])
        return
    columns = tuple(rows[0])
    sql = _INSERTS.get((table.name, columns))
    if sql is None:
        unknown = [name for name in columns if name not in table.c]
        if unknown:
            raise ValueError(f"not columns of {table.name}: {unknown}")
        sql = _INSERTS[(table.name, columns)] = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('%s' for _ in columns)})"
        )
    cur = cursor(conn)
    try:
        if len(rows) == 1:
            cur.execute(sql, tuple(rows[0].values()))
        else:
            cur.executemany(sql, [tuple(row[name] for name in columns) for row in rows])
    finally:
        cur.close()


def select_in(
    conn: Connection, postgres: bool, what: str, tenant_id: str, keys: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Rows of ``journals`` by idempotency key or ``holders`` by name (``what``)."""
    return select_in_later(conn, postgres, what, tenant_id, keys)()


def select_in_later(
    conn: Connection, postgres: bool, what: str, tenant_id: str, keys: Sequence[str]
) -> Callable[[], list[tuple[Any, ...]]]:
    """``select_in`` sent now, its rows read when called for: on PostgreSQL inside a
    pipeline, the statement goes with the pipeline's others in one round trip."""
    if not keys:
        return list
    if not postgres:
        found = _sqlite_select_in(conn, what, tenant_id, keys)
        return lambda: found
    cur = cursor(conn)
    # Never prepared: a generic plan made while the table was small (a fresh database) would
    # be kept as it grows, until autovacuum analyses it; planned each time (~0.1 ms a batch),
    # the lookup is costed against the table as it is.
    if what == "journals":
        cur.execute(PG_FIND_JOURNALS, (array_literal(keys), tenant_id), prepare=False)
    else:
        cur.execute(PG_LOAD_HOLDERS, (tenant_id, array_literal(keys)), prepare=False)

    def read() -> list[tuple[Any, ...]]:
        try:
            return list(cur.fetchall())
        finally:
            cur.close()

    return read


def _sqlite_select_in(
    conn: Connection, what: str, tenant_id: str, keys: Sequence[str]
) -> list[tuple[Any, ...]]:
    cur = cursor(conn)
    try:
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), SQLITE_CHUNK):
            chunk = keys[start : start + SQLITE_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            if what == "journals":
                sql = (
                    "SELECT idempotency_key, fingerprint, result FROM journals "
                    f"WHERE tenant_id = ? AND idempotency_key IN ({marks})"
                )
            else:
                sql = (
                    f"SELECT {', '.join(HOLDER_COLUMNS)} FROM holders "
                    f"WHERE tenant_id = ? AND name IN ({marks})"
                )
            cur.execute(sql, (tenant_id, *chunk))
            found.extend(cur.fetchall())
        return found
    finally:
        cur.close()
