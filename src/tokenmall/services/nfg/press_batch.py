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
3. on PostgreSQL, the presses as sets (``_settle_sets``): about ten statements for the whole
   batch, deciding each press as ``drop.reserve`` would in the presses' order; otherwise
   (SQLite, an allow-list, due reservations to sweep first) each press under its own
   savepoint, exactly as one transaction of its own would do it: its buyer authenticated (the
   session's slide with it), its Idempotency-Key looked up (a key already answered, also by
   an earlier press of the same batch, replays that answer), ``drop.reserve`` (the buyer's
   row, the buyer's places, the reservation, the counters) and the answer stored under the
   key. A refusal rolls back that press alone and its caller gets the error; the others go on;
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

from tokenmall.adapters.db.nfg import counters, press_rows
from tokenmall.adapters.db.store import Store
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.domain.nfg.records import Collection, Reservation
from tokenmall.services.mall import accounts, idempotency
from tokenmall.services.mall.auth import require
from tokenmall.services.mall.errors import Conflict
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.nfg import drop
from tokenmall.services.writers.batching import ConnectedBatcher, PerEngine, Registry, resolve

log = logging.getLogger(__name__)

MAX_BATCH = 64  # presses a transaction settles at most
LANES = 4  # writers a collection has in each process (their batches run side by side)
LOCK_TIMEOUT = "50ms"  # the longest a batch waits for a row another transaction holds
WAIT_SECONDS = 60.0  # float-ok: seconds a caller waits for its batch's commit

Answer = Callable[[Reservation, Collection], str]


@dataclass(frozen=True, slots=True)
class Press:
    """One press of buy: who (``sign_in``), under which key, what, and its 201 body."""

    tenant_id: str
    collection_id: str
    sign_in: accounts.SignIn
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


class _Closed(Exception):
    """The collection's counters are not open yet: opened first, in a transaction of its own."""


def settle(conn: Connection, presses: list[Press], postgres: bool) -> list[tuple[bool, Any]]:
    """Settle ``presses`` (one collection's) in ONE transaction on ``conn``, as sets or each
    under its own savepoint; each one's outcome: (True, ``idempotency.Outcome``) or (False,
    its error; ``Alone`` to run it on its own). Committed when it returns; if the commit fails
    it raises and none of them happened.

    The first batches of a drop find its counters closed: they open them in a short
    transaction of its own, which waits for another batch opening them (the batch's own
    transaction waits ``LOCK_TIMEOUT`` at most for a row, and every lane's first batch would
    otherwise fail on the collection's row and send its presses alone), then settle."""
    try:
        return _settle(conn, presses, postgres, closed_ok=False)
    except _Closed:
        pass
    first = presses[0]
    with conn.begin():
        counters.open_counters(conn, first.tenant_id, first.collection_id)
    return _settle(conn, presses, postgres, closed_ok=True)


def _settle(
    conn: Connection, presses: list[Press], postgres: bool, *, closed_ok: bool
) -> list[tuple[bool, Any]]:
    first = presses[0]
    outcomes: list[tuple[bool, Any]] = []
    with conn.begin():
        if postgres:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        unit = MallUnitOfWork.joining(conn)
        now = utc_now()
        view = drop.DropView.read(unit, first.tenant_id, first.collection_id, now)
        if postgres and not (closed_ok or view.counters_open) and _on_sale(view, now):
            raise _Closed  # nothing written yet: rolled back
        places = sum(p.quantity for p in presses)
        if postgres and _set_wise(view):
            if _short_with_due(view, places):
                # Places are about to return: expired once for the batch (what a press short
                # of places does first), then the batch as sets on what is for sale now (the
                # due reservations a payment holds stay until it is decided, as for a press
                # alone, which would only sweep again past them).
                assert view.collection is not None
                drop.sweep(unit, view.collection, now)
                view = drop.DropView.read(unit, first.tenant_id, first.collection_id, now)
            if _set_wise(view):
                return _settle_sets(unit, presses, view, now)
        for press in presses:
            outcomes.append(_one(conn, press, view))
    return outcomes


def _on_sale(view: drop.DropView, now: datetime) -> bool:
    """Whether the collection exists and is on sale (its counters may open: a draft's edition
    may still change)."""
    return view.collection is not None and view.collection.on_sale(now)


def _set_wise(view: drop.DropView) -> bool:
    """Whether the collection's presses may be decided as sets: it exists, needs no
    allow-list look-up per buyer, and the market's holder limit does not apply
    (``cn-licensed``: each press is admitted by ``holder_room`` in turn, under the
    collection's newcomer lock)."""
    found = view.collection
    return found is not None and not found.allow_list_only and view.holder_limit is None


def _short_with_due(view: drop.DropView, places: int) -> bool:
    """The batch could be settled as sets but for reservations due that its presses need."""
    found = view.collection
    return found is not None and view.any_due and found.available < places


def _settle_sets(
    unit: MallUnitOfWork, presses: list[Press], view: drop.DropView, now: datetime
) -> list[tuple[bool, Any]]:
    """The batch's presses decided as ``drop.reserve`` decides each, in their order, with a
    few statements for the whole batch (``adapters/db/nfg/press_rows.py``) instead of a
    savepoint and ten statements a press: each buyer signed in; the keys' stored answers in
    one look-up (a replay answers them, another request under the key is a ``Conflict``);
    the checks before any lock; the rows of the buyers whose presses the places for sale
    could cover locked and their places counted in two statements; then, in order, sold out
    or over the limit; the counter rows with room that no one else holds locked; the answers
    stored (a key a racing request stored meanwhile, and a press the rows held could not
    cover, run alone: ``Alone``); the places taken and the reservations inserted. In the
    batch's transaction: if any statement fails, none of it happened (the caller runs every
    press alone)."""
    collection = view.collection
    assert collection is not None
    tenant_id, collection_id = collection.tenant_id, collection.collection_id
    conn = unit.conn
    outcomes: list[tuple[bool, Any] | None] = [None] * len(presses)
    scopes: dict[int, tuple[str, str]] = {}  # press → (scope, key), signed in
    buyers: dict[int, str] = {}
    slides: dict[int, Callable[[], None]] = {}  # written for the presses that succeed
    signed = accounts.sign_in_many(unit, [press.sign_in for press in presses], now)
    for i, press in enumerate(presses):
        got = signed[i]
        if isinstance(got, Exception):
            outcomes[i] = (False, got)
            continue
        who, slide = got
        if slide is not None:
            slides[i] = slide
        scopes[i] = ("anonymous" if who is None else who.scope, press.key)
        try:
            caller = require(who, tenant_id, drop.BUYERS)
        except Exception as error:
            buyers[i] = ""  # refused after the key's look-up (a replay still answers)
            outcomes[i] = (False, error)
            continue
        buyers[i] = caller.subject_id
    stored = press_rows.find_answers(conn, tenant_id, list(dict.fromkeys(scopes.values())))
    first: dict[tuple[str, str], int] = {}  # (scope, key) → the batch's first press under it
    again: list[int] = []
    wanted: list[int] = []
    for i, pair in scopes.items():
        press = presses[i]
        answer = stored.get(pair)
        if answer is not None:
            try:
                idempotency.check_request(answer, press.request)
            except Conflict as error:
                outcomes[i] = (False, error)
            else:
                outcomes[i] = (True, idempotency.Outcome(answer.status_code, answer.body, True))
            continue
        if outcomes[i] is not None:
            continue  # refused (not a buyer) and not a replay
        if pair in first:
            again.append(i)  # the same key again: decided by the first press's outcome
            continue
        first[pair] = i
        try:
            drop.check_quantity(press.quantity)
            drop.admit(collection, collection_id, press.quantity, press.pay_with, now)
        except Exception as error:
            outcomes[i] = (False, error)
            continue
        wanted.append(i)
    left = collection.available
    # A press asking more than is for sale is sold out whatever comes before it: refused
    # without its buyer's row (after the sell-out, most batches lock and write nothing).
    attempts: dict[str, int] = {}
    for i in wanted:
        if presses[i].quantity <= left:
            attempts[buyers[i]] = attempts.get(buyers[i], 0) + 1
    locked = press_rows.lock_buyers(conn, tenant_id, collection_id, attempts)
    held = press_rows.places_of_buyers(conn, tenant_id, collection_id, locked, now)
    accepted: list[int] = []
    for i in wanted:
        press, buyer = presses[i], buyers[i]
        if left < press.quantity:
            outcomes[i] = (False, drop.sold_out(left))
            continue
        if buyer not in locked:
            outcomes[i] = (False, Alone())  # the buyer's row is held elsewhere: not waited for
            continue
        try:
            drop.check_limit(collection, held[buyer], press.quantity)
        except Exception as error:
            outcomes[i] = (False, error)
            continue
        held[buyer] += press.quantity
        left -= press.quantity
        accepted.append(i)
    kept, taken = _cover(conn, tenant_id, collection_id, [presses[i].quantity for i in accepted])
    for n, i in enumerate(accepted):
        if n not in kept:
            outcomes[i] = (False, Alone())  # the rows this batch could lock did not cover it
    made: dict[int, Reservation] = {}
    answers: list[tuple[str, str, str, int, str]] = []
    for n in sorted(kept):
        i = accepted[n]
        press = presses[i]
        reservation = drop.new_reservation(collection, buyers[i], press.quantity, now, press.hold)
        made[i] = reservation
        body = press.answer(reservation, collection)
        scope, key = scopes[i]
        answers.append((scope, key, press.request, 201, body))
        outcomes[i] = (True, idempotency.Outcome(201, body, False))
    ours = press_rows.add_answers(conn, tenant_id, answers, now)
    for n in sorted(kept):
        i = accepted[n]
        if scopes[i] not in ours:
            outcomes[i] = (False, Alone())  # a racing request stored the key first
            del made[i]
            for shard, places in kept[n].items():
                taken[shard] -= places
    press_rows.take_from_rows(conn, tenant_id, collection_id, taken)
    press_rows.add_reservations(conn, list(made.values()))
    for i in again:
        outcomes[i] = _again(presses[i], presses[first[scopes[i]]], outcomes[first[scopes[i]]])
    for i, slide in slides.items():
        decided = outcomes[i]
        if decided is not None and decided[0]:
            slide()
    return [(False, Alone()) if o is None else o for o in outcomes]


def _again(press: Press, earlier: Press, decided: tuple[bool, Any] | None) -> tuple[bool, Any]:
    """A press under a key an earlier press of the batch used: the earlier one's answer
    replayed (the same request) or a ``Conflict`` (another); if the earlier one stored no
    answer (refused, or left the batch), the press runs alone."""
    if decided is None or not decided[0]:
        return False, Alone()
    try:
        idempotency.check_request(StoredResponse(earlier.request, 201, ""), press.request)
    except Conflict as error:
        return False, error
    outcome: idempotency.Outcome = decided[1]
    return True, idempotency.Outcome(outcome.status, outcome.body, True)


def _cover(
    conn: Connection, tenant_id: str, collection_id: str, quantities: list[int]
) -> tuple[dict[int, dict[int, int]], dict[int, int]]:
    """Lock counter rows no one else holds for ``quantities`` (in order) and give each press
    the rows it takes its places from: (index → {shard: places}) of the presses covered, and
    the places to take from each row. A press the rows locked cannot cover is left out."""
    kept: dict[int, dict[int, int]] = {}
    taken: dict[int, int] = {}
    if not quantities:
        return kept, taken
    # The counters are open (``settle`` opened them first).
    rows = press_rows.lock_counter_rows(conn, tenant_id, collection_id, sum(quantities))
    room = dict(rows)
    for n, quantity in enumerate(quantities):
        if sum(room.values()) < quantity:
            continue
        pieces: dict[int, int] = {}
        need = quantity
        for shard in sorted(room, key=lambda s: room[s] < quantity):  # one row if one can
            part = min(need, room[shard])
            if part:
                pieces[shard] = part
                room[shard] -= part
                taken[shard] = taken.get(shard, 0) + part
                need -= part
            if not need:
                break
        kept[n] = pieces
    return kept, taken


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
