"""The store's fast statements (driver cursors, PostgreSQL unnest arrays) keep every value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ledger_helpers import snapshot
from sqlalchemy import select

from tokenmall.adapters.db.fast import _element, array_literal
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import holders, journals
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.batch import HOLDER_FIELDS, holder_row
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.ledger.book import load_book
from tokenmall.services.writers.pool import WriterPool

AWKWARD = ['a"b', "c\\d", "NULL", "{x,y}", "空 格", "'q'", 'e\\"f', 'g","h', ""]


def test_array_literal_quotes_every_kind_of_value() -> None:
    assert array_literal([1, -2, 3]) == "{1,-2,3}"
    assert array_literal(['a"b', "c\\d", None, "NULL"]) == '{"a\\"b","c\\\\d",NULL,"NULL"}'
    assert array_literal([True, False, None]) == "{t,f,NULL}"
    # the one-join fast path must not swallow a quote that looks like a separator
    assert array_literal(["x", '"']) == '{"x","\\""}'
    assert array_literal(['a","b']) == '{"a\\",\\"b"}'
    assert array_literal(["x", None]) == '{"x",NULL}'
    assert array_literal([1, None]) == "{1,NULL}"
    assert array_literal([]) == "{}"
    # a column of strings is escaped all at once: the same literal as quoting each element
    results = ['{"journal_id": 1, "note": "a\\"b"}', '{"x": "c\\\\d"}', *AWKWARD]
    assert array_literal(results) == "{" + ",".join(map(_element, results)) + "}"
    assert array_literal(["a\0b", "c"]) == '{"a\0b","c"}'  # (a NUL: quoted one by one)


def test_awkward_names_round_trip_through_holders_and_journals(store: Store, tenant: str) -> None:
    # given purchases by holders whose names need quoting in an array literal
    names = [n for n in AWKWARD if n.strip()]
    with WriterPool(store) as pool:
        results = [
            pool.call(
                c.Purchase(
                    tenant_id=tenant,
                    idempotency_key=f"k{n}",
                    user=n,
                    amount_fen=10_000,
                    order_ref=n,
                )
            )
            for n in names
        ]
    # then the holders read back exactly, through the store and through SQLAlchemy
    with store.read() as conn:
        loaded = {h.name: holder_row(h) for h in store.load_holders(conn, tenant, names)}
        rows = conn.execute(
            select(*[holders.c[f] for f in HOLDER_FIELDS]).where(holders.c.tenant_id == tenant)
        ).all()
        assert sorted(loaded) == sorted(names)
        assert {r[0]: tuple(r) for r in rows} == loaded
        assert all(row[HOLDER_FIELDS.index("referrer")] is None for row in loaded.values())
        # and each journal keeps its key and result, found by key
        found = store.find_journals(conn, tenant, [f"k{n}" for n in names] + ["absent"])
        assert {k: v[1] for k, v in found.items()} == {
            f"k{n}": r for n, r in zip(names, results, strict=True)
        }
        stored = conn.execute(
            select(journals.c.idempotency_key, journals.c.result).where(
                journals.c.tenant_id == tenant
            )
        ).all()
        assert {k: json.loads(r)["order_ref"] for k, r in stored} == {f"k{n}": n for n in names}


def test_write_state_refuses_an_unknown_column(store: Store, tenant: str) -> None:
    with store.transaction() as conn, pytest.raises(ValueError, match="not columns"):
        store.write_state(conn, tenant, {"pool; DROP TABLE holders": 1})
    with store.read() as conn:
        assert store.load_state(conn, tenant)[1] == 0


def test_commit_batch_writes_a_batch_in_one_pipeline_and_a_failure_leaves_nothing(
    store: Store, tenant: str
) -> None:
    if not store.postgres:
        pytest.skip("one pipeline of prepared statements for a whole batch: PostgreSQL's committer")
    # given a batch of purchases by holders whose names need quoting, applied to a book
    names = [n for n in AWKWARD if n.strip()]
    with store.engine.connect() as conn:
        with conn.begin():
            book = load_book(store, conn, tenant)
            for n in names:
                book.apply(
                    c.Purchase(tenant_id=tenant, idempotency_key=f"k{n}", user=n, amount_fen=10_000)
                )
        rows = book.take_batch()
        prepared = store.prepare_batch(tenant, rows)
        assert prepared is not None
        # when the session has a transaction open, nothing is done
        conn.exec_driver_sql("SELECT 1")
        assert store.commit_batch(conn, tenant, rows, prepared) is False
        conn.rollback()
        # and when it has none, the batch is written and committed, announced before it is sent
        # (its parameters bound beforehand, as the overlapping writer does on its own thread)
        bound = store.bind_batch(prepared)
        sent: list[int] = []
        assert store.commit_batch(
            conn, tenant, rows, prepared, on_send=lambda: sent.append(1), bound=bound
        )
        assert sent == [1]
    # then every name and journal reads back, and the ledger is whole
    with store.read() as conn:
        assert sorted(store.find_journals(conn, tenant, [f"k{n}" for n in names])) == sorted(
            f"k{n}" for n in names
        )
        assert {h.name for h in store.load_holders(conn, tenant, names)} == set(names)
    assert clean(audit(store, tenant))
    # and the same batch again (its journal ids are taken) fails, leaving nothing behind and
    # the session usable
    before = snapshot(store, tenant)
    with store.engine.connect() as conn:
        with pytest.raises(Exception, match="duplicate key") as failed:
            store.commit_batch(conn, tenant, rows, prepared)
        assert failed.value.sqlstate == "23505"  # psycopg's error, as the writer reads it
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        conn.rollback()
        assert snapshot(store, tenant) == before
        # and the next batch on that session (its statements prepared by the failed one) commits
        with conn.begin():
            book = load_book(store, conn, tenant)
            book.apply(
                c.Purchase(tenant_id=tenant, idempotency_key="after", user="z", amount_fen=5_000)
            )
        rows = book.take_batch()
        prepared = store.prepare_batch(tenant, rows)
        assert prepared is not None
        assert store.commit_batch(conn, tenant, rows, prepared)
    with store.read() as conn:
        assert list(store.find_journals(conn, tenant, ["after"])) == ["after"]
    assert clean(audit(store, tenant))


def test_the_citus_batch_call_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/switch.db"
    assert Store.open(url).citus_batch_call is True
    monkeypatch.setenv("TOKENMALL_CITUS_BATCH_CALL", "false")
    assert Store.open(url).citus_batch_call is False
