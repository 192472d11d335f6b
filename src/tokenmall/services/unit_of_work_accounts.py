"""The accounts' ports of the unit of work: who may sign in, and the credentials they hold.

* ``credentials``: a tenant's users' password hashes, their sessions (added, found, slid,
  revoked) and their API keys as credentials;
* ``operators``: the platform's operators and their sessions.

The SQL implementations are ``adapters/db/uow_accounts.py``; the fakes are
``tests/services/fakes_accounts.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tokenmall.domain.mall.people import Credential


class Credentials(Protocol):
    def login_row(self, tenant_id: str, email: str) -> tuple[str, str] | None:
        """The user id and password hash of the member with this (lower-case) email."""

    def password_hash(self, tenant_id: str, user_id: str) -> str | None: ...

    def set_password_hash(self, tenant_id: str, user_id: str, new_hash: str) -> None: ...

    def add_session(
        self,
        tenant_id: str,
        session_id: str,
        user_id: str,
        secret_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> None: ...

    def session(self, tenant_id: str, session_id: str) -> Credential | None: ...

    def session_created_at(self, tenant_id: str, session_id: str) -> datetime | None: ...

    def slide_session(self, tenant_id: str, session_id: str, expires_at: datetime) -> None:
        """Move a live session's idle deadline forward (never back)."""

    def revoke_sessions(
        self, tenant_id: str, user_id: str, now: datetime, keep: str | None = None
    ) -> int:
        """Revoke every live session of a user (but ``keep``); how many were revoked."""

    def api_key(self, tenant_id: str, key_id: str) -> Credential | None:
        """An API key as a credential (its owner, secret hash and scopes)."""


class Operators(Protocol):
    def login_row(self, email: str) -> tuple[str, str] | None:
        """The operator id and password hash of the operator with this email."""

    def add(self, operator_id: str, email: str, password_hash: str, now: datetime) -> None: ...

    def add_unless_exists(
        self, operator_id: str, email: str, password_hash: str, now: datetime
    ) -> bool:
        """Add the operator unless one with this email exists (also one added at this moment
        by another process); True if this call added it."""

    def add_session(
        self,
        session_id: str,
        operator_id: str,
        secret_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> None: ...

    def session(self, session_id: str) -> Credential | None: ...

    def revoke_session(self, session_id: str, now: datetime) -> None: ...
