"""Tenants as the mall sees them: the mall's name row joined to the ledger's parameters.

The ledger (``adapters/db/store.py``) owns the parameters and their history; this module only
reads them, so there is one source of truth. Writes go through ``Store`` and
``services/ledger/execute.py`` (see ``services/mall/tenants.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.mall.tables import tenants
from tokenmall.adapters.db.tables import tenant_params
from tokenmall.adapters.db.tables import tenants as ledger_tenants
from tokenmall.domain.mall.tenants import Tenant

_JOINED = select(
    tenants.c.tenant_id,
    tenants.c.name,
    tenants.c.created_at,
    ledger_tenants.c.params,
    ledger_tenants.c.params_version,
).join(ledger_tenants, ledger_tenants.c.tenant_id == tenants.c.tenant_id)


def _tenant(row: Any) -> Tenant:
    return Tenant(
        tenant_id=row.tenant_id,
        name=row.name,
        params=json.loads(row.params),
        params_version=row.params_version,
        created_at=aware(row.created_at),
    )


def add(conn: Connection, tenant_id: str, name: str, now: datetime) -> None:
    conn.execute(insert(tenants).values(tenant_id=tenant_id, name=name, created_at=now))


def get(conn: Connection, tenant_id: str) -> Tenant | None:
    row = conn.execute(_JOINED.where(tenants.c.tenant_id == tenant_id)).first()
    return None if row is None else _tenant(row)


def exists(conn: Connection, tenant_id: str) -> bool:
    """Whether the id is taken, by a mall tenant or by a ledger-only tenant."""
    for table in (tenants, ledger_tenants):
        query = select(table.c.tenant_id).where(table.c.tenant_id == tenant_id)
        if conn.execute(query).first() is not None:
            return True
    return False


def is_mall_tenant(conn: Connection, tenant_id: str) -> bool:
    query = select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id)
    return conn.execute(query).first() is not None


def list_all(conn: Connection, after: str | None, limit: int) -> list[Tenant]:
    query = _JOINED.order_by(tenants.c.tenant_id).limit(limit)
    if after is not None:
        query = query.where(tenants.c.tenant_id > after)
    return [_tenant(row) for row in conn.execute(query)]


def params_history(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    query = (
        select(tenant_params)
        .where(tenant_params.c.tenant_id == tenant_id)
        .order_by(tenant_params.c.version)
    )
    return [
        {
            "params_version": row.version,
            "params": json.loads(row.params),
            "changed_by": row.changed_by,
            "changed_at": aware(row.changed_at),
        }
        for row in conn.execute(query)
    ]
