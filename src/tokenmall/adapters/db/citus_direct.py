"""The writer's batch call sent straight to the tenant's worker (Citus, ``citus_direct``).

Through the coordinator, ``SELECT ledger_write_batch(…)`` is planned there and forwarded to the
tenant's worker: a second hop and the coordinator's work on every batch. ``DirectRoutes`` sends
the same call, as the same one implicit transaction, over a connection to the worker that holds
the tenant's shard group, where it runs locally (``LOCAL_CALL_SQL``: never forwarded by that
worker to another). The call makes this safe by itself
(``citus_batch``): it takes the shard group's metadata lock that a shard move takes exclusively,
then checks the placement in the worker's own metadata, and refuses with ``NOT_HERE`` (nothing
written) on a worker that does not hold the group. A refused call is forgotten here (the next
batch of the tenant reads its placement from the coordinator again) and sent through the
coordinator at once, as every call is when direct routing is unavailable.

Where a tenant is: the coordinator's ``pg_dist_placement`` of its shard of ``tenants`` and
``pg_dist_node``'s ``nodename:nodeport`` of that group (``citus.tenant_worker``), read once and
again after a refusal. How to reach it: the coordinator's URL with that host and port, its user,
password, database and query options kept (a cluster's nodes share the database and the
application's role). Connections: per worker and per process a pool of at most ``connections``
(``citus_direct_connections``), opened as calls overlap and shared by every tenant writer of
the process, never one per tenant. (With one, the worker's tenants commit one after the other.)

Unavailable (nothing sent, the caller goes through the coordinator): a worker that does not
answer a connection or has an older ``ledger_write_batch`` (tried again after
``RETRY_SECONDS``), a placement that cannot be read. A call that fails after it was sent is the
caller's error, as through the coordinator (the writer does the batch again with every key
looked up).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from tokenmall.adapters.db import citus, citus_batch, fast

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # float-ok: time (a worker that failed to connect is left alone this long)
CONNECT_SECONDS = 3
APPLICATION_NAME = "tokenmall-direct"
MAX_COMBINED = 16  # calls in one combined transaction at most


class NotReady(Exception):
    """A worker that cannot take direct calls (it has an older batch function)."""


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


class CallFailed(Exception):
    """A call of a combined transaction that failed on the worker and was rolled back alone
    (the others committed): its SQLSTATE and message."""

    def __init__(self, tenant_id: str, sqlstate: str, message: str) -> None:
        super().__init__(f"tenant {tenant_id}: {message} (SQLSTATE {sqlstate})")
        self.sqlstate = sqlstate


class _Call:
    """One tenant's call waiting for, or in, a transaction on its worker."""

    __slots__ = ("answers", "error", "finished", "params", "taken", "tenant_id")

    def __init__(self, tenant_id: str, params: list[bytes | None]) -> None:
        self.tenant_id = tenant_id
        self.params = params
        self.taken = False
        self.finished = False
        self.answers: list[bytes | None] | None = None  # None: not written there
        self.error: BaseException | None = None


class _Pool:
    """At most ``size`` transactions at once on one worker, each on a connection of its own
    (opened as they overlap, kept idle between them). Combining, a call that finds all of
    them busy waits, and the next transaction takes every call waiting then (``join``)."""

    def __init__(self, params: dict[str, Any], size: int, combine: bool) -> None:
        self.params = params
        self.combine = combine
        self.size = size
        self.flights = 0
        self.pending: list[_Call] = []
        self.ready = threading.Condition()
        # Whether the worker has ``ledger_write_batch_isolated`` (known once connected).
        self.combines = False
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def join(self, call: _Call, on_wait: Callable[[], object] | None = None) -> list[_Call] | None:
        """Queue ``call``; return the calls this thread is to send as one transaction (``call``
        among them) once a transaction is free, or None once another thread has sent it
        (``on_wait`` runs when it starts waiting: its caller's hand-over, as on a send)."""
        with self.ready:
            self.pending.append(call)
            while True:
                if call.taken:
                    while not call.finished:
                        self.ready.wait()
                    return None
                if self.flights < self.size:
                    self.flights += 1
                    group = self.pending if self.combines else [call]
                    if len(group) > MAX_COMBINED:
                        group = [call, *[c for c in group if c is not call][: MAX_COMBINED - 1]]
                    for taken in group:
                        taken.taken = True
                    self.pending = [c for c in self.pending if not c.taken]
                    return group
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                self.ready.wait()

    def done(self, group: list[_Call]) -> None:
        """``group``'s transaction is over (answers or errors set): wake its callers."""
        with self.ready:
            self.flights -= 1
            for call in group:
                call.finished = True
            self.ready.notify_all()

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
                "SELECT coalesce(bool_or(position(%s in prosrc) > 0), false),"
                " to_regprocedure(%s) IS NOT NULL FROM pg_proc WHERE oid = to_regprocedure(%s)",
                (citus_batch.MARKER, citus_batch.ISOLATED_SIGNATURE, citus_batch.SIGNATURE),
            ).fetchone()
        except BaseException:
            raw.close()
            raise
        if not (row and row[0]):
            raw.close()
            raise NotReady("its ledger_write_batch does not check its placement (upgrade)")
        self.combines = self.combine and bool(row[1])
        return raw

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()


