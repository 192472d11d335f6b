"""Who is calling, and may they do this: tokens, principals and role checks.

Tokens are ``<kind>.<tenant>.<id>.<secret>``: ``tms`` a user's session (bearer token or
cookie), ``tmk`` an API key, ``tmo.<id>.<secret>`` an operator's session. The id finds the row by
its primary key (tenant first), the secret is compared by its SHA-256 in constant time.

Deny by default: every use case calls ``require`` (or ``require_operator``) with the roles that
may act. An API key also needs the scope the use case names (``admin`` unless it says
``integration`` or ``read``): a key holds only the scopes chosen when it was made. A caller of
another tenant is told the tenant does not exist (404), exactly what a caller guessing a
tenant id that really does not exist is told: nothing leaks across tenants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tokenmall.domain.mall.people import (
    ALL_SCOPES,
    Credential,
    Role,
    Scope,
    key_allows,
)
from tokenmall.domain.mall.transitions import Actor, actor_of
from tokenmall.services.mall import ids, passwords
from tokenmall.services.mall.errors import Forbidden, NotFound, Unauthenticated
from tokenmall.services.unit_of_work import UnitOfWork

Via = Literal["session", "api_key", "operator_session"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: an operator (platform) or a user of one tenant."""

    via: Via
    credential_id: str
    subject_id: str  # operator_id or user_id
    tenant_id: str | None  # None for operators
    role: Role | None  # None for operators
    scopes: frozenset[Scope] = ALL_SCOPES  # an API key's; a session may do all its role may

    @property
    def is_operator(self) -> bool:
        return self.tenant_id is None

    @property
    def scope(self) -> str:
        """Who owns an idempotency key: keys of different callers never collide."""
        return f"{'op' if self.is_operator else 'user'}:{self.subject_id}"

    @property
    def trail_name(self) -> str:
        """How the audit trail names the credential used."""
        return f"api_key:{self.credential_id}" if self.via == "api_key" else self.via


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    credential_id: str
    expires_at: datetime | None


def issue_session(
    uow: UnitOfWork, tenant_id: str, user_id: str, now: datetime, ttl: timedelta
) -> IssuedToken:
    session_id, secret = ids.new_id("ses"), ids.new_secret()
    expires_at = now + ttl
    uow.credentials.add_session(
        tenant_id, session_id, user_id, ids.hash_secret(secret), now, expires_at
    )
    return IssuedToken(f"tms.{tenant_id}.{session_id}.{secret}", session_id, expires_at)


def issue_operator_session(
    uow: UnitOfWork, operator_id: str, now: datetime, ttl: timedelta
) -> IssuedToken:
    session_id, secret = ids.new_id("ops"), ids.new_secret()
    expires_at = now + ttl
    uow.operators.add_session(session_id, operator_id, ids.hash_secret(secret), now, expires_at)
    return IssuedToken(f"tmo.{session_id}.{secret}", session_id, expires_at)


def api_key_token(tenant_id: str, key_id: str, secret: str) -> str:
    return f"tmk.{tenant_id}.{key_id}.{secret}"


_BAD = "invalid or expired credentials"


def authenticate(uow: UnitOfWork, token: str, now: datetime) -> Principal:
    return authenticate_credential(uow, token, now)[0]


def authenticate_credential(
    uow: UnitOfWork, token: str, now: datetime
) -> tuple[Principal, Credential]:
    """The caller of ``token`` and the credential it names (a session's expiry, for the idle
    slide, without reading it twice)."""
    parts = token.split(".")
    if len(parts) == 3 and parts[0] == "tmo":
        _, session_id, secret = parts
        found = uow.operators.session(session_id)
        _check(found, secret, now)
        assert found is not None
        return Principal("operator_session", session_id, found.owner_id, None, None), found
    if len(parts) != 4 or parts[0] not in ("tms", "tmk"):
        raise Unauthenticated(_BAD)
    kind, tenant_id, credential_id, secret = parts
    # The role is read now, with the credential, not when the token was issued: a demotion
    # takes effect at once.
    held = uow.credentials.with_role(
        "session" if kind == "tms" else "api_key", tenant_id, credential_id
    )
    return _principal_of(kind, tenant_id, credential_id, secret, held, now)


