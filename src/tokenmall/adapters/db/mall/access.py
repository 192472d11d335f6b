"""Tables and queries of access control: the audit trail, API key scopes, signup marks, caps.

``mall_audit_trail`` is append-only: who changed what (roles, KYC, withdrawal settings, API
keys, integration caps), when, and the values before and after, as JSON. No code path updates
or deletes a row. ``mall_api_key_scopes`` holds each key's scopes (a key without a row has
none: deny by default). ``mall_signup_marks`` holds a hash of the client a user registered from
(address and user agent), to flag inviters and invitees that look like one person.
``mall_integration_caps`` holds a tenant's optional per-order and per-day caps on integration
pushes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import aliased

from tokenmall.adapters.db.mall.integration import integration_orders
from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata, users
from tokenmall.domain.mall.access import NO_CAPS, AuditEntry, Caps


def _at(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


audit_trail = Table(
    "mall_audit_trail",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("entry_id", String(ID), nullable=False),
    _at("at"),
    Column("actor_id", String(ID), nullable=True),  # the user who acted; None: the system
    Column("actor_via", String(40), nullable=False),  # session, api_key:<key id>, system
    Column("action", String(40), nullable=False),
    Column("subject_id", String(ID), nullable=False),  # the user, key or tenant changed
    Column("before", Text, nullable=True),  # JSON
    Column("after", Text, nullable=True),  # JSON
    PrimaryKeyConstraint("tenant_id", "entry_id"),
    ForeignKeyConstraint(["tenant_id"], ["mall_tenants.tenant_id"]),
    Index("ix_mall_audit_trail_tenant_subject", "tenant_id", "subject_id"),
    Index("ix_mall_audit_trail_tenant_action", "tenant_id", "action"),
)

api_key_scopes = Table(
    "mall_api_key_scopes",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("key_id", String(ID), nullable=False),
    Column("scopes", String(100), nullable=False),  # comma-separated
    PrimaryKeyConstraint("tenant_id", "key_id"),
    ForeignKeyConstraint(
        ["tenant_id", "key_id"], ["mall_api_keys.tenant_id", "mall_api_keys.key_id"]
    ),
)

signup_marks = Table(
    "mall_signup_marks",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # SHA-256 hex of address + user agent
    PrimaryKeyConstraint("tenant_id", "user_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
    Index("ix_mall_signup_marks_tenant_fingerprint", "tenant_id", "fingerprint"),
)

integration_caps = Table(
    "mall_integration_caps",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("per_order_fen", BigInteger, nullable=True),
    Column("per_day_fen", BigInteger, nullable=True),
    Column("updated_by", String(ID), nullable=True),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id"),
    ForeignKeyConstraint(["tenant_id"], ["mall_tenants.tenant_id"]),
    CheckConstraint("per_order_fen IS NULL OR per_order_fen > 0", name="per_order_positive"),
    CheckConstraint("per_day_fen IS NULL OR per_day_fen > 0", name="per_day_positive"),
)

TABLES = (
    "mall_audit_trail",
    "mall_api_key_scopes",
    "mall_signup_marks",
    "mall_integration_caps",
)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def add_entry(conn: Connection, tenant_id: str, entry: AuditEntry) -> None:
    conn.execute(
        insert(audit_trail).values(
            tenant_id=tenant_id,
            entry_id=entry.entry_id,
            at=entry.at,
            actor_id=entry.actor_id,
            actor_via=entry.actor_via,
            action=entry.action,
            subject_id=entry.subject_id,
            before=_json(entry.before),
            after=_json(entry.after),
        )
    )


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        entry_id=row.entry_id,
        at=aware(row.at),
        actor_id=row.actor_id,
        actor_via=row.actor_via,
        action=row.action,
        subject_id=row.subject_id,
        before=None if row.before is None else json.loads(row.before),
        after=None if row.after is None else json.loads(row.after),
    )


def entries(
    conn: Connection,
    tenant_id: str,
    *,
    subject_id: str | None = None,
    actions: tuple[str, ...] = (),
    since: datetime | None = None,
    before: str | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Entries newest first (``before``: an entry id to page from)."""
    query = select(audit_trail).where(audit_trail.c.tenant_id == tenant_id)
    if subject_id is not None:
        query = query.where(audit_trail.c.subject_id == subject_id)
    if actions:
        query = query.where(audit_trail.c.action.in_(actions))
    if since is not None:
        query = query.where(audit_trail.c.at >= since)
    if before is not None:
        query = query.where(audit_trail.c.entry_id < before)
    query = query.order_by(audit_trail.c.entry_id.desc()).limit(limit)
    return [_entry(row) for row in conn.execute(query)]


