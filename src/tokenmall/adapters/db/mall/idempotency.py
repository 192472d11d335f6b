"""Stored first answers to idempotent requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, text

from tokenmall.adapters.db.mall.tables import idempotency
from tokenmall.domain.mall.responses import StoredResponse


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


# PostgreSQL: one primary-key probe per key (see ``mall/integration.py``'s look-ups).
_PG_FIND_MANY = text(
    "SELECT f.idempotency_key, f.request_hash, f.status_code, f.response_body "
    "FROM unnest(CAST(:keys AS VARCHAR[])) AS k(key) CROSS JOIN LATERAL ("
    " SELECT idempotency_key, request_hash, status_code, response_body FROM mall_idempotency"
    " WHERE tenant_id = :tenant_id AND scope = :scope AND idempotency_key = k.key LIMIT 1) AS f"
)


def find_many(
    conn: Connection, tenant_id: str, scope: str, keys: list[str]
) -> dict[str, StoredResponse]:
    """``find`` for many keys of one caller in one statement: key → stored answer."""
    if not keys:
        return {}
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            _PG_FIND_MANY,
            {"keys": list(dict.fromkeys(keys)), "tenant_id": tenant_id, "scope": scope},
        )
    else:
        rows = conn.execute(
            select(
                idempotency.c.idempotency_key,
                idempotency.c.request_hash,
                idempotency.c.status_code,
                idempotency.c.response_body,
            ).where(
                idempotency.c.tenant_id == tenant_id,
                idempotency.c.scope == scope,
                idempotency.c.idempotency_key.in_(keys),
            )
        )
    return {row[0]: StoredResponse(row[1], row[2], row[3]) for row in rows}


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
