"""The accounts' repositories of the SQL unit of work: members' credentials, the platform's
operators and access control's records (``adapters/db/uow.py`` binds them to the unit's
transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import access as access_repo
from tokenmall.adapters.db.mall import accounts as accounts_repo
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.domain.mall.access import AuditEntry, Caps
from tokenmall.domain.mall.people import Credential, Role


class SqlCredentials:
    """Members' password hashes, sessions and API keys as credentials
    (``adapters/db/mall/accounts.py`` and ``people.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def login_row(self, tenant_id: str, email: str) -> tuple[str, str] | None:
        return people_repo.login_row(self.conn, tenant_id, email)

    def password_hash(self, tenant_id: str, user_id: str) -> str | None:
        return accounts_repo.password_hash(self.conn, tenant_id, user_id)

    def set_password_hash(self, tenant_id: str, user_id: str, new_hash: str) -> None:
        accounts_repo.set_password_hash(self.conn, tenant_id, user_id, new_hash)

    def add_session(
        self,
        tenant_id: str,
        session_id: str,
        user_id: str,
        secret_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        people_repo.add_session(
            self.conn, tenant_id, session_id, user_id, secret_hash, now, expires_at
        )

    def session(self, tenant_id: str, session_id: str) -> Credential | None:
        return people_repo.session(self.conn, tenant_id, session_id)

    def session_created_at(self, tenant_id: str, session_id: str) -> datetime | None:
        return accounts_repo.session_created_at(self.conn, tenant_id, session_id)

    def slide_session(self, tenant_id: str, session_id: str, expires_at: datetime) -> None:
        accounts_repo.slide_session(self.conn, tenant_id, session_id, expires_at)

    def revoke_sessions(
        self, tenant_id: str, user_id: str, now: datetime, keep: str | None = None
    ) -> int:
        return accounts_repo.revoke_sessions(self.conn, tenant_id, user_id, now, keep)

    def api_key(self, tenant_id: str, key_id: str) -> Credential | None:
        return people_repo.api_key_credential(self.conn, tenant_id, key_id)

    def with_role(
        self, kind: Literal["session", "api_key"], tenant_id: str, credential_id: str
    ) -> tuple[Credential, Role] | None:
        return people_repo.with_role(self.conn, kind, tenant_id, credential_id)

    def sessions_with_role(
        self, tenant_id: str, session_ids: list[str]
    ) -> dict[str, tuple[Credential, Role]]:
        return people_repo.sessions_with_role(self.conn, tenant_id, session_ids)


class SqlOperators:
    """The platform's operators and their sessions (``adapters/db/mall/people.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def login_row(self, email: str) -> tuple[str, str] | None:
        return people_repo.operator_login_row(self.conn, email)

    def add(self, operator_id: str, email: str, password_hash: str, now: datetime) -> None:
        people_repo.add_operator(self.conn, operator_id, email, password_hash, now)

    def add_unless_exists(
        self, operator_id: str, email: str, password_hash: str, now: datetime
    ) -> bool:
        return people_repo.add_operator_unless_exists(
            self.conn, operator_id, email, password_hash, now
        )

    def add_session(
        self,
        session_id: str,
        operator_id: str,
        secret_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        people_repo.add_operator_session(
            self.conn, session_id, operator_id, secret_hash, now, expires_at
        )

    def session(self, session_id: str) -> Credential | None:
        return people_repo.operator_session(self.conn, session_id)

    def revoke_session(self, session_id: str, now: datetime) -> None:
        people_repo.revoke_operator_session(self.conn, session_id, now)


class SqlAccess:
    """The audit trail's pages, signup marks, integration caps and pushed orders
    (``adapters/db/mall/access.py``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def trail(
        self, tenant_id: str, *, subject_id: str | None, before: str | None, limit: int
    ) -> list[AuditEntry]:
        return access_repo.entries(
            self.conn, tenant_id, subject_id=subject_id, before=before, limit=limit
        )

    def shared_signups(self, tenant_id: str, limit: int) -> list[tuple[str, str, str]]:
        return access_repo.shared_mark_pairs(self.conn, tenant_id, limit)

    def caps(self, tenant_id: str) -> Caps:
        return access_repo.get_caps(self.conn, tenant_id)

    def put_caps(self, tenant_id: str, caps: Caps) -> None:
        access_repo.put_caps(self.conn, tenant_id, caps)

    def pushed_since(self, tenant_id: str, since: datetime) -> int:
        return access_repo.pushed_since(self.conn, tenant_id, since)

    def pushed_orders(self, tenant_id: str, external_order_ids: Sequence[str]) -> set[str]:
        return access_repo.pushed_orders(self.conn, tenant_id, list(external_order_ids))
