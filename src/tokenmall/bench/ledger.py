"""Workloads for ``tokenmall bench ledger``: booked purchases per second on ONE tenant.

Two paths book the same purchases: ``writer`` (the tenant's writer, group commit) and
``rowlock`` (``services.ledger.execute``: one transaction per purchase under the tenant's row
lock, the naive baseline). Each step uses a fresh tenant and N clients that each submit a
purchase, wait for its acknowledgement (after commit) and submit the next, for a fixed time.
The writer's clients are coroutines on one event loop, as an API process's handlers are
(``--callers threads``: one thread each); the row lock's are threads (blocking transactions).
The dividend day is timed on a tenant whose holders are bulk-loaded straight into the holders
table (COPY on PostgreSQL), then settled by ``services.ledger.settlement.settle``.

Every run creates new tenants: point it at a scratch database. Seconds are wall-clock figures
for people to read (``time.perf_counter``); no test asserts them.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from tokenmall.adapters.db import citus as placement
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.execute import execute
from tokenmall.services.ledger.settlement import settle
from tokenmall.services.process import freeze_startup_objects
from tokenmall.services.writers.pool import WriterPool

PATHS = ("writer", "rowlock")
CALLERS = ("async", "threads")
USERS_PER_CLIENT = 50


def new_tenant(store: Store, label: str) -> str:
    tenant_id = f"bench-{label}-{uuid.uuid4().hex[:10]}"
    with store.transaction() as conn:
        store.create_tenant(conn, tenant_id)
    return tenant_id


def purchases_per_second(
    store: Store,
    path: str,
    clients: int,
    seconds: float,  # float-ok: time
    callers: str = "async",
) -> float:  # float-ok: time
    """Acknowledged purchases per second with ``clients`` callers on one fresh tenant.

    The writer's callers are coroutines on one event loop by default (``callers="async"``),
    as an API process's request handlers are (``WriterPool.call_async``); with
    ``"threads"`` each is a thread blocked on its ``Future`` (``WriterPool.call``). The row
    lock's callers are always threads: each holds a connection through a blocking
    transaction."""
    return step(store, path, clients, seconds, callers)[0]


def step(
    store: Store,
    path: str,
    clients: int,
    seconds: float,  # float-ok: time
    callers: str = "async",
    tenants: int = 1,
) -> tuple[float, list[str]]:  # float-ok: time
    """``purchases_per_second`` over ``tenants`` fresh tenants (client ``n`` buys from tenant
    ``n % tenants``, each tenant with its own writer); the rate and the tenants."""
    if callers not in CALLERS:
        raise ValueError(f"callers must be one of {', '.join(CALLERS)}")
    ids = [new_tenant(store, f"{path}{clients}") for _ in range(tenants)]
    if path == "writer" and callers == "async":
        with WriterPool(store) as writers:
            for tenant in ids:
                writers.call(_purchase(tenant, "warm", "w", 100))
            return asyncio.run(_coroutine_callers(writers, ids, clients, seconds)), ids
    pool = WriterPool(store) if path == "writer" else None
    book: Callable[[c.Command], Any]
    book = pool.call if pool is not None else (lambda command: execute(store, command))
    counts = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(n: int) -> None:
        rng = random.Random(n)
        start.wait()
        i = 0
        while not stop.is_set():
            book(_client_purchase(ids[n % tenants], n, i, rng))
            i += 1
        counts[n] = i

    try:
        for tenant in ids:
            book(_purchase(tenant, "warm", "w", 100))
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        if pool is not None:
            pool.close()
    return sum(counts) / elapsed, ids


async def _coroutine_callers(
    pool: WriterPool,
    tenants: list[str],
    clients: int,
    seconds: float,  # float-ok: time
) -> float:  # float-ok: time
    counts = [0] * clients
    running = True

    async def client(n: int) -> None:
        rng = random.Random(n)
        tenant = tenants[n % len(tenants)]
        i = 0
        while running:
            await pool.call_async(_client_purchase(tenant, n, i, rng))
            i += 1
        counts[n] = i

    tasks = [asyncio.create_task(client(n)) for n in range(clients)]
    began = time.perf_counter()
    await asyncio.sleep(seconds)
    running = False
    await asyncio.gather(*tasks)
    return sum(counts) / (time.perf_counter() - began)


def _client_purchase(tenant: str, n: int, i: int, rng: random.Random) -> c.Purchase:
    """Client ``n``'s ``i``-th purchase: one of its 50 users, an amount from 10 to 2,000 yuan."""
    return _purchase(
        tenant, f"{n}-{i}", f"c{n}u{i % USERS_PER_CLIENT}", rng.randrange(1_000, 200_000)
    )


