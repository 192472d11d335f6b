"""The writer's batch call sent straight to the tenant's worker (``citus_direct``): booked
there, safe against a shard move while it books, a stale route refused and re-routed, and the
coordinator's path when a worker cannot be reached."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import cluster
import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tokenmall.adapters.db import citus
from tokenmall.adapters.db.citus_direct import worker_params
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit
from tokenmall.services.writers.pool import WriterPool


def new_tenant(store: Store) -> str:
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    with store.transaction() as conn:
        store.create_tenant(conn, tenant_id)
    return tenant_id


def buy(tenant: str, key: str, n: int) -> c.Purchase:
    return c.Purchase(tenant_id=tenant, idempotency_key=key, user=f"u{n % 7}", amount_fen=900 + n)


def book(store: Store, tenant: str, keys: list[str]) -> None:
    """Book a purchase under each key through a writer (many at once, so batches overlap)."""
    with WriterPool(store) as pool:
        futures = [pool.submit(buy(tenant, key, n)) for n, key in enumerate(keys)]
        for future in futures:
            future.result(timeout=60)


def book_until(
    store: Store, tenant: str, done: Callable[[list[str]], bool], prefix: str
) -> list[str]:
    """Book purchases from 8 callers at once (so the writer's batches overlap and go to the
    committer) until ``done(the keys acknowledged so far)``; the acknowledged keys."""
    acknowledged: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def client(pool: WriterPool, lane: int) -> None:
        n = 0
        try:
            while not stop.is_set():
                key = f"{prefix}{lane}-{n}"
                pool.call(buy(tenant, key, n), timeout=60)
                acknowledged.append(key)
                n += 1
        except BaseException as error:  # (reported below)
            failures.append(error)

    with WriterPool(store) as pool:
        clients = [threading.Thread(target=client, args=(pool, lane)) for lane in range(8)]
        for thread in clients:
            thread.start()
        try:
            deadline = time.monotonic() + 60
            while not done(acknowledged) and not failures:
                assert time.monotonic() < deadline
                time.sleep(0.01)
        finally:
            stop.set()
            for thread in clients:
                thread.join(timeout=60)
    assert failures == []
    return acknowledged


def placed(store: Store, tenant: str) -> tuple[citus.Worker, str]:
    """The tenant's worker and the name of its journals' shard."""
    with store.engine.connect() as conn:
        worker = citus.tenant_worker(conn, tenant)[1]
        shard = conn.execute(
            text("SELECT ledger_shard('public', 'journals', :t)"), {"t": tenant}
        ).scalar_one()
    return worker, str(shard)


def neighbours(store: Store) -> tuple[str, str]:
    """Two new tenants in two shard groups on one worker. The earlier tests' moves may leave
    one worker a single group; with four groups on two workers the other has two or more."""
    groups: dict[citus.Worker, dict[str, str]] = {}
    for _ in range(64):
        tenant = new_tenant(store)
        worker, shard = placed(store, tenant)
        groups.setdefault(worker, {}).setdefault(shard, tenant)
        for found in groups.values():
            if len(found) >= 2:
                first, second = list(found.values())[:2]
                return first, second
    raise AssertionError(f"no worker holds two shard groups: {groups}")


def on_worker(store: Store, worker: citus.Worker, sql: str, *args: Any) -> Any:
    with psycopg.connect(**worker_params(make_url(str(store.engine.url)), worker)) as raw:
        row = raw.execute(sql, args).fetchone()
    return None if row is None else row[0]


def shard_rows(store: Store, worker: citus.Worker, shard: str, tenant: str) -> int | None:
    """The tenant's rows in ``shard`` on ``worker``; None when the shard is not there."""
    if not on_worker(store, worker, "SELECT to_regclass(%s) IS NOT NULL", shard):
        return None
    sql = f"SELECT count(*) FROM {shard} WHERE tenant_id = %s"
    return int(on_worker(store, worker, sql, tenant))


def booked(store: Store, tenant: str, keys: list[str]) -> int:
    with store.read() as conn:
        return len(store.find_journals(conn, tenant, keys))


def test_the_writer_books_straight_on_its_tenants_worker(store: Store) -> None:
    # given a tenant and the store's direct routes
    assert store.direct is not None
    tenant = new_tenant(store)
    worker, shard = placed(store, tenant)
    sent = dict(store.direct.sent)
    # when its writer books purchases, many at once
    keys = [f"d{n}" for n in range(60)]
    book(store, tenant, keys)
    # then batches went straight to its worker and none to another
    assert store.direct.sent[str(worker)] > sent.get(str(worker), 0)
    others = {w for w in store.direct.sent if w != str(worker)}
    assert all(store.direct.sent[w] == sent.get(w, 0) for w in others)
    assert not store.direct.refused
    # and every purchase is in the tenant's shard on that worker, the audit clean
    assert shard_rows(store, worker, shard, tenant) == 60
    assert booked(store, tenant, keys) == 60
    assert audit(store, tenant)[0].findings == []


def test_a_tenant_moved_while_its_writer_books_directly_loses_nothing(
    db_url: str, store: Store
) -> None:
    from typer.testing import CliRunner

    from tokenmall.cli.main import app

    # given a tenant whose writer books straight on its worker all along
    assert store.direct is not None
    tenant = new_tenant(store)
    source, _ = placed(store, tenant)
    (target,) = [citus.Worker(w.host, w.port) for w in cluster.workers() if w.port != source.port]
    moved: list[int] = []  # the purchases acknowledged when the move was done

    def done(acknowledged: list[str]) -> bool:
        assert store.direct is not None
        if not moved:
            if store.direct.sent[str(source)] < 3:
                return False
            # when its shard group moves to the other worker with the documented command
            where = ["--database", db_url]
            result = CliRunner().invoke(
                app, ["db", "move-tenant", tenant, "--to", str(target), *where]
            )
            assert result.exit_code == 0, result.output
            moved.append(len(acknowledged))
            return False
        return store.direct.sent[str(target)] >= 3 and len(acknowledged) >= moved[0] + 20

    acknowledged = book_until(store, tenant, done, "m")
    # then the call sent to the old worker was refused there and the writer re-routed
    assert store.direct.refused[str(source)] >= 1
    assert store.direct.worker_of(tenant) == target
    # and every acknowledged purchase is on the new worker, the audit clean
    assert placed(store, tenant)[0] == target
    assert booked(store, tenant, acknowledged) == len(acknowledged)
    assert audit(store, tenant)[0].findings == []


