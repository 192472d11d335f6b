"""Trades (摘牌 ``take``, 协议转让 ``accept``) group-committed through the tenant's unit writer,
as paid callbacks are (``services/mall/paid_callbacks.py``).

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

Locks: every market action takes the token's row lock first and the tenant's ledger lock
after it (then the holders' and marks' rows: ``persist.py`` gives the one order). The writer
already holds the ledger's, so it takes the token's only if it is free
(``SKIP LOCKED``); if another transaction holds it (a cancel, a gift, a racing trade in a
transaction of its own), the trade is settled in a transaction of its own instead, which
takes the locks in the usual order. So a trade never waits for a token while holding the
tenant's lock, and no deadlock comes of it. A race on one listing is decided as before: the
first trade of it wins, and every other (in the batch or outside it) is refused ``not_found``.
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
from tokenmall.services.market.orders import Placed
from tokenmall.services.market.state import Known, known_for
from tokenmall.services.market.trading import TradeBusy, settle
from tokenmall.services.market.watch import watcher
from tokenmall.services.writers.units import Writes, writers_for

# What the caller answers for a settled trade (its JSON body), read in the trade's transaction.
Answer = Callable[[MallUnitOfWork, Placed], str]


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
        # Reads and writes interleave (the locks, the rows), so one savepoint without a
        # pipeline; the journal goes through the writer's book.
        with writes(pipelined=False):
            unit = MallUnitOfWork.joining(conn, writes=nullcontext, book=book)
            if self.once is not None:
                o = self.once
                scope = o.scope(self.caller)
                unit.answer_under(self.tenant_id, scope, o.key, o.request, self.now)
            placed = settle(
                unit, self.caller, self.tenant_id, self.order_id, self.action,
                now=self.now, config=self.config, wait=False, known=self.known,
            )  # fmt: skip
            body = self.answer(unit, placed)
            if self.once is not None:
                unit.answer(self.once.status, body)
                if not unit.answered():
                    raise idempotency.KeyRace()
            return body


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
        if once is not None:
            stored = idempotency.lookup(
                reader,
                tenant_id=tenant_id,
                scope=once.scope(caller),
                key=once.key,
                request=once.request,
            )
            if stored is not None:
                return idempotency.Outcome(stored.status_code, stored.body, True)
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
    if unit.once is None:
        with db.unit() as own:
            placed = settle(
                own, unit.caller, unit.tenant_id, unit.order_id, unit.action,
                now=unit.now, config=unit.config,
            )  # fmt: skip
            body = unit.answer(own, placed)
        return idempotency.Outcome(200, body, False)

    def act(attempt: idempotency.Attempt) -> idempotency.Done:
        placed = settle(
            attempt.uow, unit.caller, unit.tenant_id, unit.order_id, unit.action,
            now=attempt.now, config=unit.config,
        )  # fmt: skip
        assert unit.once is not None
        return idempotency.Done(unit.once.status, unit.answer(attempt.uow, placed))

    return idempotency.run_once(
        db,
        tenant_id=unit.tenant_id,
        caller=unit.caller,
        scope_prefix=unit.once.scope_prefix,
        key=unit.once.key,
        request=unit.once.request,
        action=act,
    )
