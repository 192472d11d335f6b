"""The accounts' repositories of the SQL unit of work: members' credentials and the platform's
operators (``adapters/db/uow.py`` binds them to the unit's transaction)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import accounts as accounts_repo
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.domain.mall.people import Credential


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
