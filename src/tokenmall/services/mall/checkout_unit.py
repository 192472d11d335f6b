"""A shopper's checkout of given lines as a unit of the tenant's writer (PostgreSQL).

A checkout in a transaction of its own takes its SKUs' row locks and holds them until it
commits, so every checkout of a popular SKU queues on that row one commit at a time. Here the
checkout is a *unit* of the tenant's ``UnitWriter`` (``services/writers/units.py``), as paid
callbacks and integration pushes are: the writer runs the units queued in ONE transaction (the
tenant's lock once, a savepoint a unit, one commit), so the checkouts of a batch take the
stock one after another in the same transaction, and each is answered after that commits.

A unit does what ``idempotency.run_once`` does in its transaction: the Idempotency-Key looked
up (a stored answer is replayed), the checkout, its answer stored under the key. A refusal
(out of stock, a gate, bad input, another request under the key) rolls the unit back to its
savepoint alone and is raised to its caller, exactly as the one-transaction path would.

Locks: the writer holds the tenant's ledger lock, and a transaction of its own (a cancel, a
refund) takes a SKU's lock before the tenant's. So the unit takes its SKUs' locks only if they
are free (``NOWAIT``, in SKU order); if one is held, the unit is rolled back and ``StockBusy``
tells the caller to check out in a transaction of its own instead, which takes the locks in the
usual order. A checkout never waits for a SKU while holding the tenant's lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from tokenmall.adapters.db.mall.catalogue import lock_skus_nowait
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.mall import idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.writers.units import Writes, writers_for

# What the checkout answers, made in the unit: (status, the response's JSON).
Make = Callable[[MallUnitOfWork, datetime], tuple[int, str]]


class StockBusy(Exception):
    """A SKU of the checkout is locked by another transaction (check out on its own)."""


@dataclass(slots=True)
class CheckoutUnit:
    """One checkout of ``sku_ids`` under its Idempotency-Key, run by the tenant's writer."""

    tenant_id: str
    caller: Principal | None
    key: str
    request_hash: str
    sku_ids: list[str]
    make: Make

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> idempotency.Outcome:
        # Reads and writes interleave (key, SKUs, stock), so one savepoint without a pipeline.
        with writes(pipelined=False):
            uow = MallUnitOfWork.joining(conn, writes=nullcontext, book=book)
            now = utc_now()
            scope = "anonymous" if self.caller is None else self.caller.scope

            def action() -> idempotency.Done:
                if not lock_skus_nowait(conn, self.tenant_id, self.sku_ids):
                    raise StockBusy(self.tenant_id)
                status, body = self.make(uow, now)
                return idempotency.Done(status, body)

            return idempotency.once_in(
                uow,
                tenant_id=self.tenant_id,
                scope=scope,
                key=self.key,
                request=self.request_hash,
                now=now,
                action=action,
            )


async def checkout(
    engine: Engine,
    unit: CheckoutUnit,
    timeout: float = 60.0,  # float-ok: seconds
) -> idempotency.Outcome:
    """``unit`` through its tenant's writer, awaited on the event loop: its outcome once
    committed, or its refusal. A key stored meanwhile by a racing request: once more (which
    replays it). ``StockBusy`` also when the writer's transaction failed on the database (a
    lock, a lost connection): the caller checks out in a transaction of its own, where the
    Idempotency-Key finds what did commit."""
    writers = writers_for(engine)
    for attempt in (1, 2):
        try:
            outcome: idempotency.Outcome = await asyncio.wait_for(
                asyncio.wrap_future(writers.submit(unit)), timeout
            )
        except idempotency.KeyRace:
            if attempt == 2:
                raise
            continue
        except DBAPIError as error:
            raise StockBusy(unit.tenant_id) from error
        return outcome
    raise AssertionError("unreachable")
