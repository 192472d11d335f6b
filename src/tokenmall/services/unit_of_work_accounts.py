"""The accounts' ports of the unit of work: who may sign in, and the credentials they hold.

* ``credentials``: a tenant's users' password hashes, their sessions (added, found, slid,
  revoked) and their API keys as credentials;
* ``operators``: the platform's operators and their sessions;
* ``access``: access control's records: the audit trail read back a page at a time, the
  signup marks shared by an inviter and their invitee, the integration caps and what the
  integration pushed (which the caps are checked against).

The SQL implementations are ``adapters/db/uow_accounts.py``; the fakes are
``tests/services/fakes_accounts.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from tokenmall.domain.mall.access import AuditEntry, Caps
from tokenmall.domain.mall.people import Credential, Role


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

    def with_role(
        self, kind: Literal["session", "api_key"], tenant_id: str, credential_id: str
    ) -> tuple[Credential, Role] | None:
        """A session or an API key as a credential (``session``, ``api_key``) with its owner's
        role now, read together; None if there is no such credential or no such user."""

    def sessions_with_role(
        self, tenant_id: str, session_ids: list[str]
    ) -> dict[str, tuple[Credential, Role]]:
        """``with_role`` of many sessions of one tenant in one read: id → (credential, role),
        for the ids found."""


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


class AccessRecords(Protocol):
    def trail(
        self, tenant_id: str, *, subject_id: str | None, before: str | None, limit: int
    ) -> list[AuditEntry]:
        """The audit trail, newest first (``before``: an entry id to page from)."""

    def shared_signups(self, tenant_id: str, limit: int) -> list[tuple[str, str, str]]:
        """(invitee, inviter, fingerprint) where an invitee registered from the same client
        as their inviter, in invitee id order."""

    def caps(self, tenant_id: str) -> Caps:
        """The integration caps (no caps if the tenant never set any)."""

    def put_caps(self, tenant_id: str, caps: Caps) -> None: ...

    def pushed_since(self, tenant_id: str, since: datetime) -> int:
        """Fen of integration orders pushed paid since ``since``."""

    def pushed_orders(self, tenant_id: str, external_order_ids: Sequence[str]) -> set[str]:
        """Which of these orders were pushed paid already."""
