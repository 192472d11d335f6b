"""Stored first answers to idempotent requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from tokenmall.adapters.db.mall.tables import idempotency
from tokenmall.services.mall.records import StoredResponse


def find(conn: Connection, tenant_id: str, scope: str, key: str) -> StoredResponse | None:
    query = select(idempotency).where(
        idempotency.c.tenant_id == tenant_id,
        idempotency.c.scope == scope,
        idempotency.c.idempotency_key == key,
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    return StoredResponse(row.request_hash, row.status_code, row.response_body)


def add(
    conn: Connection,
    tenant_id: str,
    scope: str,
    key: str,
    response: StoredResponse,
    now: datetime,
) -> None:
    conn.execute(
        insert(idempotency).values(
            tenant_id=tenant_id,
            scope=scope,
            idempotency_key=key,
            request_hash=response.request_hash,
            status_code=response.status_code,
            response_body=response.body,
            created_at=now,
        )
    )
