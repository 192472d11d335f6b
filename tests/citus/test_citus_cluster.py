"""The schema on the 3-node cluster: distributed by tenant, tenants on both workers, a writer
batch on one shard, and bad configurations refused with nothing migrated."""

from __future__ import annotations

import json
import threading
import time
import uuid

import cluster
import psycopg
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tokenmall.adapters.db import citus
from tokenmall.adapters.db.store import Store
from tokenmall.cli.main import app
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit
from tokenmall.services.ledger.execute import execute
from tokenmall.services.writers.pool import WriterPool

runner = CliRunner()
REFERENCE = {"mall_operators", "mall_operator_sessions"}


def new_tenant(store: Store) -> str:
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    with store.transaction() as conn:
        store.create_tenant(conn, tenant_id)
    return tenant_id


def test_upgrade_distributes_every_tenant_table_colocated(db_url: str, store: Store) -> None:
    with store.engine.connect() as conn:
        tables = dict(
            conn.execute(
                text(
                    "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute AS a"
                    " WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')"
                    " FROM pg_class AS c WHERE c.relnamespace = 'public'::regnamespace"
                    " AND c.relkind = 'r'"
                )
            ).all()
        )
        citus_tables = {
            str(name): (str(kind), key, int(group))
            for name, kind, key, group in conn.execute(
                text(
                    "SELECT logicalrelid::regclass::text, partmethod,"
                    " column_to_column_name(logicalrelid, partkey), colocationid"
                    " FROM pg_dist_partition"
                )
            ).all()
        }
    root_group = citus_tables["tenants"][2]
    keyed = {name for name, has_tenant in tables.items() if has_tenant}
    # every table keyed by tenant is hash-distributed by tenant_id, in the tenants' group
    assert keyed
    assert all(citus_tables[t] == ("h", "tenant_id", root_group) for t in keyed)
    # the platform's own tables are copied to every node; Alembic's stays on the coordinator
    assert {t for t, (kind, _, _) in citus_tables.items() if kind == "n"} == REFERENCE
    assert set(tables) - keyed == REFERENCE | {"alembic_version"}
    # and upgrading again changes nothing and says where the schema is
    result = runner.invoke(app, ["db", "upgrade", "--database", db_url, "--citus"])
    assert result.exit_code == 0, result.output
    assert "already current" in result.output
    assert f"{len(keyed)} tables distributed by tenant_id, 2 reference tables" in result.output


def test_tenants_land_on_both_workers_with_all_their_rows(store: Store) -> None:
    tenants = [new_tenant(store) for _ in range(8)]
    with WriterPool(store) as pool:
        for n, tenant in enumerate(tenants):
            pool.call(
                c.Purchase(tenant_id=tenant, idempotency_key=f"p{n}", user="ann", amount_fen=10_000)
            )
    with store.engine.connect() as conn:
        placement = {t: citus.tenant_worker(conn, t) for t in tenants}
        # every table's rows of a tenant are on the worker of its shard group
        for tenant, (_, worker) in placement.items():
            for table in ("holders", "journals", "postings", "economy_state"):
                nodes = (
                    conn.execute(
                        text(
                            "SELECT DISTINCT n.nodeport FROM pg_dist_shard AS s"
                            " JOIN pg_dist_placement AS p ON p.shardid = s.shardid"
                            " JOIN pg_dist_node AS n ON n.groupid = p.groupid"
                            " WHERE s.shardid ="
                            f" get_shard_id_for_distribution_column('{table}', CAST(:t AS text))"
                        ),
                        {"t": tenant},
                    )
                    .scalars()
                    .all()
                )
                assert nodes == [worker.port], (tenant, table)
    workers = {w.port for w in cluster.workers()}
    assert {worker.port for _, worker in placement.values()} == workers
    assert all(audit(store, tenant)[0].findings == [] for tenant in tenants)