def test_a_stale_route_is_refused_and_re_routed_not_written_on_the_old_placement(
    store: Store,
) -> None:
    # given a tenant with purchases, moved to the other worker (its old shards not yet dropped)
    assert store.direct is not None
    tenant = new_tenant(store)
    book(store, tenant, [f"a{n}" for n in range(10)])
    source, shard = placed(store, tenant)
    (target,) = [citus.Worker(w.host, w.port) for w in cluster.workers() if w.port != source.port]
    citus.move_tenant(store.engine, tenant, str(target))
    before = shard_rows(store, source, shard, tenant)
    # when the writer's route still names the old worker (forced)
    store.direct.route(tenant, source)
    refused = store.direct.refused[str(source)]
    sent = store.direct.sent[str(target)]
    direct = store.direct
    keys = book_until(
        store,
        tenant,
        lambda _: direct.refused[str(source)] > refused and direct.sent[str(target)] > sent,
        "b",
    )
    # then the old worker refused the call, nothing was written on its old placement
    assert shard_rows(store, source, shard, tenant) in (before, None)
    # and the writer re-routed to the new worker, where every purchase is
    assert store.direct.worker_of(tenant) == target
    assert shard_rows(store, target, shard, tenant) == 10 + len(keys)
    assert booked(store, tenant, keys) == len(keys)
    assert audit(store, tenant)[0].findings == []


def test_a_worker_that_cannot_be_reached_leaves_the_calls_to_the_coordinator(
    store: Store,
) -> None:
    # given a store whose direct route names a worker nobody listens on
    tenant = new_tenant(store)
    lost = Store(store.engine, citus_direct=True)
    assert lost.direct is not None
    nowhere = citus.Worker("127.0.0.1", 1)
    lost.direct.route(tenant, nowhere)
    # when its writer books
    keys = [f"c{n}" for n in range(40)]
    book(lost, tenant, keys)
    # then every purchase is booked through the coordinator, none sent directly
    assert not lost.direct.sent
    assert booked(store, tenant, keys) == 40
    assert audit(store, tenant)[0].findings == []
    lost.direct.close()


def test_direct_routes_derive_the_worker_url_from_the_coordinators() -> None:
    url = make_url("postgresql+psycopg://app:secret@coordinator:5432/mall?sslmode=require")
    params = worker_params(url, citus.Worker("10.0.0.7", 6432))
    assert {k: params[k] for k in ("host", "port", "dbname", "user", "password", "sslmode")} == {
        "host": "10.0.0.7",
        "port": 6432,
        "dbname": "mall",
        "user": "app",
        "password": "secret",
        "sslmode": "require",
    }


def test_an_upgrade_replaces_a_batch_function_that_does_not_check_its_placement(
    store: Store,
) -> None:
    from tokenmall.adapters.db import citus_batch, migrate

    # given the batch function of an older version (no placement check), on every node
    with store.engine.begin() as conn:
        conn.execute(text(citus_batch.function_sql().replace(citus_batch.MARKER, "older")))
    with store.engine.connect() as conn:
        assert not citus_batch.installed(conn)
    # when the schema is upgraded, then the function is the current one again
    assert migrate.upgrade(store.engine)
    with store.engine.connect() as conn:
        assert citus_batch.installed(conn)
    for worker in cluster.workers():
        node = citus.Worker(worker.host, worker.port)
        found = on_worker(
            store,
            node,
            "SELECT position(%s in prosrc) > 0 FROM pg_proc WHERE proname = %s",
            citus_batch.MARKER,
            "ledger_write_batch",
        )
        assert found is True


def test_stale_shard_names_are_refused_and_nothing_is_written_under_them(store: Store) -> None:
    # given a tenant booking straight on its worker, and another tenant's shard group there
    direct = store.direct
    assert direct is not None
    tenant, other = neighbours(store)
    book(store, tenant, [f"n{n}" for n in range(10)])
    worker, shard = placed(store, tenant)
    known = direct._shards[tenant]
    book(store, other, ["o0", "o1"])
    foreign = direct._shards[other]
    # when the writer's shard names of the tenant are that group's (as after a split renamed
    # the tenant's shards)
    direct._shards[tenant] = foreign
    refused = direct.refused[str(worker)]
    keys = [f"s{n}" for n in range(30)]
    book(store, tenant, keys)
    # then the worker refused the batch, nothing of the tenant is in the other group's shards
    assert direct.refused[str(worker)] > refused
    assert shard_rows(store, worker, foreign.names["journals"], tenant) == 0
    # and the next batches go straight to the worker again under names read again
    sent = direct.sent[str(worker)]
    more = [f"t{n}" for n in range(30)]
    book(store, tenant, more)
    assert direct.sent[str(worker)] > sent
    assert direct._shards[tenant] == known
    # and every purchase is booked in the tenant's own shards
    assert shard_rows(store, worker, shard, tenant) == 70
    assert booked(store, tenant, keys + more) == 60
    assert audit(store, tenant)[0].findings == []
