"""Operators, users, sessions and API keys. Secrets are stored only as hashes."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from tokenmall.adapters.db.mall.access import api_key_scopes
from tokenmall.adapters.db.mall.rows import aware, maybe_aware
from tokenmall.adapters.db.mall.tables import (
    api_keys,
    operator_sessions,
    operators,
    sessions,
    users,
)
from tokenmall.domain.mall.people import (
    ApiKey,
    Credential,
    KycStatus,
    Role,
    User,
    format_scopes,
    parse_scopes,
)

# --- operators (platform level) ---


def add_operator(
    conn: Connection, operator_id: str, email: str, password_hash: str, now: datetime
) -> None:
    conn.execute(
        insert(operators).values(
            operator_id=operator_id, email=email, password_hash=password_hash, created_at=now
        )
    )


def add_operator_unless_exists(
    conn: Connection, operator_id: str, email: str, password_hash: str, now: datetime
) -> bool:
    """Insert the operator unless one with this email exists (also one inserted at this moment
    by another process); True if this call inserted it."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(operators)
        .values(operator_id=operator_id, email=email, password_hash=password_hash, created_at=now)
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(operators.c.operator_id)
    )
    return conn.execute(statement).first() is not None


def operator_login_row(conn: Connection, email: str) -> tuple[str, str] | None:
    query = select(operators.c.operator_id, operators.c.password_hash).where(
        operators.c.email == email
    )
    row = conn.execute(query).first()
    return None if row is None else (row.operator_id, row.password_hash)


