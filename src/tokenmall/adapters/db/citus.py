"""Citus: the schema distributed by tenant on a coordinator (``tokenmall db upgrade``).

The migrations create ordinary tables; on a database with the ``citus`` extension the same
transaction then distributes every table that has a ``tenant_id`` by it, all co-located with
``tenants`` (a tenant's rows, on every table, live in one shard group on one worker), and makes
the tables without one (the platform's operators) reference tables, copied to every node.
``alembic_version`` stays on the coordinator. A table a later migration adds is distributed by
the next upgrade the same way, and DDL on distributed tables is propagated by Citus.

The ledger's triggers go to every shard. Two of them read and write other tables of the ledger
(the balance check notes a transaction's unbalanced part-sums in ``ledger_tx_pending`` and
``ledger_tx_checks`` and probes ``journals``); on a worker those names are the distributed
tables, which Citus would plan as distributed queries from inside a trigger, on connections
that do not see the trigger's own uncommitted rows. On Citus both functions are therefore
replaced by versions that name the co-located shards directly (``ledger_shard``: the shard of a
table that holds a tenant, found in the metadata every worker has), so the check runs as plain
SQL inside the worker's own transaction. The statements and the results are the same.

A deferred trigger that fails on a worker when a single-shard transaction commits is only a
warning on the coordinator (Citus commits such a transaction on its one worker after the
coordinator has decided to commit, without two-phase commit), so the client would take a refused
journal for a committed one. Every transaction that posted to the ledger therefore fires the
worker's deferred checks before it commits (``flush``: ``SET CONSTRAINTS ALL IMMEDIATE`` on the
worker, through a query routed to the tenant's shard, only when the tenant has checks pending),
and a refusal is an error of the commit, as on one PostgreSQL. The writer's pipelined batch,
an implicit transaction on one PostgreSQL, is sent between ``BEGIN`` and ``COMMIT`` on Citus:
outside a transaction block Citus commits each statement on its worker by itself.

Before anything runs, ``preflight`` refuses a coordinator with no workers and a worker that
does not answer, naming what to do; a failure later rolls the whole upgrade back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError

# Tables that stay where they are: Alembic's own bookkeeping.
LOCAL_TABLES = frozenset({"alembic_version"})
ROOT = "tenants"


# conn.info: the tenants whose postings this transaction wrote; the pooled connection's info:
# whether its database has Citus.
POSTED = "tokenmall.citus.posted"
IS_CITUS = "tokenmall.citus"
POSTED_ANYWHERE = "tokenmall.citus.posted_anywhere"
FLUSH_ALL_SQL = "SELECT count(ledger_flush_checks(tenant_id)) FROM ledger_tx_checks"
FLUSH_SQL = (
    "SELECT ledger_flush_checks(tenant_id) FROM ledger_tx_checks WHERE tenant_id = %s LIMIT 1"
)


class CitusNotReady(Exception):
    """The Citus cluster cannot take the schema (no workers, a worker down, no extension)."""


@dataclass(frozen=True)
class Worker:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def version(conn: Connection) -> str | None:
    """The ``citus`` extension's version in this database, or None (SQLite, plain PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return None
    found = conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
    ).scalar_one_or_none()
    return None if found is None else str(found)


def require(conn: Connection) -> str:
    """The extension's version; ``CitusNotReady`` naming what to do when it is missing."""
    found = version(conn)
    if found is not None:
        return found
    if conn.dialect.name != "postgresql":
        raise CitusNotReady("Citus needs PostgreSQL; this database is " + conn.dialect.name)
    available = conn.execute(
        text("SELECT count(*) FROM pg_available_extensions WHERE name = 'citus'")
    ).scalar_one()
    if available:
        raise CitusNotReady(
            "the database has no citus extension: set shared_preload_libraries = 'citus', "
            "run CREATE EXTENSION citus on the coordinator and on every worker, register the "
            "workers (citus_add_node), then upgrade again"
        )
    raise CitusNotReady(
        "Citus is not installed on this server: install the Citus package for its PostgreSQL "
        "(here: scripts/citus-build.sh, then scripts/citus-cluster.sh start) and upgrade again"
    )


def workers(conn: Connection) -> list[Worker]:
    rows = conn.execute(
        text(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 AND isactive"
            " AND noderole = 'primary' ORDER BY nodename, nodeport"
        )
    ).all()
    return [Worker(str(host), int(port)) for host, port in rows]