def _principal_of(
    kind: str,
    tenant_id: str,
    credential_id: str,
    secret: str,
    held: tuple[Credential, Role] | None,
    now: datetime,
) -> tuple[Principal, Credential]:
    """The caller a member's token (``tms`` session, ``tmk`` API key) names, from its
    credential and its owner's role as read (``held``); ``Unauthenticated`` if it fails."""
    _check(None if held is None else held[0], secret, now)
    assert held is not None
    found, role = held
    if kind == "tms":
        return Principal("session", credential_id, found.owner_id, tenant_id, role), found
    principal = Principal("api_key", credential_id, found.owner_id, tenant_id, role, found.scopes)
    return principal, found


def authenticate_many(
    uow: UnitOfWork, tokens: list[str], now: datetime
) -> list[tuple[Principal, Credential] | Unauthenticated]:
    """``authenticate_credential`` of each token, its refusal in its place; the sessions of
    the first token's tenant read in one statement, any other token as one."""
    sessions: dict[int, tuple[str, str]] = {}  # index → (session id, secret)
    tenant: str | None = None
    for i, token in enumerate(tokens):
        parts = token.split(".")
        if len(parts) == 4 and parts[0] == "tms" and parts[1] == (tenant or parts[1]):
            tenant = parts[1]
            sessions[i] = (parts[2], parts[3])
    found = (
        {}
        if tenant is None
        else uow.credentials.sessions_with_role(tenant, [sid for sid, _ in sessions.values()])
    )
    answers: list[tuple[Principal, Credential] | Unauthenticated] = []
    for i, token in enumerate(tokens):
        try:
            if i not in sessions:
                answers.append(authenticate_credential(uow, token, now))
                continue
            session_id, secret = sessions[i]
            assert tenant is not None
            answers.append(
                _principal_of("tms", tenant, session_id, secret, found.get(session_id), now)
            )
        except Unauthenticated as refused:
            answers.append(refused)
    return answers


def _check(found: Credential | None, secret: str, now: datetime) -> None:
    if found is None or found.revoked or not ids.secret_matches(secret, found.secret_hash):
        raise Unauthenticated(_BAD)
    if found.expires_at is not None and found.expires_at <= now:
        raise Unauthenticated(_BAD)


class ScopeMissing(Forbidden):
    """An API key without the scope the use case needs."""

    code = "insufficient_scope"


def require(
    principal: Principal | None,
    tenant_id: str,
    roles: Iterable[Role],
    *,
    scope: Scope = Scope.ADMIN,
) -> Principal:
    """The caller, if they belong to ``tenant_id``, hold one of ``roles`` and (an API key) hold
    ``scope`` or ``admin``; else refuse."""
    if principal is None:
        raise Unauthenticated("this endpoint needs a bearer token, session cookie or API key")
    if principal.tenant_id != tenant_id:
        raise NotFound(f"no tenant {tenant_id!r}")
    if principal.role not in set(roles):
        raise Forbidden(f"a {principal.role} may not do this")
    if principal.via == "api_key" and not key_allows(principal.scopes, scope):
        held = ", ".join(sorted(principal.scopes)) or "none"
        raise ScopeMissing(
            f"this API key lacks the {scope.value!r} scope (it holds: {held})", "scope"
        )
    return principal


def actor(principal: Principal) -> Actor:
    """Who a transition table sees in a caller that ``require`` let through."""
    assert principal.role is not None
    return actor_of(principal.role)


def require_operator(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("this endpoint needs an operator's bearer token")
    if not principal.is_operator:
        raise Forbidden("only a platform operator may do this")
    return principal


def check_password(password: str, stored_hash: str | None) -> bool:
    return passwords.verify_password(password, stored_hash)