def add_operator_session(
    conn: Connection,
    session_id: str,
    operator_id: str,
    secret_hash: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        insert(operator_sessions).values(
            session_id=session_id,
            operator_id=operator_id,
            secret_hash=secret_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )


def operator_session(conn: Connection, session_id: str) -> Credential | None:
    query = select(operator_sessions).where(operator_sessions.c.session_id == session_id)
    row = conn.execute(query).first()
    if row is None:
        return None
    return Credential(
        owner_id=row.operator_id,
        secret_hash=row.secret_hash,
        expires_at=aware(row.expires_at),
        revoked=row.revoked_at is not None,
    )


def revoke_operator_session(conn: Connection, session_id: str, now: datetime) -> None:
    conn.execute(
        update(operator_sessions)
        .where(
            operator_sessions.c.session_id == session_id, operator_sessions.c.revoked_at.is_(None)
        )
        .values(revoked_at=now)
    )


# --- users ---


def _user(row: Any) -> User:
    return User(
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        email=row.email,
        display_name=row.display_name,
        role=Role(row.role),
        kyc_status=KycStatus(row.kyc_status),
        invite_code=row.invite_code,
        inviter_id=row.inviter_id,
        created_at=aware(row.created_at),
    )


def add_user(conn: Connection, user: User, password_hash: str) -> None:
    conn.execute(
        insert(users).values(
            tenant_id=user.tenant_id,
            user_id=user.user_id,
            email=user.email,
            display_name=user.display_name,
            password_hash=password_hash,
            role=user.role,
            kyc_status=user.kyc_status,
            invite_code=user.invite_code,
            inviter_id=user.inviter_id,
            created_at=user.created_at,
        )
    )


def get_user(conn: Connection, tenant_id: str, user_id: str) -> User | None:
    query = select(users).where(users.c.tenant_id == tenant_id, users.c.user_id == user_id)
    row = conn.execute(query).first()
    return None if row is None else _user(row)


def email_taken(conn: Connection, tenant_id: str, email: str) -> bool:
    query = select(users.c.user_id).where(users.c.tenant_id == tenant_id, users.c.email == email)
    return conn.execute(query).first() is not None


def user_by_invite_code(conn: Connection, tenant_id: str, code: str) -> User | None:
    query = select(users).where(users.c.tenant_id == tenant_id, users.c.invite_code == code)
    row = conn.execute(query).first()
    return None if row is None else _user(row)


def login_row(conn: Connection, tenant_id: str, email: str) -> tuple[str, str] | None:
    query = select(users.c.user_id, users.c.password_hash).where(
        users.c.tenant_id == tenant_id, users.c.email == email
    )
    row = conn.execute(query).first()
    return None if row is None else (row.user_id, row.password_hash)


def list_users(
    conn: Connection, tenant_id: str, role: str | None, after: str | None, limit: int
) -> list[User]:
    query = select(users).where(users.c.tenant_id == tenant_id).order_by(users.c.user_id)
    if role is not None:
        query = query.where(users.c.role == role)
    if after is not None:
        query = query.where(users.c.user_id > after)
    return [_user(row) for row in conn.execute(query.limit(limit))]


def invitee_ids(conn: Connection, tenant_id: str, inviter_id: str) -> list[str]:
    query = select(users.c.user_id).where(
        users.c.tenant_id == tenant_id, users.c.inviter_id == inviter_id
    )
    return [row.user_id for row in conn.execute(query.order_by(users.c.user_id))]


def count_users(conn: Connection, tenant_id: str) -> int:
    query = select(func.count()).select_from(users).where(users.c.tenant_id == tenant_id)
    return int(conn.execute(query).scalar_one())


def set_user_fields(conn: Connection, tenant_id: str, user_id: str, **values: str) -> bool:
    # Only role, kyc_status and display_name are ever updated; inviter_id never is.
    assert set(values) <= {"role", "kyc_status", "display_name"}, values
    result = conn.execute(
        update(users)
        .where(users.c.tenant_id == tenant_id, users.c.user_id == user_id)
        .values(**values)
    )
    return result.rowcount == 1


# --- sessions ---


def add_session(
    conn: Connection,
    tenant_id: str,
    session_id: str,
    user_id: str,
    secret_hash: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        insert(sessions).values(
            tenant_id=tenant_id,
            session_id=session_id,
            user_id=user_id,
            secret_hash=secret_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )


def session(conn: Connection, tenant_id: str, session_id: str) -> Credential | None:
    query = select(sessions).where(
        sessions.c.tenant_id == tenant_id, sessions.c.session_id == session_id
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    return Credential(
        owner_id=row.user_id,
        secret_hash=row.secret_hash,
        expires_at=aware(row.expires_at),
        revoked=row.revoked_at is not None,
    )


def revoke_session(conn: Connection, tenant_id: str, session_id: str, now: datetime) -> None:
    conn.execute(
        update(sessions)
        .where(
            sessions.c.tenant_id == tenant_id,
            sessions.c.session_id == session_id,
            sessions.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


# --- API keys ---


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        tenant_id=row.tenant_id,
        key_id=row.key_id,
        user_id=row.user_id,
        name=row.name,
        created_at=aware(row.created_at),
        revoked_at=maybe_aware(row.revoked_at),
        scopes=parse_scopes(row.scopes or ""),
    )


def _keys_query() -> Any:
    """API keys with their scopes (a key without a scopes row holds none)."""
    joined = api_keys.outerjoin(
        api_key_scopes,
        and_(
            api_key_scopes.c.tenant_id == api_keys.c.tenant_id,
            api_key_scopes.c.key_id == api_keys.c.key_id,
        ),
    )
    return select(api_keys, api_key_scopes.c.scopes).select_from(joined)


def add_api_key(conn: Connection, key: ApiKey, secret_hash: str) -> None:
    conn.execute(
        insert(api_keys).values(
            tenant_id=key.tenant_id,
            key_id=key.key_id,
            user_id=key.user_id,
            name=key.name,
            secret_hash=secret_hash,
            created_at=key.created_at,
        )
    )
    conn.execute(
        insert(api_key_scopes).values(
            tenant_id=key.tenant_id, key_id=key.key_id, scopes=format_scopes(key.scopes)
        )
    )


def api_key_credential(conn: Connection, tenant_id: str, key_id: str) -> Credential | None:
    query = _keys_query().where(api_keys.c.tenant_id == tenant_id, api_keys.c.key_id == key_id)
    row = conn.execute(query).first()
    if row is None:
        return None
    return Credential(
        owner_id=row.user_id,
        secret_hash=row.secret_hash,
        expires_at=None,
        revoked=row.revoked_at is not None,
        scopes=parse_scopes(row.scopes or ""),
    )


def with_role(
    conn: Connection, kind: str, tenant_id: str, credential_id: str
) -> tuple[Credential, Role] | None:
    """A session (``kind`` "session") or an API key as a credential, with its owner's role
    now, in one statement; None if either is missing."""
    if kind == "session":
        query = (
            select(sessions, users.c.role)
            .join(
                users,
                and_(
                    users.c.tenant_id == sessions.c.tenant_id, users.c.user_id == sessions.c.user_id
                ),
            )
            .where(sessions.c.tenant_id == tenant_id, sessions.c.session_id == credential_id)
        )
    else:
        query = (
            _keys_query()
            .add_columns(users.c.role)
            .join(
                users,
                and_(
                    users.c.tenant_id == api_keys.c.tenant_id, users.c.user_id == api_keys.c.user_id
                ),
            )
            .where(api_keys.c.tenant_id == tenant_id, api_keys.c.key_id == credential_id)
        )
    row = conn.execute(query).first()
    if row is None:
        return None
    if kind == "session":
        return session_credential_of_row(row)
    found = Credential(
        owner_id=row.user_id,
        secret_hash=row.secret_hash,
        expires_at=None,
        revoked=row.revoked_at is not None,
        scopes=parse_scopes(row.scopes or ""),
    )
    return found, Role(row.role)


def session_credential_of_row(row: Any) -> tuple[Credential, Role]:
    """A session's row (its user id, secret hash, expiry, revocation and its owner's role)
    as ``with_role`` returns it."""
    found = Credential(
        owner_id=row.user_id,
        secret_hash=row.secret_hash,
        expires_at=aware(row.expires_at),
        revoked=row.revoked_at is not None,
        scopes=frozenset(),
    )
    return found, Role(row.role)


def sessions_with_role(
    conn: Connection, tenant_id: str, session_ids: list[str]
) -> dict[str, tuple[Credential, Role]]:
    """``with_role`` of many sessions of one tenant in one statement (the ids found)."""
    if not session_ids:
        return {}
    rows = conn.execute(
        _sessions_query(conn.dialect.name == "postgresql"),
        {"tenant_id": tenant_id, "ids": sorted(set(session_ids))},
    )
    return {
        str(row.session_id): (
            Credential(
                owner_id=row.user_id,
                secret_hash=row.secret_hash,
                expires_at=aware(row.expires_at),
                revoked=row.revoked_at is not None,
                scopes=frozenset(),
            ),
            Role(row.role),
        )
        for row in rows
    }


@cache
def _sessions_query(postgres: bool) -> Any:
    """``sessions_with_role``'s statement, built once: on PostgreSQL the ids are one array
    parameter (``= ANY``), not one parameter each (a batch of presses asks for dozens)."""
    s = sessions.c
    if postgres:
        among = s.session_id == any_(bindparam("ids", type_=ARRAY(String)))
    else:
        among = s.session_id.in_(bindparam("ids", expanding=True))
    return (
        select(s.session_id, s.user_id, s.secret_hash, s.expires_at, s.revoked_at, users.c.role)
        .join(users, and_(users.c.tenant_id == s.tenant_id, users.c.user_id == s.user_id))
        .where(s.tenant_id == bindparam("tenant_id"), among)
    )


def get_api_key(conn: Connection, tenant_id: str, key_id: str) -> ApiKey | None:
    query = _keys_query().where(api_keys.c.tenant_id == tenant_id, api_keys.c.key_id == key_id)
    row = conn.execute(query).first()
    return None if row is None else _api_key(row)


def list_api_keys(conn: Connection, tenant_id: str, user_id: str | None) -> list[ApiKey]:
    query = _keys_query().where(api_keys.c.tenant_id == tenant_id).order_by(api_keys.c.key_id)
    if user_id is not None:
        query = query.where(api_keys.c.user_id == user_id)
    return [_api_key(row) for row in conn.execute(query)]


def revoke_api_key(conn: Connection, tenant_id: str, key_id: str, now: datetime) -> None:
    conn.execute(
        update(api_keys)
        .where(
            api_keys.c.tenant_id == tenant_id,
            api_keys.c.key_id == key_id,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