def preflight(conn: Connection) -> list[Worker]:
    """The active workers, each answering; ``CitusNotReady`` otherwise."""
    found = workers(conn)
    if not found:
        raise CitusNotReady(
            "the Citus coordinator has no workers: register each with "
            "SELECT citus_add_node('<host>', <port>) (scripts/citus-cluster.sh start does), "
            "then upgrade again; nothing was migrated"
        )
    rows = conn.execute(
        text("SELECT nodename, nodeport, success, result FROM run_command_on_workers('SELECT 1')")
    ).all()
    down = [f"{host}:{port} ({result})" for host, port, success, result in rows if not success]
    if down:
        raise CitusNotReady(
            f"Citus worker {', '.join(down)} does not answer: start it (or remove it with "
            "citus_remove_node), then upgrade again; nothing was migrated"
        )
    return found


def sequential(conn: Connection) -> None:
    """One connection per worker for the rest of the transaction: the migrations' DDL on
    distributed tables, the new tables' distribution, their foreign keys to reference tables
    and the functions created after them stay in one transaction (Citus refuses some of
    these after a parallel operation in the same transaction)."""
    conn.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))


def needs_distribution(conn: Connection) -> bool:
    """True when some table of the schema is not yet a Citus table (or the shards' versions
    of the ledger's functions are missing)."""
    flush_there = conn.execute(
        text("SELECT to_regprocedure('ledger_flush_checks(text)') IS NOT NULL")
    ).scalar_one()
    return not flush_there or bool(_undistributed(conn))


def _undistributed(conn: Connection) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_class AS c"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')"
            " AND NOT c.relispartition"
            " AND NOT EXISTS (SELECT 1 FROM pg_dist_partition AS d WHERE d.logicalrelid = c.oid)"
            " ORDER BY c.relname"
        )
    ).scalars()
    return [str(name) for name in rows if name not in LOCAL_TABLES]


def _references(conn: Connection) -> dict[str, set[str]]:
    """Each table of the schema and the tables its foreign keys name."""
    rows = conn.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint AS c"
            " JOIN pg_class AS t ON t.oid = c.conrelid"
            " WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace"
        )
    ).all()
    graph: dict[str, set[str]] = {}
    for table, target in rows:
        graph.setdefault(_bare(table), set()).add(_bare(target))
    return graph


def _bare(name: str) -> str:
    return name.rsplit(".", 1)[-1].strip('"')


def _has_tenant(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT count(*) FROM pg_attribute WHERE attname = 'tenant_id' AND NOT attisdropped"
                " AND attrelid = to_regclass(quote_ident(current_schema()) || '.' || :t)"
            ),
            {"t": table},
        ).scalar_one()
    )


def _order(tables: list[str], graph: dict[str, set[str]]) -> list[str]:
    """Referenced tables before the tables that reference them (the root first)."""
    done: list[str] = []
    pending = set(tables)

    def visit(table: str, path: frozenset[str]) -> None:
        if table not in pending or table in path:
            return
        for target in sorted(graph.get(table, ())):
            visit(target, path | {table})
        if table in pending:
            pending.discard(table)
            done.append(table)

    for table in sorted(tables, key=lambda t: (t != ROOT, t)):
        visit(table, frozenset())
    return done


def distribute(conn: Connection, shard_count: int) -> list[str]:
    """Distribute (or make reference tables of) every table that is not a Citus table yet;
    the tables it changed, in order. Runs inside the migration's transaction."""
    sequential(conn)
    conn.execute(text("SET LOCAL citus.enable_unsafe_triggers TO on"))
    conn.execute(text(f"SET LOCAL citus.shard_count TO {int(shard_count)}"))
    _install_shard_triggers(conn)
    tables = _undistributed(conn)
    graph = _references(conn)
    changed: list[str] = []
    for table in _order(tables, graph):
        if _has_tenant(conn, table):
            colocate = "default" if table == ROOT else ROOT
            conn.execute(
                text("SELECT create_distributed_table(:t, 'tenant_id', colocate_with => :c)"),
                {"t": table, "c": colocate},
            )
        else:
            conn.execute(text("SELECT create_reference_table(:t)"), {"t": table})
        changed.append(table)
    return changed


def _install_shard_triggers(conn: Connection) -> None:
    """The ledger's balance check, reading and writing the co-located shards (module doc)."""
    for statement in SHARD_FUNCTIONS:
        conn.execute(text(statement))
    # Called by name in queries routed to a worker, so every worker needs it.
    conn.execute(text("SELECT create_distributed_function('ledger_flush_checks(text)')"))


