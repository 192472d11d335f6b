"""Group commit for the API's units of work: one writer thread per tenant in each process.

``tenant.py`` groups bare ledger commands. A request of the API does more than a
ledger command: an integrated order is its users, its journals, its order row, its outgoing
events and its stored answers, and all of it must commit together. Here such work is a
*unit*: whoever submits it has done everything that only reads (authentication, validation,
the idempotency look-ups, the shop's users) on its own connection — a batch request's thread
(``mall/integration_batch.py``), or the coalescer that gathers a tenant's single pushes
(``mall/integration_pushes.py``; a group of pushes is one unit) — then hands the unit to its
tenant's ``UnitWriter`` and waits. The writer thread (the batching base, without a linger)
takes every unit queued (up to ``max_batch``) and runs them in ONE transaction:

1. ``BEGIN``; the tenant's state row read ``FOR UPDATE`` (PostgreSQL; SQLite: the database's
   write lock) — the same lock every other ledger write of the tenant takes, in this process
   or another, so one writer at a time. The batch's first reads (``Unit.prefetch``: the paid
   callbacks' payments and orders) go in the same pipeline: the lock is held from one round
   trip less. Units queued while the lock was awaited (another process's writer held it)
   join the batch then (``_join_late``). If the row's ``last_journal_id`` or
   ``params_version`` is not what the writer's cached book says (another process, or another
   path of this one, wrote since), the book is rebuilt from that row.
2. Each unit in turn: its reads (holders not cached yet), its ledger steps applied to the
   shared book in memory, then all of its writes inside ``writes()``: ``SAVEPOINT``, the
   writes, ``RELEASE`` — one PostgreSQL pipeline, one round trip. If the unit fails (a refusal
   of the domain, or a database error such as a unique key taken by a racing request), it is
   rolled back to its savepoint alone, the book is reloaded from the database (it may hold
   the unit's changes), and its caller will get the error; the others go on.
3. ``COMMIT``; only then is each caller answered (its result or its error). If the commit
   fails, no unit of the batch is acknowledged: every caller gets the error, and the book is
   dropped. A unit acknowledged is therefore committed (and a crash before the commit leaves
   none of the batch).

The lock is held for the batch: one lock, one commit and about one round trip per unit,
instead of a lock, a commit and a handful of round trips per request. The writer keeps its
connection while busy; with nothing to do for ``idle_seconds`` it gives it back to the pool
and retires; the next unit starts a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy.state import EconomyState
from tokenmall.services.ledger.book import TenantBook, bind, book_of, load_book
from tokenmall.services.writers.batching import (
    ConnectedBatcher,
    PerEngine,
    Registry,
    resolve,
    shorten_switch_interval,
)

log = logging.getLogger(__name__)

# ``writes()`` or ``writes(pipelined=False)``: the unit's one savepoint block (see ``Unit``).
Writes = Callable[..., AbstractContextManager[Any]]


class Unit(Protocol):
    """A request's writes, run by its tenant's writer inside the batch's transaction.

    ``run`` reads what it must (holders through the book), applies its ledger steps to
    ``book`` (``ledger.LedgerBatch(..., book=book)``) and does ALL of its writes inside ONE
    ``with writes():`` block (its savepoint); it returns the caller's answer. It may be
    refused by raising; it must not commit, and it may run again after a failure elsewhere
    only if its caller retries.

    A unit class may also have ``run_set(conn, book, writes, units, early)``: the units of
    that class a batch holds then run together in one savepoint (``UnitWriter._set``),
    answering each unit's outcome ``(ok, value)``, or None for one to run alone after the
    set. A batch's only unit of such a class runs as a set of one: the set's statements are
    the cheaper ones (each table's rows in one statement). With ``prefetch(conn, units)``
    too, the class sends its set's first reads in the pipeline that takes the tenant's lock
    (one round trip for both); what it returns is ``early``, read after the lock (else
    ``early`` is None)."""

    @property
    def tenant_id(self) -> str: ...

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> Any: ...


class WriterRetired(RuntimeError):
    """The writer stopped before it took the unit (the registry starts another)."""


@dataclass(slots=True)
class _Item:
    unit: Unit
    future: Future[Any] = field(default_factory=Future)


class UnitWriter(ConnectedBatcher[_Item]):
    """The group-committing writer of one tenant in this process."""

    request_type = _Item

    def __init__(
        self,
        store: Store,
        tenant_id: str,
        *,
        registry: UnitWriters | None = None,
        max_batch: int = 64,
        idle_seconds: float = 10.0,  # float-ok: seconds
    ) -> None:
        super().__init__(
            store,
            tenant_id,
            f"units-{tenant_id}",
            max_batch=max_batch,
            idle_seconds=idle_seconds,
            registry=registry,
        )
        self._book: TenantBook | None = None
        self._savepoints = 0
        self.batches = 0  # committed batches (figures for tests and benchmarks)
        self.units = 0  # units answered by committed batches
        shorten_switch_interval()  # it holds the tenant's lock across its round trips
        self._thread.start()

    def submit(self, unit: Unit) -> Future[Any]:
        """Queue ``unit``; the future resolves after its batch commits (or with its error).
        Through ``UnitWriters`` the registry's lock makes this atomic with retirement."""
        if unit.tenant_id != self.tenant_id:
            raise ValueError(f"a unit of {unit.tenant_id} sent to {self.tenant_id}'s writer")
        if self.retired:
            raise WriterRetired(self.tenant_id)
        item = _Item(unit)
        self._queue.put(item)
        return item.future

    # -- the loop's hooks ---------------------------------------------------------------------

    def _broken(self, batch: list[_Item], error: BaseException) -> None:
        self._book = None
        super()._broken(batch, error)

    def _process(self, batch: list[_Item]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn = self._connection()
            with conn.begin():
                sets = _sets(batch)
                # The tenant's lock and the sets' first reads: one round trip (PostgreSQL).
                with fast.pipeline(conn, self.store.postgres):
                    state = self.store.lock_state_later(conn, self.tenant_id)
                    early = [_early(conn, items) for items in sets]
                book = self._locked_book(conn, state())
                self._join_late(batch, sets, early)
                for items, first in zip(sets, early, strict=True):
                    if not hasattr(type(items[0].unit), "run_set"):
                        outcome, book = self._one(conn, book, items[0].unit)
                        outcomes.append(outcome)
                    else:
                        done, book = self._set(conn, book, items, first)
                        outcomes.extend(done)
            # leaving the block committed the transaction
        except Exception as error:
            log.warning(
                "tenant %s: a batch of %d units failed: %r", self.tenant_id, len(batch), error
            )
            self._book = None  # it may be ahead of the database
            self._disconnect()  # and the session may be broken
            for item in batch:
                item.future.set_exception(error)
            return
        self.batches += 1
        self.units += len(batch)
        self._expect = len(batch)
        resolve([item for items in sets for item in items], outcomes)

    def _join_late(self, batch: list[_Item], sets: list[list[_Item]], early: list[Any]) -> None:
        """Units queued while the batch waited for the tenant's lock join it (up to
        ``max_batch``): under another process's writer the lock is awaited for as long as a
        batch takes, and they would otherwise wait for it once more. A unit of a class with
        ``run_set`` joins its class's set (sent early without it: its ``run_set`` reads what
        ``early`` did not ask for); any other comes after the batch's sets."""
        if self._held is not None:  # a signal ended the batch: nothing joins it
            return
        start = len(batch)
        self._held = self._gather(batch, 0.0)
        by_kind = {type(items[0].unit): items for items in sets}
        for item in batch[start:]:
            kind = type(item.unit)
            if kind in by_kind and hasattr(kind, "run_set"):
                by_kind[kind].append(item)
            else:
                sets.append([item])
                early.append(None)
                by_kind.setdefault(kind, sets[-1])

    def _one(
        self, conn: Connection, book: TenantBook, unit: Unit
    ) -> tuple[tuple[bool, Any], TenantBook]:
        """Run one unit under its savepoint; on failure roll it back alone."""
        self._savepoints += 1
        name = f"unit_{self._savepoints}"
        opened: list[bool] = []
        try:
            writes = lambda pipelined=True: self._writes(conn, name, opened, pipelined)  # noqa: E731
            return (True, unit.run(conn, book, writes)), book
        except Exception as error:
            if opened:
                _exec(conn, f"ROLLBACK TO SAVEPOINT {name}")
            # The book may hold the unit's steps (applied, or written and rolled back).
            self._book = book = load_book(self.store, conn, self.tenant_id)
            return (False, error), book

    def _set(
        self, conn: Connection, book: TenantBook, items: list[_Item], early: Any = None
    ) -> tuple[list[tuple[bool, Any]], TenantBook]:
        """Units of a kind with ``run_set`` run together under one savepoint. If the set
        fails, it is rolled back and each unit runs alone (``_one``); so does each unit the
        set answered None for."""
        units = [item.unit for item in items]
        self._savepoints += 1
        name = f"unit_{self._savepoints}"
        opened: list[bool] = []
        try:
            writes = lambda pipelined=True: self._writes(conn, name, opened, pipelined)  # noqa: E731
            run_set = getattr(type(units[0]), "run_set")  # noqa: B009
            got: list[tuple[bool, Any] | None] = run_set(conn, book, writes, units, early)
        except Exception as error:
            log.info("tenant %s: %d units ran one by one: %r", self.tenant_id, len(units), error)
            if opened:
                _exec(conn, f"ROLLBACK TO SAVEPOINT {name}")
            self._book = book = load_book(self.store, conn, self.tenant_id)
            got = [None] * len(units)
        outcomes: list[tuple[bool, Any]] = []
        for unit, outcome in zip(units, got, strict=True):
            if outcome is None:
                outcome, book = self._one(conn, book, unit)
            outcomes.append(outcome)
        return outcomes, book

    def _writes(
        self, conn: Connection, name: str, opened: list[bool], pipelined: bool = True
    ) -> AbstractContextManager[None]:
        """The unit's savepoint around its writes, in one PostgreSQL pipeline unless
        ``pipelined`` is False (a unit that reads between its writes, e.g. a batch of
        orders, pipelines each part itself)."""

        @contextmanager
        def block() -> Iterator[None]:
            if opened:
                raise RuntimeError("a unit writes in one writes() block")
            with fast.pipeline(conn, self.store.postgres and pipelined):
                _exec(conn, f"SAVEPOINT {name}")
                opened.append(True)
                yield
                _exec(conn, f"RELEASE SAVEPOINT {name}")

        return block()

    def _locked_book(self, conn: Connection, locked: tuple[EconomyState, int, int]) -> TenantBook:
        """The book as the database has it, from the tenant's state row ``locked`` (read
        under its lock for this transaction)."""
        store, tenant_id = self.store, self.tenant_id
        state, last_journal_id, version = locked
        book = self._book
        if (
            book is not None
            and book.last_journal_id == last_journal_id
            and book.params_version == version
        ):
            bind(store, book, conn)
            return book
        # First batch, or someone else wrote the tenant since: start from the row just read.
        self._book = book = book_of(store, conn, tenant_id, state, last_journal_id, version)
        return book


def _early(conn: Connection, items: list[_Item]) -> Any:
    """What a set's class sends with the tenant's lock (its ``prefetch``), or None."""
    prefetch = getattr(type(items[0].unit), "prefetch", None)
    return None if prefetch is None else prefetch(conn, [item.unit for item in items])


def _sets(batch: list[_Item]) -> list[list[_Item]]:
    """The batch in the order its units run: each unit alone, except that the units of one
    class with a ``run_set`` (units that commute with the others, e.g. payment callbacks of
    distinct payments) run as one set where the first of them stands."""
    sets: list[list[_Item]] = []
    by_kind: dict[type, list[_Item]] = {}
    for item in batch:
        kind = type(item.unit)
        if not hasattr(kind, "run_set"):
            sets.append([item])
        elif kind in by_kind:
            by_kind[kind].append(item)
        else:
            by_kind[kind] = [item]
            sets.append(by_kind[kind])
    return sets


def _exec(conn: Connection, sql: str) -> None:
    """A statement on the driver's cursor, in the current transaction (and pipeline)."""
    cur = fast.cursor(conn)
    try:
        cur.execute(sql)
    finally:
        cur.close()


class UnitWriters(Registry[UnitWriter]):
    """The writers of one database's tenants in this process (one per tenant, started on
    first use, retired when idle)."""

    def __init__(self, store: Store, **options: Any) -> None:
        super().__init__(store)
        self.options = options

    def _start(self, tenant_id: str) -> UnitWriter:
        return UnitWriter(self.store, tenant_id, registry=self, **self.options)

    def submit(self, unit: Unit) -> Future[Any]:
        with self.lock:
            return self._worker(unit.tenant_id).submit(unit)

    def call(self, unit: Unit, timeout: float | None = 60.0) -> Any:  # float-ok: seconds
        """Submit and wait: the unit's answer once committed, or its error."""
        return self.submit(unit).result(timeout)

    def writer(self, tenant_id: str) -> UnitWriter | None:
        return self.worker(tenant_id)


_WRITERS: PerEngine[UnitWriters] = PerEngine(UnitWriters)


def writers_for(engine: Engine) -> UnitWriters:
    """This process's writers of ``engine``'s database."""
    return _WRITERS.of(engine)