def test_a_writer_batch_commits_on_one_worker_without_two_phase_commit(store: Store) -> None:
    # given two tenants on different workers
    tenants: dict[int, str] = {}
    with store.engine.connect() as conn:
        while len(tenants) < 2:
            tenant = new_tenant(store)
            tenants.setdefault(citus.tenant_worker(conn, tenant)[1].port, tenant)
    first, second = tenants.values()

    def prepared() -> int:
        with psycopg.connect(cluster.libpq(str(store.engine.url))) as raw:
            found = raw.execute("SELECT count(*) FROM pg_dist_transaction").fetchone()
        assert found is not None
        return int(found[0])

    # when a transaction writes to both tenants, Citus commits it in two phases (the control)
    before = prepared()
    with store.transaction() as conn:
        for tenant in (first, second):
            conn.execute(
                text("UPDATE economy_state SET pool = pool WHERE tenant_id = :t"),
                {"t": tenant},
            )
    assert prepared() > before
    # and a writer's batch of one tenant is a single-shard transaction: no second phase
    before = prepared()
    with WriterPool(store) as pool:
        futures = [
            pool.submit(
                c.Purchase(
                    tenant_id=first, idempotency_key=f"b{n}", user=f"u{n % 5}", amount_fen=1_000 + n
                )
            )
            for n in range(40)
        ]
        results = [f.result(timeout=30) for f in futures]
    assert len(results) == 40
    assert prepared() == before
    with store.read() as conn:
        assert len(store.find_journals(conn, first, [f"b{n}" for n in range(40)])) == 40
    assert audit(store, first)[0].findings == []


def _fresh(prefix: str) -> str:
    return cluster.create_database(prefix)


def _tables(url: str) -> int:
    with psycopg.connect(cluster.libpq(url)) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert found is not None
    return int(found[0])


@pytest.mark.usefixtures("cluster_ready")
def test_a_coordinator_without_workers_is_refused_and_nothing_migrated() -> None:
    url = _fresh("c_noworkers")
    try:
        with psycopg.connect(cluster.libpq(url), autocommit=True) as conn:
            for worker in cluster.workers():
                conn.execute("SELECT citus_remove_node(%s, %s)", (worker.host, worker.port))
        result = runner.invoke(app, ["db", "upgrade", "--database", url])
        assert result.exit_code == 2
        assert "has no workers" in result.output
        assert "citus_add_node" in result.output
        assert _tables(url) == 0
    finally:
        cluster.drop_database(url)


@pytest.mark.usefixtures("cluster_ready")
def test_a_worker_down_is_refused_by_name_and_nothing_migrated() -> None:
    url = _fresh("c_workerdown")
    try:
        with psycopg.connect(cluster.libpq(url), autocommit=True) as conn:
            # the coordinator's record of a worker now names a port nobody listens on
            conn.execute("UPDATE pg_dist_node SET nodeport = 1 WHERE groupid = 2")
        result = runner.invoke(app, ["db", "upgrade", "--database", url])
        assert result.exit_code == 2
        assert "127.0.0.1:1" in result.output
        assert "does not answer" in result.output
        assert _tables(url) == 0
    finally:
        cluster.drop_database(url)


@pytest.mark.usefixtures("cluster_ready")
def test_citus_asked_for_on_plain_postgresql_is_refused() -> None:
    url = _fresh("c_plain")
    try:
        with psycopg.connect(cluster.libpq(url), autocommit=True) as conn:
            conn.execute("DROP EXTENSION citus")
        result = runner.invoke(app, ["db", "upgrade", "--database", url, "--citus"])
        assert result.exit_code == 2
        assert "no citus extension" in result.output
        assert "CREATE EXTENSION citus" in result.output
        assert _tables(url) == 0
    finally:
        cluster.drop_database(url)