def note_postings(conn: Connection, tenant_id: str) -> None:
    """This transaction writes postings of ``tenant_id`` (``flush`` checks them on Citus)."""
    posted = conn.info.get(POSTED)
    if posted is None:
        posted = conn.info[POSTED] = set()
    posted.add(tenant_id)


def is_citus(conn: Connection) -> bool:
    """Whether the connection's database has Citus (asked once, when the pool connects)."""
    return bool(conn.connection.info.get(IS_CITUS, False))


def flush(conn: Connection) -> None:
    """Before a commit on Citus: fire the workers' deferred balance checks of every tenant
    this transaction posted to, so that a refusal fails the commit (module doc). Postings
    written by a statement of unknown tenants (SQL of its own) are checked on every shard."""
    posted = conn.info.pop(POSTED, None)
    anywhere = conn.info.pop(POSTED_ANYWHERE, False)
    if not (posted or anywhere) or not is_citus(conn):
        return
    import psycopg

    raw = conn.connection.driver_connection
    assert raw is not None
    statements = (
        [(FLUSH_ALL_SQL, ())] if anywhere else [(FLUSH_SQL, (t,)) for t in sorted(posted or ())]
    )
    with raw.cursor() as cur:
        for sql, params in statements:
            try:
                # Never prepared by the driver: a driver-prepared statement makes its next
                # rollback DEALLOCATE ALL, the writer's pipelined statements with it.
                cur.execute(sql, params, prepare=False)
            except psycopg.Error as error:
                # As the statement that broke the rule would have raised it on one PostgreSQL.
                raise DBAPIError.instance(sql, params, error, psycopg.Error) from error


