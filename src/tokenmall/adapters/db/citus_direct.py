"""The writer's batch sent straight to the tenant's worker (Citus, ``citus_direct``).

Through the coordinator, ``SELECT ledger_write_batch(…)`` is planned there and forwarded to the
tenant's worker: a second hop and the coordinator's work on every batch, and on the worker the
function's ``EXECUTE``s parsed, analysed and planned again in every call. ``DirectRoutes``
sends the batch over a connection to the worker that holds the tenant's shard group as ONE
implicit transaction of its own statements, each prepared once per session as on plain
PostgreSQL (``fast.commit_pipelined``):

- ``ledger_batch_here(tenant, group_shard)`` (``citus_batch.HERE_SQL``): the shard group's
  metadata lock that a shard move or split takes exclusively, then a check in the worker's own
  metadata that the tenant's shard of ``tenants`` is still ``group_shard`` and is placed on
  this node; else ``NOT_HERE``, nothing written. From there to the commit the placement and the
  shard names stand;
- the batch's inserts and state update on the tenant's shards (``on_shards``: the plain
  statements with the table names replaced by the shard names, read once per tenant from the
  worker's metadata with ``ledger_shard``, ``Shards``), whose triggers run as through the call;
- ``SET CONSTRAINTS ALL IMMEDIATE``: the deferred balance check before the commit, a refusal
  is the transaction's error.

A key already booked is refused by the journals' unique key (the shard's constraint): the
writer does the batch again with every key looked up, as on plain PostgreSQL. A refused batch
(``NOT_HERE``) is forgotten here with the tenant's shard names (the next batch of the tenant
reads its placement from the coordinator again) and sent through the coordinator at once, as
every batch is when direct routing is unavailable.

Where a tenant is: the coordinator's ``pg_dist_placement`` of its shard of ``tenants`` and
``pg_dist_node``'s ``nodename:nodeport`` of that group (``citus.tenant_worker``), read once and
again after a refusal. How to reach it: the coordinator's URL with that host and port, its user,
password, database and query options kept (a cluster's nodes share the database and the
application's role). Connections: per worker and per process a pool of at most ``connections``
(``citus_direct_connections``), opened as batches overlap and shared by every tenant writer of
the process, never one per tenant. (With one, the worker's tenants commit one after the other.)

Unavailable (nothing sent, the caller goes through the coordinator): a worker that does not
answer a connection or lacks the current ``ledger_write_batch`` or ``ledger_batch_here``
(tried again after ``RETRY_SECONDS``), a placement that cannot be read. A batch that fails after
it was sent is the caller's error, as through the coordinator (the writer does the batch again
with every key looked up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from tokenmall.adapters.db import citus, citus_batch, fast

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # float-ok: time (a worker that failed to connect is left alone this long)
CONNECT_SECONDS = 3
APPLICATION_NAME = "tokenmall-direct"


class NotReady(Exception):
    """A worker that cannot take direct batches (it has older batch functions)."""


def worker_params(url: URL, worker: citus.Worker) -> dict[str, Any]:
    """libpq parameters of ``worker`` from the coordinator's ``url`` (module doc)."""
    params: dict[str, Any] = {
        key: value for key, value in url.query.items() if isinstance(value, str)
    }
    params.update(
        host=worker.host,
        port=worker.port,
        dbname=url.database,
        user=url.username,
        password=url.password,
        connect_timeout=CONNECT_SECONDS,
        application_name=APPLICATION_NAME,
    )
    return {key: value for key, value in params.items() if value is not None}


@dataclass(frozen=True)
class Shards:
    """A tenant's shard group as its batch names it: the shard of ``tenants`` and the
    qualified names of its shards of the tables the batch writes."""

    group: int
    names: dict[str, str]


_TABLES = ("holders", "journals", "postings", "economy_state")


def read_shards(raw: Any, tenant_id: str) -> Shards:
    """The tenant's ``Shards`` from a node's metadata (``ledger_shard``)."""
    row = raw.execute(
        "SELECT get_shard_id_for_distribution_column('public.tenants', %s::text), "
        + ", ".join("ledger_shard('public', %s, %s::text)" for _ in _TABLES),
        [tenant_id, *[value for table in _TABLES for value in (table, tenant_id)]],
    ).fetchone()
    return Shards(int(row[0]), dict(zip(_TABLES, row[1:], strict=True)))


def on_shards(tenant_id: str, shards: Shards, statements: Sequence[fast.Bound]) -> list[fast.Bound]:
    """The batch's statements as sent to the worker: the placement check, each statement on
    the tenant's shard of its table, and the deferred balance check made now (a refusal is
    the transaction's error, before its commit)."""
    tenant = tenant_id.encode()
    out: list[fast.Bound] = [(citus_batch.HERE_SQL, [tenant, str(shards.group).encode()])]
    for sql, params in statements:
        out.append((_on_shard(sql, shards), params))
    out.append(("SET CONSTRAINTS ALL IMMEDIATE", []))
    return out


def _on_shard(sql: str, shards: Shards) -> str:
    for table in _TABLES:
        for head in (f"INSERT INTO {table} (", f"UPDATE {table} SET "):
            if sql.startswith(head):
                return head.replace(table, shards.names[table], 1) + sql[len(head) :]
    raise ValueError(f"not a statement of the writer's batch: {sql[:60]}")