def subjects_entries(
    conn: Connection, tenant_id: str, subject_ids: list[str], actions: tuple[str, ...]
) -> list[AuditEntry]:
    if not subject_ids:
        return []
    query = select(audit_trail).where(
        audit_trail.c.tenant_id == tenant_id,
        audit_trail.c.subject_id.in_(subject_ids),
        audit_trail.c.action.in_(actions),
    )
    return [_entry(row) for row in conn.execute(query.order_by(audit_trail.c.entry_id))]


# --- API key scopes ---


def put_scopes(conn: Connection, tenant_id: str, key_id: str, scopes: str) -> None:
    conn.execute(insert(api_key_scopes).values(tenant_id=tenant_id, key_id=key_id, scopes=scopes))


def scopes_of(conn: Connection, tenant_id: str, key_ids: list[str]) -> dict[str, str]:
    if not key_ids:
        return {}
    query = select(api_key_scopes.c.key_id, api_key_scopes.c.scopes).where(
        api_key_scopes.c.tenant_id == tenant_id, api_key_scopes.c.key_id.in_(key_ids)
    )
    return {row.key_id: row.scopes for row in conn.execute(query)}


# --- signup marks ---


def put_mark(conn: Connection, tenant_id: str, user_id: str, fingerprint: str) -> None:
    conn.execute(
        insert(signup_marks).values(tenant_id=tenant_id, user_id=user_id, fingerprint=fingerprint)
    )


def shared_mark_pairs(conn: Connection, tenant_id: str, limit: int) -> list[tuple[str, str, str]]:
    """(invitee, inviter, fingerprint) where an invitee registered from the same client as
    their inviter."""
    invitee, inviter = aliased(signup_marks), aliased(signup_marks)
    query = (
        select(users.c.user_id, users.c.inviter_id, invitee.c.fingerprint)
        .join(
            invitee,
            and_(invitee.c.tenant_id == users.c.tenant_id, invitee.c.user_id == users.c.user_id),
        )
        .join(
            inviter,
            and_(
                inviter.c.tenant_id == users.c.tenant_id,
                inviter.c.user_id == users.c.inviter_id,
                inviter.c.fingerprint == invitee.c.fingerprint,
            ),
        )
        .where(users.c.tenant_id == tenant_id)
        .order_by(users.c.user_id)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in conn.execute(query)]


# --- integration caps ---


def get_caps(conn: Connection, tenant_id: str) -> Caps:
    row = conn.execute(
        select(integration_caps).where(integration_caps.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        return NO_CAPS
    return Caps(row.per_order_fen, row.per_day_fen, row.updated_by, aware(row.updated_at))


def put_caps(conn: Connection, tenant_id: str, caps: Caps) -> None:
    values = {
        "per_order_fen": caps.per_order_fen,
        "per_day_fen": caps.per_day_fen,
        "updated_by": caps.updated_by,
        "updated_at": caps.updated_at,
    }
    changed = conn.execute(
        update(integration_caps).where(integration_caps.c.tenant_id == tenant_id).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(integration_caps).values(tenant_id=tenant_id, **values))


def pushed_since(conn: Connection, tenant_id: str, since: datetime) -> int:
    """Fen of integration orders pushed paid since ``since``."""
    total = conn.execute(
        select(func.coalesce(func.sum(integration_orders.c.amount_fen), 0)).where(
            integration_orders.c.tenant_id == tenant_id, integration_orders.c.paid_at >= since
        )
    ).scalar_one()
    return int(total)


# PostgreSQL: one primary-key probe per id (as ``integration.external_users_by_id`` does).
_PG_PUSHED = text(
    "SELECT o.external_order_id "
    "FROM unnest(CAST(:ids AS VARCHAR[])) AS k(id) CROSS JOIN LATERAL ("
    " SELECT external_order_id FROM mall_integration_orders"
    " WHERE tenant_id = :tenant_id AND external_order_id = k.id LIMIT 1) AS o"
)


def pushed_orders(conn: Connection, tenant_id: str, external_order_ids: list[str]) -> set[str]:
    """Which of ``external_order_ids`` were pushed paid already (one query)."""
    if not external_order_ids:
        return set()
    if len(external_order_ids) > 1 and conn.dialect.name == "postgresql":
        ids = list(dict.fromkeys(external_order_ids))
        return {row[0] for row in conn.execute(_PG_PUSHED, {"ids": ids, "tenant_id": tenant_id})}
    query = select(integration_orders.c.external_order_id).where(
        integration_orders.c.tenant_id == tenant_id,
        integration_orders.c.external_order_id.in_(external_order_ids),
    )
    return {row[0] for row in conn.execute(query)}
