"""A drop's presses group-committed: the presses that arrive together in one process are
settled in ONE transaction, each under its own savepoint, and answered after its commit.

At a drop's opening hundreds of buyers press at once; one transaction a press is a pool
check-out, ``BEGIN``, ~10 statements and a commit each, run by dozens of threads at once on
the same cores. Here a press is handed to its collection's ``PressWriter`` (one thread per
collection in each process, the batching base of ``writers/batching.py``, as the tenant's
``UnitWriter`` is for paid callbacks and trades) and waits. The writer takes every press
queued (up to ``MAX_BATCH``) and, on the connection it keeps while busy:

1. ``BEGIN``; on PostgreSQL ``SET LOCAL lock_timeout`` (``LOCK_TIMEOUT``): the batch never
   waits long for a row another transaction holds;
2. the collection read once for the batch, with whether any reservation is due
   (``drop.DropView``): the presses refuse from it at once (not on sale, sold out with
   nothing due), counting the places the batch's earlier presses took;
3. each press under its own savepoint, exactly as one transaction of its own would do it:
   its buyer authenticated (the session's slide with it), its Idempotency-Key looked up (a
   key already answered, also by an earlier press of the same batch, replays that answer),
   ``drop.reserve`` (the buyer's row, the buyer's places, the reservation, the counters) and
   the answer stored under the key. A refusal rolls back that press alone and its caller
   gets the error; the others go on;
4. ``COMMIT``; only then is each caller answered.

A press that would wait for another transaction (the buyer's row or the key held elsewhere:
``lock_timeout``; every counter row with room held by others: ``counters.Busy``), or lost
its key to a racing request (``KeyRace``), or met any database error, is rolled back to its
savepoint and its caller runs it in a transaction of its own, with the usual waits
(``Alone``); so does every press of a batch whose commit failed (none of it was committed).
So batches never wait on each other for long, and a race never answers 500. The counters
decide every place taken, the buyer's row every limit: the batch decides exactly as its
presses one after another would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from tokenmall.adapters.db.nfg import counters
from tokenmall.adapters.db.store import Store
from tokenmall.domain.nfg.records import Collection, Reservation
from tokenmall.services.mall import idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.nfg import drop
from tokenmall.services.writers.batching import ConnectedBatcher, PerEngine, Registry, resolve

log = logging.getLogger(__name__)

MAX_BATCH = 64  # presses a transaction settles at most
LANES = 8  # writers a collection has in each process (their batches run side by side)
LOCK_TIMEOUT = "50ms"  # the longest a batch waits for a row another transaction holds
WAIT_SECONDS = 60.0  # float-ok: seconds a caller waits for its batch's commit

SignIn = Callable[[MallUnitOfWork, datetime], Principal | None]
Answer = Callable[[Reservation, Collection], str]


@dataclass(frozen=True, slots=True)
class Press:
    """One press of buy: who (``sign_in``), under which key, what, and its 201 body."""

    tenant_id: str
    collection_id: str
    sign_in: SignIn
    key: str
    request: str  # ``idempotency.request_hash`` of the request
    quantity: int
    pay_with: str | None
    hold: timedelta
    answer: Answer


class Alone(Exception):
    """The press left the batch: its caller runs it in a transaction of its own."""


@dataclass(slots=True)
class _Item:
    press: Press
    future: Future[idempotency.Outcome] = field(default_factory=Future)


def settle(conn: Connection, presses: list[Press], postgres: bool) -> list[tuple[bool, Any]]:
    """Settle ``presses`` (one collection's) in ONE transaction on ``conn``, each under its
    own savepoint; each one's outcome: (True, ``idempotency.Outcome``) or (False, its error;
    ``Alone`` to run it on its own). Committed when it returns; if the commit fails it raises
    and none of them happened."""
    first = presses[0]
    outcomes: list[tuple[bool, Any]] = []
    with conn.begin():
        if postgres:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        unit = MallUnitOfWork.joining(conn)
        view = drop.DropView.read(unit, first.tenant_id, first.collection_id, utc_now())
        for press in presses:
            outcomes.append(_one(conn, press, view))
    return outcomes


def _one(conn: Connection, press: Press, view: drop.DropView) -> tuple[bool, Any]:
    """One press under its savepoint, as ``idempotency.run_once`` would do it alone."""
    try:
        with conn.begin_nested():
            unit = MallUnitOfWork.joining(conn)
            now = utc_now()
            who = press.sign_in(unit, now)

            def reserve() -> idempotency.Done:
                reservation, collection = drop.reserve(
                    unit,
                    who,
                    press.tenant_id,
                    press.collection_id,
                    press.quantity,
                    press.pay_with,
                    now,
                    hold=press.hold,
                    view=view,
                )
                return idempotency.Done(201, press.answer(reservation, collection))

            outcome = idempotency.once_in(
                unit,
                tenant_id=press.tenant_id,
                scope="anonymous" if who is None else who.scope,
                key=press.key,
                request=press.request,
                now=now,
                action=reserve,
            )
    except (idempotency.KeyRace, DBAPIError, counters.Busy) as error:
        log.debug("a press of %s left its batch: %r", press.collection_id, error)
        return False, Alone()
    except Exception as error:
        return False, error
    if not outcome.replayed:
        view.took(press.quantity)
    return True, outcome


class PressWriter(ConnectedBatcher[_Item]):
    """The group-committing writer of one collection's presses in this process."""

    request_type = _Item

    def __init__(self, store: Store, key: str, *, registry: PressWriters | None = None) -> None:
        super().__init__(
            store, key, f"presses-{key}", max_batch=MAX_BATCH, idle_seconds=10.0, registry=registry
        )
        self.batches = 0  # committed batches (figures for tests)
        self._thread.start()

    def submit(self, press: Press) -> Future[idempotency.Outcome]:
        item = _Item(press)
        self._queue.put(item)
        return item.future

    def _process(self, batch: list[_Item]) -> None:
        try:
            conn = self._connection()
            outcomes = settle(conn, [item.press for item in batch], self.store.postgres)
        except Exception as error:
            log.warning("a batch of %d presses failed: %r", len(batch), error)
            self._disconnect()  # the session may be broken
            outcomes = [(False, Alone()) for _ in batch]  # none committed: each on its own
        else:
            self.batches += 1
            self._expect = len(batch)
        resolve(batch, outcomes)


class PressWriters(Registry[PressWriter]):
    """The press writers of one database in this process (``LANES`` per collection, the
    presses dealt to them in turn)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._dealt = 0

    def _start(self, tenant_id: str) -> PressWriter:
        return PressWriter(self.store, tenant_id, registry=self)

    def submit(self, press: Press) -> Future[idempotency.Outcome]:
        with self.lock:
            self._dealt = lane = (self._dealt + 1) % LANES
            key = f"{press.tenant_id}/{press.collection_id}/{lane}"
            return self._worker(key).submit(press)


_WRITERS: PerEngine[PressWriters] = PerEngine(PressWriters)


def submit(engine: Engine, one: Press) -> Future[idempotency.Outcome]:
    """Queue ``one`` for its collection's next batch; the future resolves once the batch
    committed (its outcome), or with its refusal; ``Alone``: the caller runs it in a
    transaction of its own."""
    return _WRITERS.of(engine).submit(one)


def press(engine: Engine, one: Press) -> idempotency.Outcome:
    """``submit`` and wait (a thread's caller)."""
    return submit(engine, one).result(WAIT_SECONDS)
