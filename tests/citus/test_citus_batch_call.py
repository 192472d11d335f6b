"""The writer's batch as one call of ``ledger_write_batch`` delegated to the tenant's worker:
distributed with the tenants, the balance check and immutability inside it, refused whole."""

from __future__ import annotations

from typing import Any

import cluster
import psycopg
import pytest

from tokenmall.adapters.db import citus_batch, fast
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit
from tokenmall.services.writers.pool import WriterPool


def _raw(store: Store) -> psycopg.Connection[Any]:
    return psycopg.connect(cluster.libpq(str(store.engine.url)), autocommit=True)


def _book(store: Store, tenant: str, count: int) -> None:
    with WriterPool(store) as pool:
        futures = [
            pool.submit(
                c.Purchase(
                    tenant_id=tenant, idempotency_key=f"k{n}", user=f"u{n % 3}", amount_fen=500 + n
                )
            )
            for n in range(count)
        ]
        for future in futures:
            future.result(timeout=30)


def _counts(raw: psycopg.Connection[Any], tenant: str) -> tuple[Any, ...]:
    row = raw.execute(
        "SELECT (SELECT count(*) FROM journals WHERE tenant_id = %(t)s),"
        " (SELECT count(*) FROM postings WHERE tenant_id = %(t)s),"
        " (SELECT sum(points) FROM holders WHERE tenant_id = %(t)s),"
        " (SELECT last_journal_id FROM economy_state WHERE tenant_id = %(t)s)",
        {"t": tenant},
    ).fetchone()
    assert row is not None
    return tuple(row)


def _unbalanced_call(raw: psycopg.Connection[Any], tenant: str) -> list[fast.Bound]:
    """A batch of one new journal whose postings do not balance, built from a booked one."""
    journal = raw.execute(
        "SELECT journal_id, code, fingerprint, result, business_date FROM journals"
        " WHERE tenant_id = %s ORDER BY journal_id DESC LIMIT 1",
        (tenant,),
    ).fetchone()
    posting = raw.execute(
        "SELECT account, holder, asset FROM postings WHERE tenant_id = %s LIMIT 1", (tenant,)
    ).fetchone()
    assert journal is not None
    assert posting is not None
    new_id = journal[0] + 1
    statements = [
        fast.pg_insert(
            "journals",
            tenant,
            [(new_id, journal[1], "unbalanced", journal[2], journal[3], journal[4], None)],
        ),
        fast.pg_insert("postings", tenant, [(new_id, 1, posting[0], posting[1], posting[2], 7)]),
    ]
    return citus_batch.call(tenant, fast.bind_text(statements), {"last_journal_id": new_id})


def _send(raw: psycopg.Connection[Any], call: list[fast.Bound]) -> None:
    ((sql, params),) = call
    result = raw.pgconn.exec_params(sql.encode(), params)  # as the writer: parameters as text
    if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        raise psycopg.errors.error_from_result(result, encoding="utf-8")


def test_the_batch_function_is_distributed_with_the_tenants(store: Store) -> None:
    with _raw(store) as raw:
        row = raw.execute(
            "SELECT o.distribution_argument_index, o.colocationid = p.colocationid"
            " FROM pg_dist_object o, pg_dist_partition p"
            " WHERE o.objid = %s::regprocedure AND p.logicalrelid = 'tenants'::regclass",
            (citus_batch.SIGNATURE,),
        ).fetchone()
    assert row == (0, True)


def test_a_writers_batches_are_booked_by_the_call(store: Store, tenant: str) -> None:
    # given the writer sending its batches as the one call
    assert store.citus_batch_call
    # when it books purchases
    _book(store, tenant, 30)
    # then all are there, the state follows them and the audit is clean
    with _raw(store) as raw:
        journals, postings, _points, last = _counts(raw, tenant)
    assert journals == 30
    assert postings > 30
    assert last is not None
    assert last > 0
    assert audit(store, tenant)[0].findings == []


def test_an_unbalanced_batch_is_refused_by_the_call_and_nothing_is_written(
    store: Store, tenant: str
) -> None:
    # given a tenant with booked purchases
    _book(store, tenant, 3)
    with _raw(store) as raw:
        before = _counts(raw, tenant)
        call = _unbalanced_call(raw, tenant)
        # when a batch whose postings do not balance is sent as the call
        with pytest.raises(psycopg.Error, match="does not balance"):
            _send(raw, call)
        # then nothing of it was written, the state included
        assert _counts(raw, tenant) == before
    assert audit(store, tenant)[0].findings == []


def test_a_booked_journal_cannot_be_written_again_by_the_call(store: Store, tenant: str) -> None:
    # given a booked journal
    _book(store, tenant, 2)
    with _raw(store) as raw:
        before = _counts(raw, tenant)
        journal = raw.execute(
            "SELECT journal_id, code, idempotency_key, fingerprint, result, business_date"
            " FROM journals WHERE tenant_id = %s ORDER BY journal_id LIMIT 1",
            (tenant,),
        ).fetchone()
        assert journal is not None
        statements = [fast.pg_insert("journals", tenant, [(*journal, None)])]
        call = citus_batch.call(tenant, fast.bind_text(statements), {"last_journal_id": 999})
        # when the call writes it again
        with pytest.raises(psycopg.errors.UniqueViolation):
            _send(raw, call)
        # then nothing changed
        assert _counts(raw, tenant) == before


def test_a_call_that_runs_on_the_coordinator_is_refused(store: Store, tenant: str) -> None:
    # given a transaction block, where Citus does not delegate the call to the worker
    _book(store, tenant, 1)
    with _raw(store) as raw:
        before = _counts(raw, tenant)
        call = citus_batch.call(tenant, [], {"last_journal_id": 999})
        raw.execute("BEGIN")
        # when the call runs there, then it is refused rather than writing elsewhere
        with pytest.raises(psycopg.Error, match="not on this node"):
            _send(raw, call)
        raw.execute("ROLLBACK")
        assert _counts(raw, tenant) == before