def _purchase(tenant: str, key: str, user: str, amount_fen: int) -> c.Purchase:
    return c.Purchase(tenant_id=tenant, idempotency_key=key, user=user, amount_fen=amount_fen)


def dividend_day_seconds(store: Store, holders: int, seed: int = 11) -> float:  # float-ok: time
    """Settle one day for ``holders`` bulk-loaded holders with quota left; seconds taken."""
    tenant = new_tenant(store, f"day{holders}")
    rng = random.Random(seed)
    total_points = 0
    rows: list[tuple[Any, ...]] = []
    for i in range(holders):
        spend = rng.randrange(10_000, 1_000_000)
        points = rng.randrange(1, 10**10)
        total_points += points
        # tenant, name, points, cash, stable, quota, quota_used, spend, dividends, exited,
        # merchant, points_seq
        rows.append(
            (
                tenant,
                f"h{i:07d}",
                points,
                0,
                0,
                2 * spend,
                rng.randrange(0, spend),
                spend,
                0,
                False,
                False,
                i,
            )
        )
    _load_holders(store, rows)
    pool = total_points // 10**8  # points priced well below anyone's remaining quota
    with store.transaction() as conn:
        conn.execute(
            economy_state.update()
            .where(economy_state.c.tenant_id == tenant)
            .values(
                pool=pool,
                circulating=total_points,
                minted=total_points,
                dividend_pool=holders * 1_000,
                money_in=pool + holders * 1_000,
                seq=holders,
            )
        )
    began = time.perf_counter()
    settle(store, tenant, date(2026, 1, 1))
    return time.perf_counter() - began


_HOLDER_COLUMNS = (
    "tenant_id",
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
    "points_seq",
)


def _load_holders(store: Store, rows: list[tuple[Any, ...]]) -> None:
    columns = ", ".join(_HOLDER_COLUMNS)
    with store.transaction() as conn:
        if store.postgres:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur, cur.copy(f"COPY holders ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in _HOLDER_COLUMNS)
            conn.exec_driver_sql(f"INSERT INTO holders ({columns}) VALUES ({marks})", rows)
    if store.postgres:
        # A live table has been vacuumed and analysed by autovacuum (statistics, hint bits,
        # the visibility map); a freshly bulk-loaded one not yet: its first scan would write
        # every page again to set the hint bits (a large part of a big day's first statement).
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) holders")


def run(
    url: str,
    clients: Iterable[int],
    seconds: float,  # float-ok: seconds or a rate of time, never money
    holders: Iterable[int],
    paths: Iterable[str] = PATHS,
    progress: Callable[[str], None] | None = None,
    callers: str = "async",
    tenants: Iterable[int] | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """The whole benchmark as the ``--json`` object.

    ``tenants``: tenant counts to spread the clients over (each result then says how many).
    On a Citus coordinator each result names the worker of each tenant, and the report the
    cluster. ``baseline``: another database (one plain PostgreSQL) timed right after each
    step with the same clients and tenants, A then B, so that both see the same machine;
    each result then carries its rate and the ratio of the two."""
    clients = list(clients)
    counts = list(tenants) if tenants is not None else [1]
    size = max(clients, default=1) + 4
    store = Store.open(url, pool_size=size)
    other = Store.open(baseline, pool_size=size) if baseline else None
    freeze_startup_objects()  # as a process hosting the writers in production does
    results: list[dict[str, Any]] = []
    days: dict[str, float] = {}
    report: dict[str, Any] = {}
    try:
        cluster = placement.cluster(store.engine)
        for path in paths:
            for t in counts:
                for n in clients:
                    rate, ids = step(store, path, n, seconds, callers, t)
                    result: dict[str, Any] = {
                        "path": path,
                        "clients": n,
                        "purchases_per_second": round(rate),
                    }
                    if tenants is not None:
                        result["tenants"] = t
                    if cluster is not None:
                        result["workers"] = placement.workers_of(store.engine, ids)
                    line = f"{path:8} {n:3} clients, {t} tenant(s): {rate:,.0f} purchases/s"
                    if other is not None:
                        base, _ = step(other, path, n, seconds, callers, t)
                        result["baseline_purchases_per_second"] = round(base)
                        result["ratio"] = round(rate / base, 3) if base else None
                        line += f" (baseline {base:,.0f}/s)"
                    results.append(result)
                    if progress:
                        progress(line)
        for count in holders:
            days[str(count)] = round(dividend_day_seconds(store, count), 3)
            if progress:
                progress(f"dividend day, {count:,} holders: {days[str(count)]:.3f} s")
    finally:
        store.dispose()
        if other is not None:
            other.dispose()
    report = {"results": results, "dividend_day_seconds": days}
    if cluster is not None:
        report["citus"] = cluster
    return report