def install(engine: Engine) -> None:
    """Run ``flush`` before each commit of ``engine``'s transactions (PostgreSQL engines)."""

    def before_commit(conn: Connection) -> None:
        flush(conn)

    def after_rollback(conn: Connection) -> None:
        conn.info.pop(POSTED, None)
        conn.info.pop(POSTED_ANYWHERE, None)

    def before_execute(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if "postings" in statement and statement.lstrip()[:6].upper() == "INSERT":
            conn.info[POSTED_ANYWHERE] = True

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_extension WHERE extname = 'citus'")
            row = cur.fetchone()
        dbapi_connection.rollback()  # leave the new session idle, as the pool hands it out
        record.info[IS_CITUS] = bool(row and row[0])

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", before_commit)
    event.listen(engine, "rollback", after_rollback)


def pipelined(
    statements: Sequence[tuple[str, list[bytes | None]]], tenant_id: str
) -> list[tuple[str, list[bytes | None]]]:
    """The writer's batch as Citus must get it: one explicit transaction, checked before
    its commit (statements bound as ``fast.commit_pipelined`` sends them)."""
    return [
        ("BEGIN", []),
        *statements,
        (FLUSH_SQL.replace("%s", "$1"), [tenant_id.encode()]),
        ("COMMIT", []),
    ]


SHARD_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION ledger_flush_checks(tenant text) RETURNS boolean
    LANGUAGE plpgsql AS $fn$
    BEGIN
        -- On the worker: the transaction's deferred checks (transaction_balances) now.
        SET CONSTRAINTS ALL IMMEDIATE;
        RETURN true;
    END $fn$
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_shard(schema_name text, table_name text, tenant text)
    RETURNS text LANGUAGE plpgsql STABLE AS $fn$
    -- plpgsql, not sql: a SQL function with sub-queries is not inlined, and called from
    -- plpgsql it is parsed and planned again in every transaction; here the look-up's plan
    -- is kept for the session.
    DECLARE
        relation regclass := format('%I.%I', schema_name, table_name)::regclass;
    BEGIN
        IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
            RETURN format('%I.%I', schema_name, table_name);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                       WHERE logicalrelid = relation) THEN
            RETURN format('%I.%I', schema_name, table_name);
        END IF;
        RETURN format('%I.%I', schema_name, table_name || '_' ||
                      get_shard_id_for_distribution_column(relation, tenant));
    END $fn$
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_note_journals() RETURNS trigger LANGUAGE plpgsql
    SET enable_seqscan TO 'off' SET enable_hashjoin TO 'off' SET enable_mergejoin TO 'off'
    SET enable_material TO 'off' SET plan_cache_mode TO 'force_custom_plan'
    AS $fn$
    DECLARE
        tenant text;
        pending text;
        checks text;
        journals_shard text;
        tenant_ids text[];
        journal_ids bigint[];
        unbalanced bigint;
        unsure bigint;
        missing bigint := 0;
    BEGIN
        SELECT tenant_id INTO tenant FROM new_postings LIMIT 1;
        IF tenant IS NULL THEN
            RETURN NULL;
        END IF;
        -- Every row of the statement is in this shard, so one tenant names the shard group.
        pending := ledger_shard(TG_TABLE_SCHEMA, 'ledger_tx_pending', tenant);
        checks := ledger_shard(TG_TABLE_SCHEMA, 'ledger_tx_checks', tenant);
        journals_shard := ledger_shard(TG_TABLE_SCHEMA, 'journals', tenant);
        EXECUTE format(
            'WITH sums AS (
                SELECT tenant_id, journal_id, asset, sum(amount) AS total
                FROM new_postings GROUP BY tenant_id, journal_id, asset
            ), open AS (
                INSERT INTO %1$s (tenant_id, txid, journal_id, asset, total)
                SELECT tenant_id, txid_current(), journal_id, asset, total FROM sums
                WHERE total <> 0
                RETURNING 1
            ), named AS (
                SELECT tenant_id, min(journal_id) AS lo, max(journal_id) AS hi,
                       count(DISTINCT journal_id) AS n
                FROM sums GROUP BY tenant_id
            )
            SELECT (SELECT count(*) FROM open),
                   (SELECT count(*) FROM named
                    WHERE n <> hi - lo + 1
                       OR (SELECT j.journal_id FROM %2$s AS j
                           WHERE j.tenant_id = named.tenant_id AND j.journal_id >= named.lo
                           ORDER BY j.journal_id OFFSET named.n - 1 LIMIT 1)
                          IS DISTINCT FROM named.hi)', pending, journals_shard)
        INTO unbalanced, unsure;
        IF unsure > 0 THEN
            SELECT array_agg(tenant_id), array_agg(journal_id) INTO tenant_ids, journal_ids
            FROM (SELECT DISTINCT tenant_id, journal_id FROM new_postings) AS named;
            EXECUTE format(
                'INSERT INTO %1$s (tenant_id, txid, journal_id, asset, total)
                 SELECT n.tenant_id, txid_current(), n.journal_id, NULL, 0
                 FROM unnest($1::text[], $2::bigint[]) AS n(tenant_id, journal_id)
                 WHERE NOT EXISTS (SELECT 1 FROM %2$s AS j
                                   WHERE j.tenant_id = n.tenant_id
                                     AND j.journal_id = n.journal_id)', pending, journals_shard)
            USING tenant_ids, journal_ids;
            GET DIAGNOSTICS missing = ROW_COUNT;
        END IF;
        IF unbalanced + missing > 0 THEN
            EXECUTE format(
                'INSERT INTO %s (tenant_id, txid, lo, hi)
                 SELECT DISTINCT tenant_id, txid_current(), 0, 0 FROM new_postings
                 ON CONFLICT (tenant_id, txid) DO NOTHING', checks);
        END IF;
        RETURN NULL;
    END $fn$
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_check_transaction() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        bad record;
        missing bigint;
        pending text := ledger_shard(TG_TABLE_SCHEMA, 'ledger_tx_pending', NEW.tenant_id);
        checks text := ledger_shard(TG_TABLE_SCHEMA, 'ledger_tx_checks', NEW.tenant_id);
        journals_shard text := ledger_shard(TG_TABLE_SCHEMA, 'journals', NEW.tenant_id);
    BEGIN
        EXECUTE format(
            'SELECT p.journal_id FROM %1$s AS p
             WHERE p.tenant_id = $1 AND p.txid = $2 AND p.asset IS NULL
               AND NOT EXISTS (SELECT 1 FROM %2$s AS j
                               WHERE j.tenant_id = $1 AND j.journal_id = p.journal_id)
             ORDER BY p.journal_id LIMIT 1', pending, journals_shard)
            INTO missing USING NEW.tenant_id, NEW.txid;
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'postings of tenant % refer to journal %, which does not exist',
                NEW.tenant_id, missing
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        EXECUTE format(
            'SELECT journal_id, asset, sum(total) AS total FROM %s
             WHERE tenant_id = $1 AND txid = $2 AND asset IS NOT NULL
             GROUP BY journal_id, asset HAVING sum(total) <> 0
             ORDER BY journal_id, asset LIMIT 1', pending)
            INTO bad USING NEW.tenant_id, NEW.txid;
        IF bad.journal_id IS NOT NULL THEN
            RAISE EXCEPTION 'journal % of tenant % does not balance: % by %',
                bad.journal_id, NEW.tenant_id, bad.asset, bad.total
                USING ERRCODE = 'check_violation';
        END IF;
        EXECUTE format('DELETE FROM %s WHERE tenant_id = $1 AND txid = $2', pending)
            USING NEW.tenant_id, NEW.txid;
        EXECUTE format('DELETE FROM %s WHERE tenant_id = $1 AND txid = $2', checks)
            USING NEW.tenant_id, NEW.txid;
        RETURN NULL;
    END $fn$
    """,
]


def summary(engine: Engine) -> str | None:
    """One line on the cluster: its version, its workers and how many tables are distributed."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        found = version(conn)
        if found is None:
            return None
        nodes = workers(conn)
        kinds = conn.execute(
            text(
                "SELECT partmethod, count(*) FROM pg_dist_partition"
                " WHERE logicalrelid::regclass::text NOT LIKE 'pg_%' GROUP BY partmethod"
            )
        ).all()
    counts = {str(kind): int(n) for kind, n in kinds}
    return (
        f"citus {found}: {counts.get('h', 0)} tables distributed by tenant_id, "
        f"{counts.get('n', 0)} reference tables, workers "
        + (", ".join(str(w) for w in nodes) or "none")
    )


def tenant_worker(conn: Connection, tenant_id: str) -> tuple[int, Worker]:
    """The shard group holding ``tenant_id`` (its shard of ``tenants``) and its worker."""
    row = conn.execute(
        text(
            "SELECT p.shardid, n.nodename, n.nodeport FROM pg_dist_placement AS p"
            " JOIN pg_dist_node AS n ON n.groupid = p.groupid"
            " WHERE p.shardid = get_shard_id_for_distribution_column('tenants', CAST(:t AS text))"
        ),
        {"t": tenant_id},
    ).one()
    return int(row[0]), Worker(str(row[1]), int(row[2]))


def cluster(engine: Engine) -> dict[str, Any] | None:
    """The Citus version and workers (``host:port``), or None (not a Citus coordinator)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        found = version(conn)
        if found is None:
            return None
        return {"version": found, "workers": [str(w) for w in workers(conn)]}


def workers_of(engine: Engine, tenant_ids: Sequence[str]) -> dict[str, str]:
    """Each tenant's worker (``host:port``)."""
    with engine.connect() as conn:
        return {t: str(tenant_worker(conn, t)[1]) for t in tenant_ids}


MOVE_MODES = ("block_writes", "auto", "force_logical")


def move_tenant(engine: Engine, tenant_id: str, target: str, mode: str = "block_writes") -> str:
    """Move ``tenant_id``'s shard group to the worker ``target`` (``host:port``) online with
    Citus's shard move; what was done, in one line. The group's other tenants move with it.
    ``block_writes`` (the default) holds the group's writes while it copies (the writer's
    batches wait, then go on); ``auto``/``force_logical`` copy by logical replication (they
    need ``wal_level = logical`` on the workers)."""
    if mode not in MOVE_MODES:
        raise CitusNotReady(f"the move's mode must be one of {', '.join(MOVE_MODES)}")
    with engine.connect() as conn:
        if version(conn) is None:
            raise CitusNotReady("the database is not a Citus coordinator (no citus extension)")
        found = {str(w): w for w in workers(conn)}
        if target not in found:
            raise CitusNotReady(
                f"{target} is not an active worker of this cluster (workers: "
                f"{', '.join(found) or 'none'})"
            )
        known = conn.execute(
            text("SELECT count(*) FROM tenants WHERE tenant_id = :t"), {"t": tenant_id}
        ).scalar_one()
        if not known:
            raise CitusNotReady(f"no tenant {tenant_id!r} in this database")
        shard, source = tenant_worker(conn, tenant_id)
        conn.rollback()
    if str(source) == target:
        return f"tenant {tenant_id} is already on {target} (shard group of shard {shard})"
    goal = found[target]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            text(
                "SELECT citus_move_shard_placement(:s, :sh, :sp, :th, :tp,"
                " shard_transfer_mode => CAST(:m AS citus.shard_transfer_mode))"
            ),
            {
                "s": shard,
                "sh": source.host,
                "sp": source.port,
                "th": goal.host,
                "tp": goal.port,
                "m": mode,
            },
        )
        moved = conn.execute(
            text(
                "SELECT count(*) FROM pg_dist_partition WHERE colocationid ="
                " (SELECT colocationid FROM pg_dist_partition"
                " WHERE logicalrelid = 'tenants'::regclass)"
            )
        ).scalar_one()
    return (
        f"tenant {tenant_id}: shard group of shard {shard} ({moved} tables) moved from "
        f"{source} to {target}"
    )
