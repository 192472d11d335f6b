"""The writer's batch on Citus as ONE call delegated to the tenant's worker.

Sent as its statements (``citus.pipelined``: ``BEGIN``, three inserts, the state update, the
balance check, ``COMMIT``), a batch is one round trip to the coordinator but a hop from the
coordinator to the worker per statement, each planned by the coordinator first. Here the
batch is one ``SELECT ledger_write_batch(tenant, …arrays…)``: the function is a distributed
function (``create_distributed_function``, distribution argument ``tenant``, co-located with
``tenants``), so the coordinator only finds the tenant's worker and forwards the call there,
where it runs as one transaction:

- the same three ``INSERT … SELECT … FROM unnest(…)`` and the state update, on the
  tenant's co-located shards (named through ``ledger_shard``, plain PostgreSQL on the worker:
  the rows' triggers, the immutability triggers and the balance trigger's bookkeeping run as
  before);
- ``SET CONSTRAINTS ALL IMMEDIATE`` last, so the balance check deferred to the commit runs
  inside the call and a refusal is the call's error (as ``ledger_flush_checks`` does);
- the writes above run in a block that catches ``unique_violation``: when the journals'
  ``(tenant_id, idempotency_key)`` refuses a key already booked, the block is rolled back
  (nothing written) and the call returns the batch's booked keys with their stored fingerprint
  and result (``[[key, fingerprint, result], …]``), which ``commit_batch`` raises as
  ``Replayed`` so that the writer answers them as replays and sends the rest again. This is the
  writer's key look-up folded into the call: the unique index checks every key while
  inserting, and the look-up runs only when it refused one (a look-up before every insert cost
  the worker a parsed and planned query per batch); any other duplicate is the call's error;
- first the call takes the shard group's metadata lock (``lock_shard_metadata``, shared),
  which a shard move or split takes exclusively on every node before it copies and holds until
  the new placement is committed, then checks in the node's own metadata
  (``pg_dist_placement``, ``pg_dist_local_group``) that the group is placed on this node: a
  call on a node that does not hold it (not delegated, sent to a worker the group moved away
  from, or its old placement not dropped yet) is refused with the SQLSTATE ``NOT_HERE``,
  nothing written; otherwise no move can complete before the call commits. So the call may be
  sent straight to the worker as safely as through the coordinator (``citus_direct`` sends the
  batch there as statements after the same lock and check, ``ledger_batch_here``);
- a batch written returns ``[]``.

Plain PostgreSQL and SQLite never see this function.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, text

from tokenmall.adapters.db import fast
from tokenmall.domain.ledger.results import StoredResult

_TABLES = (
    ("holders", fast.HOLDER_COLUMNS, fast.HOLDER_TYPES, "h", fast.UPSERT_TAIL),
    ("journals", fast.JOURNAL_COLUMNS, fast.JOURNAL_TYPES, "j", ""),
    ("postings", fast.POSTING_COLUMNS, fast.POSTING_TYPES, "p", ""),
)


def _arguments() -> list[tuple[str, str]]:
    args = [("tenant", "text")]
    for _, columns, types, prefix, _tail in _TABLES:
        args += [(f"{prefix}_{c}", f"{t}[]") for c, t in zip(columns, types, strict=True)]
    return [*args, ("state_names", "text[]"), ("state_values", "text[]")]


# The SQLSTATE of a call on a node that does not hold the tenant's shard group.
NOT_HERE = "TM001"
# In the function's body: the version that checks and locks its placement (``installed``).
MARKER = "ledger_write_batch: placement checked under the group's metadata lock"

ARGUMENTS = _arguments()
SIGNATURE = "ledger_write_batch(" + ", ".join(t for _, t in ARGUMENTS) + ")"
CALL_SQL = (
    "SELECT ledger_write_batch("
    + ", ".join(f"${n}::{t}" for n, (_, t) in enumerate(ARGUMENTS, start=1))
    + ")"
)
# Straight to the worker (``citus_direct``), the batch goes as its own statements on the tenant's
# shards, after this check: it takes the group's metadata lock and refuses (``NOT_HERE``) unless
# the tenant's shard of ``tenants`` is still ``group_shard`` (the shard names the statements
# carry: a split renames them) and is placed on this node. Selected FROM a table (the node's
# one-row ``pg_dist_local_group``), Citus does not delegate it to the node holding the group, as
# it does a bare call of a distributed function on a node without it; so on a worker the group
# has left, it runs there and refuses instead of being forwarded.
HERE_SIGNATURE = "ledger_batch_here(text, bigint)"
HERE_SQL = "SELECT ledger_batch_here($1::text, $2::bigint) FROM pg_catalog.pg_dist_local_group"


def here_sql() -> str:
    """``CREATE OR REPLACE FUNCTION ledger_batch_here(tenant, group_shard)`` (``HERE_SQL``)."""
    return f"""
    CREATE OR REPLACE FUNCTION ledger_batch_here(tenant text, group_shard bigint)
    RETURNS boolean LANGUAGE plpgsql AS $fn$
    BEGIN
        -- The group's metadata lock first (a move or split holds it exclusively until its new
        -- placement is committed), then the shard and its placement, as ledger_write_batch.
        PERFORM lock_shard_metadata(5, ARRAY[group_shard]);
        IF get_shard_id_for_distribution_column('public.tenants', tenant) <> group_shard
           OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement AS p
                          WHERE p.shardid = group_shard
                            AND p.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group))
        THEN
            RAISE EXCEPTION 'ledger_batch_here: the shards of % are not on this node', tenant
                USING ERRCODE = '{NOT_HERE}';
        END IF;
        RETURN true;
    END $fn$
    """


def _insert(table: str, columns: Sequence[str], prefix: str, tail: str) -> str:
    marks = ", ".join(f"${n}" for n in range(2, len(columns) + 2))
    using = ", ".join(f"{prefix}_{c}" for c in columns)
    return f"""
    IF coalesce(array_length({prefix}_{columns[0]}, 1), 0) > 0 THEN
        EXECUTE format('INSERT INTO %s (tenant_id, {", ".join(columns)}) '
                       'SELECT $1, * FROM unnest({marks}){tail.replace("'", "''")}',
                       ledger_shard('public', '{table}', tenant))
        USING tenant, {using};
    END IF;"""


def function_sql() -> str:
    """``CREATE OR REPLACE FUNCTION ledger_write_batch(…)`` (module doc)."""
    params = ", ".join(f"{name} {type_}" for name, type_ in ARGUMENTS)
    inserts = "".join(_insert(t, cols, prefix, tail) for t, cols, _, prefix, tail in _TABLES)
    return f"""
    CREATE OR REPLACE FUNCTION ledger_write_batch({params}) RETURNS jsonb
    LANGUAGE plpgsql AS $fn$
    DECLARE
        group_shard bigint;
        state_shard text;
        sets text;
        picks text;
        found jsonb;
    BEGIN
        -- {MARKER}
        -- The shard group's metadata lock, shared: a shard move (or split) takes it
        -- exclusively on every node before it copies and holds it until its new placement is
        -- committed, so from here to this call's commit the placement checked next stands.
        group_shard := get_shard_id_for_distribution_column('public.tenants', tenant);
        PERFORM lock_shard_metadata(5, ARRAY[group_shard]);
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement AS p
                       WHERE p.shardid = group_shard
                         AND p.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group))
        THEN
            RAISE EXCEPTION 'ledger_write_batch: the shards of % are not on this node', tenant
                USING ERRCODE = '{NOT_HERE}';
        END IF;
        state_shard := ledger_shard('public', 'economy_state', tenant);
        IF to_regclass(state_shard) IS NULL THEN
            RAISE EXCEPTION 'ledger_write_batch: the shards of % are not on this node', tenant
                USING ERRCODE = '{NOT_HERE}';
        END IF;
        BEGIN
        {inserts}
        IF coalesce(array_length(state_names, 1), 0) > 0 THEN
            SELECT string_agg(quote_ident(n), ', '), string_agg('r.' || quote_ident(n), ', ')
              INTO sets, picks FROM unnest(state_names) AS n;
            EXECUTE format('UPDATE %s AS s SET (%s) = (SELECT %s FROM '
                           'jsonb_populate_record(NULL::%s, $2) AS r) WHERE s.tenant_id = $1',
                           state_shard, sets, picks, state_shard)
            USING tenant, jsonb_object(state_names, state_values);
        END IF;
        -- The balance check deferred to the commit, now: a refusal is this call's error.
        SET CONSTRAINTS ALL IMMEDIATE;
        EXCEPTION WHEN unique_violation THEN
            -- Keys already committed: nothing was written (the block is rolled back); the
            -- writer answers them as replays. Any other duplicate is the call's error.
            EXECUTE format('SELECT jsonb_agg(jsonb_build_array(k.key, j.fingerprint, j.result)) '
                           'FROM unnest($2) AS k(key) CROSS JOIN LATERAL (SELECT fingerprint, '
                           'result FROM %s WHERE tenant_id = $1 AND idempotency_key = k.key '
                           'LIMIT 1) AS j', ledger_shard('public', 'journals', tenant))
                INTO found USING tenant, j_idempotency_key;
            IF found IS NULL THEN
                RAISE;
            END IF;
            RETURN found;
        END;
        RETURN '[]'::jsonb;
    END $fn$
    """


def install(conn: Connection) -> None:
    """Create the function on the coordinator and make it a distributed function delegated
    to the tenant's worker (inside the upgrade's transaction). A version of it that returns
    something else than ``jsonb`` is dropped first (``CREATE OR REPLACE`` cannot change it)."""
    returns = conn.execute(
        text("SELECT prorettype::regtype::text FROM pg_proc WHERE oid = to_regprocedure(:f)"),
        {"f": SIGNATURE},
    ).scalar()
    if returns is not None and returns != "jsonb":
        conn.execute(text(f"DROP FUNCTION {SIGNATURE}"))
    conn.execute(text(function_sql()))
    conn.execute(text(here_sql()))
    for signature in (SIGNATURE, HERE_SIGNATURE):
        conn.execute(
            text("SELECT create_distributed_function(:f, '$1', colocate_with => 'tenants')"),
            {"f": signature},
        )


def installed(conn: Connection) -> bool:
    """Whether this node has the current ``ledger_write_batch`` (the one that checks and locks
    its placement) and ``ledger_batch_here`` (an upgrade installs what is missing)."""
    return bool(
        conn.execute(
            text(
                "SELECT (SELECT coalesce(bool_or(position(:m in prosrc) > 0), false) FROM pg_proc"
                " WHERE oid = to_regprocedure(:f)) AND to_regprocedure(:g) IS NOT NULL"
            ),
            {"m": MARKER, "f": SIGNATURE, "g": HERE_SIGNATURE},
        ).scalar_one()
    )


_EMPTY = b"{}"


class Replayed(Exception):
    """The call found keys of its batch already committed and wrote nothing: ``found`` maps
    each to its stored ``(fingerprint, result)``, as ``Store.find_journals`` does."""

    def __init__(self, tenant_id: str, found: dict[str, tuple[str, StoredResult]]) -> None:
        super().__init__(f"tenant {tenant_id}: {len(found)} key(s) of the batch already booked")
        self.tenant_id = tenant_id
        self.found = found


def replayed(answer: bytes | str | None) -> dict[str, tuple[str, StoredResult]]:
    """The call's answer (``[]``, or ``[[key, fingerprint, result], …]``) as ``{key:
    (fingerprint, result)}``; empty when the batch was written."""
    if answer is None:
        return {}
    rows = json.loads(answer)
    return {key: (fingerprint, json.loads(result)) for key, fingerprint, result in rows}


def call(
    tenant_id: str, statements: Sequence[fast.Bound], state: Mapping[str, Any]
) -> list[fast.Bound]:
    """The batch's bound statements (``fast.bind_text`` of ``Store.prepare_batch``: the
    inserts, then the state update) as the one call, bound the same way."""
    arrays: dict[str, list[bytes | None]] = {}
    for sql, params in statements:
        for table, sql_of in (
            ("holders", fast.PG_HOLDERS),
            ("journals", fast.PG_JOURNALS),
            ("postings", fast.PG_POSTINGS),
        ):
            if sql == fast.dollar(sql_of):
                arrays[table] = params[1:]
    bound: list[bytes | None] = [tenant_id.encode()]
    for table, columns, *_ in _TABLES:
        bound += arrays.get(table) or [_EMPTY] * len(columns)
    names = list(state)
    bound.append(fast.array_literal(names).encode())
    bound.append(fast.array_literal([state[n] for n in names]).encode())
    return [(CALL_SQL, bound)]