class _Pool:
    """At most ``size`` connections to one worker, handed to one caller at a time."""

    def __init__(self, params: dict[str, Any], size: int) -> None:
        self.params = params
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def take(self) -> Any:
        self._slots.acquire()
        try:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
            return self._connect()
        except BaseException:
            self._slots.release()
            raise

    def give(self, raw: Any, broken: bool) -> None:
        """Back to the pool, or closed: broken, or its session not idle."""
        from psycopg.pq import TransactionStatus

        try:
            if broken or raw.broken or raw.info.transaction_status != TransactionStatus.IDLE:
                raw.close()
            else:
                with self._lock:
                    self._idle.append(raw)
        finally:
            self._slots.release()

    def _connect(self) -> Any:
        import psycopg

        raw = psycopg.connect(**self.params, autocommit=True)
        try:
            row = raw.execute(
                "SELECT coalesce(bool_or(position(%s in prosrc) > 0), false)"
                " AND to_regprocedure(%s) IS NOT NULL FROM pg_proc"
                " WHERE oid = to_regprocedure(%s)",
                (citus_batch.MARKER, citus_batch.HERE_SIGNATURE, citus_batch.SIGNATURE),
            ).fetchone()
        except BaseException:
            raw.close()
            raise
        if not (row and row[0]):
            raw.close()
            raise NotReady("it lacks the current ledger_write_batch or ledger_batch_here (upgrade)")
        return raw

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()


class DirectRoutes:
    """The batch of each tenant sent to its worker (module doc); one per ``Store``."""

    def __init__(
        self,
        engine: Engine,
        *,
        connections: int = 4,
        retry_seconds: float = RETRY_SECONDS,  # float-ok: time
    ) -> None:
        self.engine = engine
        self.connections = connections
        self.retry_seconds = retry_seconds
        self._where: dict[str, citus.Worker] = {}
        self._shards: dict[str, Shards] = {}
        self._pools: dict[citus.Worker, _Pool] = {}
        self._down: dict[citus.Worker, float] = {}  # float-ok: time (monotonic deadlines)
        self._lock = threading.Lock()
        # Figures (tests, benchmarks): calls written on each worker, calls refused there.
        self.sent: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def worker_of(self, tenant_id: str) -> citus.Worker | None:
        """The worker holding the tenant's shard group (from the coordinator, then cached);
        None when it cannot be read."""
        found = self._where.get(tenant_id)
        if found is not None:
            return found
        try:
            with self.engine.connect() as conn:
                found = citus.tenant_worker(conn, tenant_id)[1]
        except Exception as error:
            log.warning("tenant %s: its placement could not be read: %r", tenant_id, error)
            return None
        self._where[tenant_id] = found
        return found

    def route(self, tenant_id: str, worker: citus.Worker) -> None:
        """Send the tenant's calls to ``worker`` until one is refused there (tests force a
        stale route with this)."""
        self._where[tenant_id] = worker

    def forget(self, tenant_id: str) -> None:
        self._where.pop(tenant_id, None)
        self._shards.pop(tenant_id, None)

    def send(
        self,
        tenant_id: str,
        statements: Sequence[fast.Bound],
        on_send: Callable[[], object] | None = None,
    ) -> bool:
        """Write the batch (``fast.bind_text`` of ``Store.prepare_batch``: the inserts, then
        the state update) on the tenant's worker as one transaction: the placement check
        (``citus_batch.HERE_SQL``), the statements on the tenant's shards, the deferred balance
        check. False when it was not written there (unavailable, or refused because the group
        is not there, or not under the shard names known): the caller sends it through the
        coordinator."""
        worker = self.worker_of(tenant_id)
        if worker is None or self._down.get(worker, 0.0) > time.monotonic():
            return False
        pool = self._pool(worker)
        try:
            raw = pool.take()
        except Exception as error:
            log.warning("worker %s cannot take direct calls: %r", worker, error)
            self._down[worker] = time.monotonic() + self.retry_seconds
            return False
        import psycopg

        broken = True
        try:
            shards = self._shards.get(tenant_id)
            if shards is None:
                shards = self._shards[tenant_id] = read_shards(raw, tenant_id)
            fast.commit_pipelined(raw, on_shards(tenant_id, shards, statements), on_send)
            broken = False
        except psycopg.Error as error:
            broken = False  # (``give`` closes a session that is not idle)
            if error.sqlstate != citus_batch.NOT_HERE:
                raise
            self.refused[str(worker)] += 1
            self.forget(tenant_id)
            log.info("tenant %s: its shard group is no longer on %s; re-routed", tenant_id, worker)
            return False
        finally:
            pool.give(raw, broken)
        self.sent[str(worker)] += 1
        return True

    def _pool(self, worker: citus.Worker) -> _Pool:
        pool = self._pools.get(worker)
        if pool is None:
            with self._lock:
                pool = self._pools.get(worker)
                if pool is None:
                    params = worker_params(self.engine.url, worker)
                    pool = self._pools[worker] = _Pool(params, self.connections)
        return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
