"""Trades (摘牌 ``take``, 协议转让 ``accept``, a bid or a listing that crosses the book) group-
committed through the tenant's unit writer, as paid callbacks are
(``services/mall/paid_callbacks.py``).

A trade books a ledger journal (the buyer's cash to the seller, the platform's fee and the
issuer's royalty: one ``MarketTrade``), so each trade in a transaction of its own takes the
tenant's ledger lock, and under load the trades queue on it one commit at a time. Here a
trade is a *unit* of the tenant's ``UnitWriter`` (``services/writers/units.py``): the writer
holds the tenant's lock once for every trade queued, settles each under its own savepoint —
the journal applied to the writer's cached book (``journal.run(..., book)``), so the next
trade of the batch books the next journal id — the token's owner change, the token's other
open orders cancelled, the trade's row, its ``sale`` leaf in the transparency log and the
request's stored answer with it, and commits them together. What the trade reads without a
lock (the tenant's profile and calendar, the collection's settings, the users' real-name
status, the order's row as first read, the wash-trade watch's flag: ``state.Known``) is read
before it is queued, on the caller's own connection, so the writer's transaction spends its
round trips on the rest. A trade is answered only after its batch committed; a refused one
(``MarketRefused``: the same codes as before) is rolled back alone, its book reloaded, and
the others go on.

Locks: every market action takes the token's row lock first (after a newcomer's lock, when
the buyer is new to a collection with a holder limit: ``newcomers.py``) and the tenant's
ledger lock after it (then the holders' and marks' rows: ``persist.py`` gives the one order).
The writer already holds the ledger's, so it takes the newcomer's and the token's only if
they are free (``SKIP LOCKED``, ``pg_try_advisory_xact_lock``); if another transaction
holds one (a cancel, a gift, a racing trade in a transaction of its own, a drop's newcomer),
the trade is settled in a transaction of its own instead, which takes the locks in the usual
order. So a trade never waits for a lock while holding the tenant's, and no deadlock comes of
it. A race on one listing is decided as before: the first trade of it wins, and every other
(in the batch or outside it) is refused ``not_found``.

A new order that crosses the book (``place_batched``: a bid at or above the lowest listing, a
listing at or below the highest bid; the open profile's 求购 and 挂单) is seen crossing on a
read before it is queued, then placed in the writer as ``trading.bid`` / ``orders.list_token``
with ``wait=False``: the resting order's token, the resting order's row and the tenant's order
counter are all taken only if free (each comes before the ledger in the lock order), else
``TradeBusy`` and the order is placed in a transaction of its own. Price-time priority, the
trade at the resting order's price, ``self_trade`` and the reservation are the use case's own,
unchanged; a book that moved between the read and the writer only means the order rests (its
cash reserved, in the writer) or trades with the next best. A new order that crosses nothing
is placed in a transaction of its own, as before (it books no trade).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.market.orders import Placed, TradeBusy
from tokenmall.services.market.state import Known, known_for
from tokenmall.services.market.trading import settle
from tokenmall.services.market.watch import watcher
from tokenmall.services.writers.units import Writes, writers_for

# What the caller answers for a settled trade (its JSON body), read in the trade's transaction.
Answer = Callable[[MallUnitOfWork, Placed], str]
# A new order's use case on a unit of work, at a time, waiting for its locks or not.
Place = Callable[[MallUnitOfWork, datetime, bool], Placed]


@dataclass(frozen=True, slots=True)
class Once:
    """Where the trade's answer is stored (the request's Idempotency-Key, or a page's form
    key under ``scope_prefix``) and its status."""

    key: str
    request: str
    status: int = 200
    scope_prefix: str = ""

    def scope(self, caller: Principal | None) -> str:
        return self.scope_prefix + ("anonymous" if caller is None else caller.scope)


@dataclass(frozen=True, slots=True)
class TradeUnit:
    """One trade, settled in the writer's transaction."""

    tenant_id: str
    caller: Principal | None
    order_id: int
    action: str
    now: datetime
    config: LogConfig
    answer: Answer
    once: Once | None
    known: Known | None = None  # read before it was queued (``state.known_for``)

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> str:
        def act(unit: MallUnitOfWork) -> Placed:
            return settle(
                unit, self.caller, self.tenant_id, self.order_id, self.action,
                now=self.now, config=self.config, wait=False, known=self.known,
            )  # fmt: skip

        return _in_writer(
            conn, book, writes, self.tenant_id, self.caller, self.now, self.once, self.answer, act
        )


@dataclass(frozen=True, slots=True)
class PlaceUnit:
    """A new order that crosses the book (a bid, a listing), placed in the writer's
    transaction (``place(unit, now, False)``)."""

    tenant_id: str
    caller: Principal | None
    place: Place
    now: datetime
    answer: Answer
    once: Once | None

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> str:
        return _in_writer(
            conn, book, writes, self.tenant_id, self.caller, self.now, self.once, self.answer,
            lambda unit: self.place(unit, self.now, False),
        )  # fmt: skip


