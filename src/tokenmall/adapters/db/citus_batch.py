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
- a shard that is not on the node running the call (the call was not delegated) is refused
  with an error, nothing written;
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


ARGUMENTS = _arguments()
SIGNATURE = "ledger_write_batch(" + ", ".join(t for _, t in ARGUMENTS) + ")"
CALL_SQL = (
    "SELECT ledger_write_batch("
    + ", ".join(f"${n}::{t}" for n, (_, t) in enumerate(ARGUMENTS, start=1))
    + ")"
)


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
        state_shard text := ledger_shard('public', 'economy_state', tenant);
        sets text;
        picks text;
        found jsonb;
    BEGIN
        IF to_regclass(state_shard) IS NULL THEN
            RAISE EXCEPTION 'ledger_write_batch: the shards of % are not on this node', tenant
                USING ERRCODE = 'object_not_in_prerequisite_state';
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
    conn.execute(
        text("SELECT create_distributed_function(:f, '$1', colocate_with => 'tenants')"),
        {"f": SIGNATURE},
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
