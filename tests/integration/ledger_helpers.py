"""Shared helpers of the integration tests: table snapshots and balance sums."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import (
    economy_state,
    holders,
    journals,
    postings,
    settled_days,
    tenant_params,
    tenants,
)

TABLES = (tenants, tenant_params, economy_state, holders, journals, postings, settled_days)


def snapshot(store: Store, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tenant in every ledger table, in key order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.read() as conn:
        for table in TABLES:
            key = [c for c in table.primary_key.columns]
            rows = conn.execute(
                select(table).where(table.c.tenant_id == tenant_id).order_by(*key)
            ).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def unbalanced(store: Store, tenant_id: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import func

    with store.read() as conn:
        query = (
            select(postings.c.journal_id, postings.c.asset, func.sum(postings.c.amount))
            .where(postings.c.tenant_id == tenant_id)
            .group_by(postings.c.journal_id, postings.c.asset)
            .having(func.sum(postings.c.amount) != 0)
        )
        return [tuple(r) for r in conn.execute(query)]


def holder(store: Store, tenant_id: str, name: str) -> dict[str, Any] | None:
    with store.read() as conn:
        row = conn.execute(
            select(holders).where(holders.c.tenant_id == tenant_id, holders.c.name == name)
        ).first()
        return None if row is None else dict(row._mapping)