class DirectRoutes:
    """The batch call of each tenant sent to its worker (module doc); one per ``Store``."""

    def __init__(
        self,
        engine: Engine,
        *,
        connections: int = 4,
        combine: bool = True,
        retry_seconds: float = RETRY_SECONDS,  # float-ok: time
    ) -> None:
        self.engine = engine
        self.connections = connections
        self.combine = combine
        self.retry_seconds = retry_seconds
        self._where: dict[str, citus.Worker] = {}
        self._pools: dict[citus.Worker, _Pool] = {}
        self._down: dict[citus.Worker, float] = {}  # float-ok: time (monotonic deadlines)
        self._lock = threading.Lock()
        # Figures (tests, benchmarks): calls written on each worker, calls refused there, and
        # the transactions that wrote them (fewer when calls were combined).
        self.sent: Counter[str] = Counter()
        self.transactions: Counter[str] = Counter()
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

    def send(
        self,
        tenant_id: str,
        statements: Sequence[fast.Bound],
        on_send: Callable[[], object] | None = None,
    ) -> list[bytes | None] | None:
        """Run the call (``citus_batch.call``: one statement) on the tenant's worker, committed,
        and return its answers; None when it was not written there (unavailable, or refused
        because the group is not there): the caller sends it through the coordinator.
        Combining, it may be committed in one transaction with other tenants' calls (module
        doc); its errors are still its own."""
        worker = self.worker_of(tenant_id)
        if worker is None or self._down.get(worker, 0.0) > time.monotonic():
            return None
        ((sql, params),) = statements
        if sql != citus_batch.CALL_SQL:
            raise ValueError("only the batch call is sent straight to a worker")
        pool = self._pool(worker)
        call = _Call(tenant_id, list(params))
        group = pool.join(call, on_send)
        if group is not None:  # (else sent by another tenant's thread, in its transaction)
            try:
                self._run(worker, pool, group, on_send)
            finally:
                pool.done(group)
        if call.error is not None:
            raise call.error
        return call.answers

    def _run(
        self,
        worker: citus.Worker,
        pool: _Pool,
        group: list[_Call],
        on_send: Callable[[], object] | None,
    ) -> None:
        """Send ``group``'s calls as one transaction on ``worker`` and set each one's answers
        or error. One call goes as itself; several, each as ``ledger_write_batch_isolated``,
        so that one's error or refusal is its own while the others commit."""
        try:
            raw = pool.take()
        except Exception as error:
            log.warning("worker %s cannot take direct calls: %r", worker, error)
            self._down[worker] = time.monotonic() + self.retry_seconds
            return  # (every call unanswered: through the coordinator)
        import psycopg

        sql = citus_batch.LOCAL_CALL_SQL if len(group) == 1 else citus_batch.ISOLATED_CALL_SQL
        broken = True
        try:
            answers = fast.commit_pipelined(raw, [(sql, c.params) for c in group], on_send)
            broken = False
        except psycopg.Error as error:
            broken = False  # (``give`` closes a session that is not idle)
            if error.sqlstate == citus_batch.NOT_HERE and len(group) == 1:
                self._refused(worker, group[0])
            else:
                for call in group:
                    call.error = error
            return
        except BaseException as error:
            for call in group:
                call.error = error
            raise
        finally:
            pool.give(raw, broken)
        self.transactions[str(worker)] += 1
        for call, answer in zip(group, answers, strict=True):
            failed = json.loads(answer) if len(group) > 1 and answer else None
            if isinstance(failed, dict):  # (the isolated call's error: rolled back alone)
                if failed["sqlstate"] == citus_batch.NOT_HERE:
                    self._refused(worker, call)
                else:
                    call.error = CallFailed(call.tenant_id, failed["sqlstate"], failed["message"])
                continue
            call.answers = [answer]
            self.sent[str(worker)] += 1

    def _refused(self, worker: citus.Worker, call: _Call) -> None:
        self.refused[str(worker)] += 1
        self.forget(call.tenant_id)
        log.info("tenant %s: its shard group is no longer on %s; re-routed", call.tenant_id, worker)

    def _pool(self, worker: citus.Worker) -> _Pool:
        pool = self._pools.get(worker)
        if pool is None:
            with self._lock:
                pool = self._pools.get(worker)
                if pool is None:
                    params = worker_params(self.engine.url, worker)
                    pool = _Pool(params, self.connections, self.combine)
                    self._pools[worker] = pool
        return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
