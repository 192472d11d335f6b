"""Run one ledger command inside the caller's transaction (the mall services' shared step)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.ledger.book import TenantBook


def run(conn: Connection, command: c.Command, book: TenantBook | None = None) -> dict[str, Any]:
    """Execute ``command`` as a balanced journal in ``conn``'s open transaction. ``book``: the
    unit writer's, whose owner holds the tenant's lock in this transaction: the journal is
    applied to it (so the next unit of the batch sees its ids and balances) and written."""
    store = Store(conn.engine)
    if book is None:
        return ledger.execute_in(store, conn, command)
    if isinstance(command, c.SettleDay | c.ReverseOrderRewards):
        raise TypeError(f"{type(command).__name__} runs in a transaction of its own")
    key = command.idempotency_key
    with ledger.LedgerBatch(store, conn, command.tenant_id, [key], book=book) as batch:
        return batch.run(command)


def lock_ledger(conn: Connection, tenant_id: str) -> None:
    """Take the tenant's ledger lock now (a journal booked later in the transaction takes it
    anyway): for a caller whose next rows are also written by the tenant's writer, which
    holds this lock first."""
    Store(conn.engine).lock_tenant(conn, tenant_id)