def _in_writer(
    conn: Connection, book: TenantBook, writes: Writes, tenant_id: str,
    caller: Principal | None, now: datetime, once: Once | None, answer: Answer,
    act: Callable[[MallUnitOfWork], Placed],
) -> str:  # fmt: skip
    """``act`` and its stored answer in one savepoint of the writer's transaction."""
    # Reads and writes interleave (the locks, the rows), so one savepoint without a
    # pipeline; the journals go through the writer's book.
    with writes(pipelined=False):
        unit = MallUnitOfWork.joining(conn, writes=nullcontext, book=book)
        if once is not None:
            unit.answer_under(tenant_id, once.scope(caller), once.key, once.request, now)
        placed = act(unit)
        body = answer(unit, placed)
        if once is not None:
            unit.answer(once.status, body)
            if not unit.answered():
                raise idempotency.KeyRace()
        return body


def _replayed(
    reader: MallUnitOfWork, tenant_id: str, caller: Principal | None, once: Once | None
) -> idempotency.Outcome | None:
    """The stored answer of a request already made under the same key, if any."""
    if once is None:
        return None
    stored = idempotency.lookup(
        reader, tenant_id=tenant_id, scope=once.scope(caller), key=once.key, request=once.request
    )
    return None if stored is None else idempotency.Outcome(stored.status_code, stored.body, True)


def settle_batched(
    db: Database,
    caller: Principal | None,
    tenant_id: str,
    order_id: int,
    action: str,
    *,
    now: datetime,
    config: LogConfig,
    answer: Answer,
    once: Once | None = None,
) -> idempotency.Outcome:
    """``take`` or ``accept`` through the tenant's writer, answered once committed (200, or
    ``once.status``, and ``answer``'s body; with ``once``, stored under the key, and a replay
    answers the stored one). A refusal raises as ``trading.settle`` does. When the token is
    locked by another transaction, or a racing request stored the key first, it runs in a
    transaction of its own (``idempotency.run_once``: that replays what the race stored)."""
    known = None
    with db.reading() as reader:
        replayed = _replayed(reader, tenant_id, caller, once)
        if replayed is not None:
            return replayed
        if caller is not None and caller.tenant_id == tenant_id:
            watch = watcher(reader, tenant_id)
            known = known_for(reader, tenant_id, order_id, caller.subject_id, watch)
    unit = TradeUnit(tenant_id, caller, order_id, action, now, config, answer, once, known)
    try:
        body: str = writers_for(db.engine).call(unit)
    except (TradeBusy, idempotency.KeyRace):
        return _alone(db, unit)
    return idempotency.Outcome(200 if once is None else once.status, body, False)


def _alone(db: Database, unit: TradeUnit) -> idempotency.Outcome:
    """The trade in a transaction of its own (the locks in the usual order)."""

    def act(own: MallUnitOfWork, now: datetime, _wait: bool) -> Placed:
        return settle(
            own, unit.caller, unit.tenant_id, unit.order_id, unit.action, now=now,
            config=unit.config,
        )  # fmt: skip

    return _own(db, unit.tenant_id, unit.caller, unit.now, unit.once, unit.answer, act)


def _own(
    db: Database, tenant_id: str, caller: Principal | None, now: datetime, once: Once | None,
    answer: Answer, place: Place,
) -> idempotency.Outcome:  # fmt: skip
    """``place`` in a transaction of its own (waiting for its locks in the usual order),
    with ``once`` stored under its key (a racing request's stored answer replayed)."""
    if once is None:
        with db.unit() as own:
            body = answer(own, place(own, now, True))
        return idempotency.Outcome(200, body, False)

    def act(attempt: idempotency.Attempt) -> idempotency.Done:
        placed = place(attempt.uow, attempt.now, True)
        return idempotency.Done(once.status, answer(attempt.uow, placed))

    return idempotency.run_once(
        db,
        tenant_id=tenant_id,
        caller=caller,
        scope_prefix=once.scope_prefix,
        key=once.key,
        request=once.request,
        action=act,
    )


def place_batched(
    db: Database,
    caller: Principal | None,
    tenant_id: str,
    crossing: tuple[str, str, int],
    place: Place,
    *,
    now: datetime,
    answer: Answer,
    once: Once | None = None,
) -> idempotency.Outcome:
    """A new order: through the tenant's writer if it crosses the book as read now
    (``crossing``: the collection, the new order's kind, ``"bid"`` or ``"listing"``, and its
    price), else (or when a row it locks is busy, or a racing request stored the key first)
    in a transaction of its own. Answered once committed, as ``settle_batched``; a refusal
    raises as the use case does."""
    collection_id, kind, price = crossing
    with db.reading() as reader:
        replayed = _replayed(reader, tenant_id, caller, once)
        if replayed is not None:
            return replayed
        crosses = _crosses(reader, tenant_id, collection_id, kind, price)
    if crosses and caller is not None and caller.tenant_id == tenant_id:
        unit = PlaceUnit(tenant_id, caller, place, now, answer, once)
        try:
            body: str = writers_for(db.engine).call(unit)
        except (TradeBusy, idempotency.KeyRace):
            pass
        else:
            return idempotency.Outcome(200 if once is None else once.status, body, False)
    return _own(db, tenant_id, caller, now, once, answer, place)


def _crosses(
    reader: MallUnitOfWork, tenant_id: str, collection_id: str, kind: str, price: int
) -> bool:
    """Whether a new ``kind`` order at ``price`` would trade with the best resting order of
    the other side as the book stands (read without a lock)."""
    other = "listing" if kind == "bid" else "bid"
    best = reader.market.best_open(tenant_id, collection_id, other)
    if best is None:
        return False
    return best.price <= price if kind == "bid" else best.price >= price
