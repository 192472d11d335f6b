"""The writer's batch as one call of ``ledger_write_batch`` delegated to the tenant's worker:
distributed with the tenants, the balance check and immutability inside it, refused whole."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import cluster
import psycopg
import pytest
from test_writer import buy
from test_writer_overlap import overlapped

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


def _send(raw: psycopg.Connection[Any], call: list[fast.Bound]) -> bytes | None:
    """The call as the writer sends it (parameters as text); its answer."""
    ((sql, params),) = call
    result = raw.pgconn.exec_params(sql.encode(), params)
    if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        raise psycopg.errors.error_from_result(result, encoding="utf-8")
    return result.get_value(0, 0)


def test_the_batch_function_is_distributed_with_the_tenants(store: Store) -> None:
    with _raw(store) as raw:
        row = raw.execute(
            "SELECT o.distribution_argument_index, o.colocationid = p.colocationid"
            " FROM pg_dist_object o, pg_dist_partition p"
            " WHERE o.objid = %s::regprocedure AND p.logicalrelid = 'tenants'::regclass",
            (citus_batch.SIGNATURE,),
        ).fetchone()
    assert row == (0, True)


def test_ledger_shard_names_the_tenants_shard_and_a_local_table_itself(
    store: Store, tenant: str
) -> None:
    with _raw(store) as raw:
        for _ in range(2):  # (the second call runs the plans the first one kept)
            named = raw.execute(
                "SELECT ledger_shard('public', 'journals', %(t)s),"
                " format('public.journals_%%s',"
                " get_shard_id_for_distribution_column('journals', %(t)s::text)),"
                " ledger_shard('public', 'alembic_version', %(t)s)",
                {"t": tenant},
            ).fetchone()
            assert named is not None
            assert named[0] == named[1]
            assert named[2] == "public.alembic_version"


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
    with _raw(store) as raw:
        # and a batch written answers no replayed key
        assert citus_batch.replayed(_send(raw, citus_batch.call(tenant, [], {}))) == {}
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


def test_a_booked_key_makes_the_call_write_nothing_and_name_it(store: Store, tenant: str) -> None:
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
        answer = _send(raw, call)
        # then it names the key with its stored answer, and nothing changed
        assert citus_batch.replayed(answer) == {journal[2]: (journal[3], json.loads(journal[4]))}
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


class AskingStore(Store):
    """The real store, noting every idempotency key the writer looks up before a commit."""

    def __init__(self, store: Store, *, citus_batch_call: bool, citus_direct: bool = False) -> None:
        super().__init__(store.engine, citus_batch_call=citus_batch_call, citus_direct=citus_direct)
        self.asked: list[str] = []

    def find_journals(
        self, conn: Any, tenant_id: str, keys: Iterable[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        keys = list(keys)
        self.asked += keys
        return super().find_journals(conn, tenant_id, keys)


@pytest.mark.parametrize(
    ("batch_call", "direct"),
    [(True, False), (False, False), (True, True)],
    ids=["call", "statements", "straight-to-the-worker"],
)
def test_a_batch_holding_a_booked_key_answers_it_as_a_replay_and_books_the_rest_once(
    store: Store, tenant: str, batch_call: bool, direct: bool
) -> None:
    # given purchases booked by an earlier writer of the tenant (keys the next one never saw)
    old = [buy(tenant, f"old{i}", "amy", 5_000 + i) for i in range(3)]
    first = overlapped(store, tenant, old)[1]
    with _raw(store) as raw:
        booked = _counts(raw, tenant)
    # when a new writer gets one batch of new purchases holding a replay of one of them
    commands = [buy(tenant, f"p{i}", f"u{i % 3}") for i in range(6)]
    commands.insert(2, buy(tenant, "old1", "amy", 5_001))
    asking = AskingStore(store, citus_batch_call=batch_call, citus_direct=direct)
    writer, answers = overlapped(asking, tenant, commands)
    # then the replay has the first answer, and the new purchases are booked once, in order
    assert answers[2] == first[1]
    fresh = [a for n, a in enumerate(answers) if n != 2]
    assert [a["journal_id"] for a in fresh] == list(range(4, 10))
    with _raw(store) as raw:
        journals, *_ = _counts(raw, tenant)
        replays = raw.execute(
            "SELECT count(*) FROM journals WHERE tenant_id = %s AND idempotency_key = 'old1'",
            (tenant,),
        ).fetchone()
    assert journals == booked[0] + 6
    assert replays == (1,)
    # found at commit, the batch then done again without it
    assert writer.late_replays == 1
    if batch_call and not direct:
        # by the call: the writer never looked the replayed key up itself
        assert "old1" not in asking.asked
    if direct:  # (refused by the key at commit on the worker: the redo looked it up)
        assert "old1" in asking.asked
        assert asking.direct is not None
        overlapped(asking, tenant, [buy(tenant, f"q{i}", "amy") for i in range(4)])
        assert sum(asking.direct.sent.values()) >= 1  # (and the writer books there)
    assert audit(store, tenant)[0].findings == []
