"""Tenants and the audited history of their economy parameters."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.mall.tables import tenant_params_history, tenants
from tokenmall.services.mall.records import Tenant


def _tenant(row: Any) -> Tenant:
    return Tenant(
        tenant_id=row.tenant_id,
        name=row.name,
        params=json.loads(row.params),
        params_version=row.params_version,
        created_at=aware(row.created_at),
    )


def add(
    conn: Connection,
    tenant_id: str,
    name: str,
    params: dict[str, Any],
    created_by: str,
    now: datetime,
) -> None:
    text = json.dumps(params, ensure_ascii=False, sort_keys=True)
    conn.execute(
        insert(tenants).values(
            tenant_id=tenant_id, name=name, params=text, params_version=1, created_at=now
        )
    )
    conn.execute(
        insert(tenant_params_history).values(
            tenant_id=tenant_id,
            params_version=1,
            params=text,
            changed_by=created_by,
            changed_at=now,
        )
    )


def get(conn: Connection, tenant_id: str, *, for_update: bool = False) -> Tenant | None:
    query = select(tenants).where(tenants.c.tenant_id == tenant_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _tenant(row)


def exists(conn: Connection, tenant_id: str) -> bool:
    query = select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id)
    return conn.execute(query).first() is not None


def list_all(conn: Connection, after: str | None, limit: int) -> list[Tenant]:
    query = select(tenants).order_by(tenants.c.tenant_id).limit(limit)
    if after is not None:
        query = query.where(tenants.c.tenant_id > after)
    return [_tenant(row) for row in conn.execute(query)]


def set_params(
    conn: Connection,
    tenant_id: str,
    expected_version: int,
    params: dict[str, Any],
    changed_by: str,
    now: datetime,
) -> bool:
    """Store a new parameter set if nobody changed it since ``expected_version``."""
    text = json.dumps(params, ensure_ascii=False, sort_keys=True)
    result = conn.execute(
        update(tenants)
        .where(tenants.c.tenant_id == tenant_id, tenants.c.params_version == expected_version)
        .values(params=text, params_version=expected_version + 1)
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        insert(tenant_params_history).values(
            tenant_id=tenant_id,
            params_version=expected_version + 1,
            params=text,
            changed_by=changed_by,
            changed_at=now,
        )
    )
    return True


def params_history(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    query = (
        select(tenant_params_history)
        .where(tenant_params_history.c.tenant_id == tenant_id)
        .order_by(tenant_params_history.c.params_version)
    )
    return [
        {
            "params_version": row.params_version,
            "params": json.loads(row.params),
            "changed_by": row.changed_by,
            "changed_at": aware(row.changed_at),
        }
        for row in conn.execute(query)
    ]
