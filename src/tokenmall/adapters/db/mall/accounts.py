"""Accounts' secrets and sessions: a user's password hash, and revoking or sliding sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from tokenmall.adapters.db.mall.rows import aware
from tokenmall.adapters.db.mall.tables import sessions, users


def password_hash(conn: Connection, tenant_id: str, user_id: str) -> str | None:
    query = select(users.c.password_hash).where(
        users.c.tenant_id == tenant_id, users.c.user_id == user_id
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else str(found)


def set_password_hash(conn: Connection, tenant_id: str, user_id: str, new_hash: str) -> None:
    conn.execute(
        update(users)
        .where(users.c.tenant_id == tenant_id, users.c.user_id == user_id)
        .values(password_hash=new_hash)
    )


def revoke_sessions(
    conn: Connection, tenant_id: str, user_id: str, now: datetime, keep: str | None = None
) -> int:
    """Revoke every live session of a user (but ``keep``); how many were revoked."""
    query = update(sessions).where(
        sessions.c.tenant_id == tenant_id,
        sessions.c.user_id == user_id,
        sessions.c.revoked_at.is_(None),
        sessions.c.expires_at > now,
    )
    if keep is not None:
        query = query.where(sessions.c.session_id != keep)
    return int(conn.execute(query.values(revoked_at=now)).rowcount or 0)


def session_created_at(conn: Connection, tenant_id: str, session_id: str) -> datetime | None:
    query = select(sessions.c.created_at).where(
        sessions.c.tenant_id == tenant_id, sessions.c.session_id == session_id
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else aware(found)


def slide_session(conn: Connection, tenant_id: str, session_id: str, expires_at: datetime) -> None:
    """Move a live session's idle deadline forward (never back)."""
    conn.execute(
        update(sessions)
        .where(
            sessions.c.tenant_id == tenant_id,
            sessions.c.session_id == session_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at < expires_at,
        )
        .values(expires_at=expires_at)
    )