def test_the_ledger_bench_names_each_tenants_worker(db_url: str, store: Store) -> None:
    result = runner.invoke(
        app,
        [
            "bench",
            "ledger",
            "--database",
            db_url,
            "--clients",
            "2",
            "--tenants",
            "1,2",
            "--seconds",
            "0.2",
            "--holders",
            "",
            "--paths",
            "writer",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    workers = {str(w.port) for w in cluster.workers()}
    assert {p.rsplit(":", 1)[1] for p in report["citus"]["workers"]} == workers
    assert [(r["clients"], r["tenants"]) for r in report["results"]] == [(2, 1), (2, 2)]
    for r in report["results"]:
        assert set(r) == {"path", "clients", "tenants", "purchases_per_second", "workers"}
        assert len(r["workers"]) == r["tenants"]
        assert {w.rsplit(":", 1)[1] for w in r["workers"].values()} <= workers
        with store.engine.connect() as conn:
            for tenant, worker in r["workers"].items():
                assert str(citus.tenant_worker(conn, tenant)[1]) == worker


def test_a_tenant_moves_to_the_other_worker_while_its_writer_books(
    db_url: str, store: Store
) -> None:
    # given a tenant whose writer books purchases all along
    tenant = new_tenant(store)
    with store.engine.connect() as conn:
        _, source = citus.tenant_worker(conn, tenant)
    (target,) = [w for w in cluster.workers() if w.port != source.port]
    acknowledged: list[str] = []
    stop = threading.Event()

    def book(pool: WriterPool) -> None:
        n = 0
        while not stop.is_set():
            key = f"m{n}"
            pool.call(
                c.Purchase(
                    tenant_id=tenant, idempotency_key=key, user=f"u{n % 7}", amount_fen=1_000 + n
                ),
                timeout=60,
            )
            acknowledged.append(key)
            n += 1

    with WriterPool(store) as pool:
        booker = threading.Thread(target=book, args=(pool,))
        booker.start()
        try:
            while len(acknowledged) < 5:
                time.sleep(0.05)
            # when its shard group moves to the other worker with the documented command
            result = runner.invoke(
                app,
                [
                    "db",
                    "move-tenant",
                    tenant,
                    "--to",
                    f"{target.host}:{target.port}",
                    "--database",
                    db_url,
                ],
            )
            assert result.exit_code == 0, result.output
            during = len(acknowledged)
            while len(acknowledged) < during + 5:
                time.sleep(0.05)
        finally:
            stop.set()
            booker.join(timeout=60)
    # then it lives on the other worker, every acknowledged purchase is there, audit is clean
    assert f"moved from {source} to {target.host}:{target.port}" in result.output
    with store.engine.connect() as conn:
        assert citus.tenant_worker(conn, tenant)[1].port == target.port
    with store.read() as conn:
        found = store.find_journals(conn, tenant, acknowledged)
    assert len(found) == len(acknowledged)
    assert audit(store, tenant)[0].findings == []
    # and moving it where it already is changes nothing
    again = runner.invoke(
        app,
        ["db", "move-tenant", tenant, "--to", f"{target.host}:{target.port}", "--database", db_url],
    )
    assert again.exit_code == 0
    assert "already on" in again.output


def test_a_sale_and_a_buyback_to_a_payee_are_booked_on_the_shard(store: Store) -> None:
    # (the codes the imported suites do not book: a primary sale, a buyback paid to a payee)
    tenant = new_tenant(store)
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="ann", amount_fen=50_000))
    execute(
        store,
        c.ReceiveSale(
            tenant_id=tenant, idempotency_key="s", user="bob", order_ref="o1", amount_fen=1_999
        ),
    )
    held = execute(store, c.Sell(tenant_id=tenant, idempotency_key="x", user="ann", units=10**8))
    assert held is not None
    execute(
        store, c.SellTo(tenant_id=tenant, idempotency_key="y", user="ann", units=10**8, payee="bob")
    )
    with store.read() as conn:
        codes = set(
            conn.execute(
                text("SELECT code FROM journals WHERE tenant_id = :t"), {"t": tenant}
            ).scalars()
        )
    assert {"purchase", "sale", "buyback"} <= codes
    assert audit(store, tenant)[0].findings == []


@pytest.mark.usefixtures("cluster_ready")
def test_later_migrations_run_on_a_distributed_schema_and_distribute_new_tables() -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from tokenmall.adapters.db import migrate

    url = cluster.create_database("c_later")
    engine = create_engine(url)
    try:
        # given a schema distributed at an older revision
        cfg = migrate.config()
        cfg.attributes["citus_shard_count"] = 32  # several connections a worker: parallel DDL
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0025_postings_by_holder")
        with engine.connect() as conn:
            before = conn.execute(text("SELECT count(*) FROM pg_dist_partition")).scalar_one()
        # when the rest of the migrations run on it
        result = runner.invoke(app, ["db", "upgrade", "--database", url])
        assert result.exit_code == 0, result.output
        # then every table is distributed, the new ones too, and the ledger still books
        with engine.connect() as conn:
            after = conn.execute(text("SELECT count(*) FROM pg_dist_partition")).scalar_one()
            assert not citus.needs_distribution(conn)
        assert after > before
        store = Store.open(url)
        try:
            tenant = new_tenant(store)
            execute(
                store,
                c.Purchase(tenant_id=tenant, idempotency_key="p", user="ann", amount_fen=10_000),
            )
            assert audit(store, tenant)[0].findings == []
        finally:
            store.dispose()
    finally:
        engine.dispose()
        cluster.drop_database(url)
