"""The in-memory accounts' ports of the fake unit of work (``fakes.py``): members' credentials
(password hashes live in ``FakeUserBook.hashes``, shared with registration), the platform's
operators and access control's records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from fakes_people import FakeUserBook
from fakes_withdrawals import FakeAuditTrail

from tokenmall.domain.mall.access import NO_CAPS, AuditEntry, Caps
from tokenmall.domain.mall.people import Credential, Role


@dataclass
class Session:
    owner_id: str
    secret_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def credential(self) -> Credential:
        return Credential(self.owner_id, self.secret_hash, self.expires_at, self.revoked)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass
class FakeCredentials:
    """Members' sessions by (tenant, session id); the password hashes and API keys are the
    ``people`` port's (``users``, ``hashes``, ``keys``), as in the database. ``key_hashes``:
    the API keys' secret hashes, by (tenant, key id)."""

    people: FakeUserBook
    sessions: dict[tuple[str, str], Session] = field(default_factory=dict)
    key_hashes: dict[tuple[str, str], str] = field(default_factory=dict)

    def login_row(self, tenant_id: str, email: str) -> tuple[str, str] | None:
        for (t, user_id), user in sorted(self.people.users.items()):
            if t == tenant_id and user.email == email:
                return user_id, self.people.hashes[(t, user_id)]
        return None

    def password_hash(self, tenant_id: str, user_id: str) -> str | None:
        return self.people.hashes.get((tenant_id, user_id))

    def set_password_hash(self, tenant_id: str, user_id: str, new_hash: str) -> None:
        if (tenant_id, user_id) in self.people.users:
            self.people.hashes[(tenant_id, user_id)] = new_hash

    def add_session(
        self,
        tenant_id: str,
        session_id: str,
        user_id: str,
        secret_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        assert (tenant_id, session_id) not in self.sessions, "a session is added once"
        self.sessions[(tenant_id, session_id)] = Session(user_id, secret_hash, now, expires_at)

    def session(self, tenant_id: str, session_id: str) -> Credential | None:
        found = self.sessions.get((tenant_id, session_id))
        return None if found is None else found.credential()

    def session_created_at(self, tenant_id: str, session_id: str) -> datetime | None:
        found = self.sessions.get((tenant_id, session_id))
        return None if found is None else found.created_at

    def slide_session(self, tenant_id: str, session_id: str, expires_at: datetime) -> None:
        found = self.sessions.get((tenant_id, session_id))
        if found is not None and not found.revoked and found.expires_at < expires_at:
            found.expires_at = expires_at

    def revoke_sessions(
        self, tenant_id: str, user_id: str, now: datetime, keep: str | None = None
    ) -> int:
        revoked = 0
        for (t, session_id), found in self.sessions.items():
            live = not found.revoked and found.expires_at > now
            if t == tenant_id and found.owner_id == user_id and live and session_id != keep:
                found.revoked_at = now
                revoked += 1
        return revoked

    def api_key(self, tenant_id: str, key_id: str) -> Credential | None:
        key = self.people.keys.get((tenant_id, key_id))
        if key is None:
            return None
        secret_hash = self.key_hashes.get((tenant_id, key_id), "")
        return Credential(key.user_id, secret_hash, None, key.revoked_at is not None, key.scopes)

    def with_role(
        self, kind: Literal["session", "api_key"], tenant_id: str, credential_id: str
    ) -> tuple[Credential, Role] | None:
        if kind == "session":
            found = self.session(tenant_id, credential_id)
        else:
            found = self.api_key(tenant_id, credential_id)
        user = None if found is None else self.people.users.get((tenant_id, found.owner_id))
        return None if found is None or user is None else (found, user.role)

    def sessions_with_role(
        self, tenant_id: str, session_ids: list[str]
    ) -> dict[str, tuple[Credential, Role]]:
        found = {sid: self.with_role("session", tenant_id, sid) for sid in session_ids}
        return {sid: held for sid, held in found.items() if held is not None}


@dataclass
class FakeOperators:
    """Operators by id (email, password hash) and their sessions by id."""

    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)

    def login_row(self, email: str) -> tuple[str, str] | None:
        found = (
            (operator_id, password_hash)
            for operator_id, (address, password_hash) in sorted(self.accounts.items())
            if address == email
        )
        return next(found, None)

    def add(self, operator_id: str, email: str, password_hash: str, now: datetime) -> None:
        assert self.login_row(email) is None, "the email is unique (the database refuses)"
        self.accounts[operator_id] = (email, password_hash)

    def add_unless_exists(
        self, operator_id: str, email: str, password_hash: str, now: datetime
    ) -> bool:
        if self.login_row(email) is not None:
            return False
        self.accounts[operator_id] = (email, password_hash)
        return True

    def add_session(
        self,
        session_id: str,
        operator_id: str,
        secret_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        assert session_id not in self.sessions, "a session is added once"
        self.sessions[session_id] = Session(operator_id, secret_hash, now, expires_at)

    def session(self, session_id: str) -> Credential | None:
        found = self.sessions.get(session_id)
        return None if found is None else found.credential()

    def revoke_session(self, session_id: str, now: datetime) -> None:
        found = self.sessions.get(session_id)
        if found is not None and not found.revoked:
            self.sessions[session_id] = replace(found, revoked_at=now)


@dataclass
class FakeAccess:
    """Access control's records, read from the unit's other ports as the database joins its
    tables: the audit trail (``audit``), the signup marks (``people.marks``), the pushed
    integration orders (``integration.orders``); the caps are its own, by tenant."""

    audit: FakeAuditTrail
    people: FakeUserBook
    integration: Any
    caps_of: dict[str, Caps] = field(default_factory=dict)

    def trail(
        self, tenant_id: str, *, subject_id: str | None, before: str | None, limit: int
    ) -> list[AuditEntry]:
        found = [
            e
            for t, e in self.audit.entries
            if t == tenant_id
            and (subject_id is None or e.subject_id == subject_id)
            and (before is None or e.entry_id < before)
        ]
        return sorted(found, key=lambda e: e.entry_id, reverse=True)[:limit]

    def shared_signups(self, tenant_id: str, limit: int) -> list[tuple[str, str, str]]:
        marks = self.people.marks
        found = []
        for (t, user_id), user in sorted(self.people.users.items()):
            mark = marks.get((t, user_id))
            if t != tenant_id or user.inviter_id is None or mark is None:
                continue
            if marks.get((t, user.inviter_id)) == mark:
                found.append((user_id, user.inviter_id, mark))
        return found[:limit]

    def caps(self, tenant_id: str) -> Caps:
        return self.caps_of.get(tenant_id, NO_CAPS)

    def put_caps(self, tenant_id: str, caps: Caps) -> None:
        self.caps_of[tenant_id] = caps

    def pushed_since(self, tenant_id: str, since: datetime) -> int:
        orders = self.integration.orders
        return sum(
            o.amount_fen for (t, _), o in orders.items() if t == tenant_id and o.paid_at >= since
        )

    def pushed_orders(self, tenant_id: str, external_order_ids: Sequence[str]) -> set[str]:
        return {oid for oid in external_order_ids if (tenant_id, oid) in self.integration.orders}
