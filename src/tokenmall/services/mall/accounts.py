"""Accounts: signing in (throttled, the password checked outside any transaction), idle
sessions, changing and resetting passwords, and signing out everywhere.

A session's ``expires_at`` is its idle deadline: set at sign-in to ``now + idle`` (capped by the
session's whole lifetime) and slid forward as it is used, at most one write every
``idle / 10``. A session unused for ``idle`` stops working; ``idle = 0`` turns this off.

A password reset link carries ``<user id>.<expiry>.<signature>``: an HMAC under the server's
secret of the tenant, the user, the expiry and the *current* password hash. It is single-use
(a new password changes the hash) and needs no table; a reset revokes every session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

from tokenmall.domain.mall.people import Role, User
from tokenmall.services.mall import auth, passwords
from tokenmall.services.mall.auth import IssuedToken, Principal, require
from tokenmall.services.mall.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from tokenmall.services.mall.throttle import Throttle
from tokenmall.services.unit_of_work import UnitOfWork, Units

log = logging.getLogger("tokenmall.accounts")
RESET_TTL = timedelta(hours=1)
_WRONG = "wrong email or password"


class Sender(Protocol):
    """Where account messages (reset links, notices) go: an email gateway in production."""

    def send(self, to: str, subject: str, text: str) -> None: ...


class LogSender:
    """The development sender: writes each message to the log instead of mailing it."""

    def send(self, to: str, subject: str, text: str) -> None:
        log.info("mail", extra={"fields": {"to": to, "subject": subject, "text": text}})


def login(
    db: Units,
    guard: Throttle,
    tenant_id: str,
    email: str,
    password: str,
    *,
    client: str,
    now: datetime,
    ttl: timedelta,
    idle: timedelta | None,
) -> tuple[User, IssuedToken]:
    """Sign in: refused (429) while the account or client is locked; the hash is checked in
    the bounded pool outside any transaction (no connection is held while it waits)."""
    address = email.strip().lower()
    guard.before_login(tenant_id, address, client)
    with db.reading() as reader:
        found = reader.credentials.login_row(tenant_id, address)
    # Verify even when there is no such user, so timing does not tell which emails exist.
    ok = passwords.verify_password(password, None if found is None else found[1])
    if found is None or not ok:
        guard.login_failed(tenant_id, address, client)
        raise Unauthenticated(_WRONG)
    guard.login_succeeded(tenant_id, address)
    with db.unit() as uow:
        user = uow.people.get_user(tenant_id, found[0])
        assert user is not None
        lifetime = ttl if idle is None else min(ttl, idle)
        issued = auth.issue_session(uow, tenant_id, user.user_id, now, lifetime)
    return user, issued


# The throttle's realm of platform operators ("-" is never a tenant id).
OPERATORS = "-"


def operator_login(
    db: Units,
    guard: Throttle,
    email: str,
    password: str,
    *,
    client: str,
    now: datetime,
    ttl: timedelta,
) -> IssuedToken:
    """An operator signs in: throttled and hashed as a member's sign-in."""
    address = email.strip().lower()
    guard.before_login(OPERATORS, address, client)
    with db.reading() as reader:
        found = reader.operators.login_row(address)
    ok = passwords.verify_password(password, None if found is None else found[1])
    if found is None or not ok:
        guard.login_failed(OPERATORS, address, client)
        raise Unauthenticated(_WRONG)
    guard.login_succeeded(OPERATORS, address)
    with db.unit() as uow:
        return auth.issue_operator_session(uow, found[0], now, ttl)


def authenticate(
    db: Units, token: str, now: datetime, *, ttl: timedelta, idle: timedelta | None
) -> Principal:
    """The caller of ``token``; a user's session used after a tenth of its idle time has its
    idle deadline slid forward (capped by its lifetime). The credential and its owner's role
    are one statement, read without a transaction of its own."""
    with db.reading_one() as reader:
        principal, found = auth.authenticate_credential(reader, token, now)
    if not _slide_due(principal, found.expires_at, now, idle):
        return principal
    with db.unit() as uow:
        _slide(uow, principal, now, ttl, idle)
    return principal


def authenticate_in(
    uow: UnitOfWork, token: str, now: datetime, *, ttl: timedelta, idle: timedelta | None
) -> Principal:
    """``authenticate`` inside the caller's transaction (one transaction for a request that
    writes anyway); the slide, when due, is written with the request's changes."""
    principal, found = auth.authenticate_credential(uow, token, now)
    if _slide_due(principal, found.expires_at, now, idle):
        _slide(uow, principal, now, ttl, idle)
    return principal


@dataclass(frozen=True, slots=True)
class SignIn:
    """``authenticate_in`` of a request's credential (``token``; None: anonymous) inside a
    write's own transaction, with the session's lifetime and idle time."""

    token: str | None
    ttl: timedelta
    idle: timedelta | None

    def __call__(self, uow: UnitOfWork, now: datetime) -> Principal | None:
        if self.token is None:
            return None
        return authenticate_in(uow, self.token, now, ttl=self.ttl, idle=self.idle)

    def reading(self, uow: UnitOfWork, now: datetime) -> tuple[Principal | None, bool]:
        """The caller, read on ``uow`` without writing, and whether its session's idle slide
        is due (then sign in inside a write instead: ``__call__``)."""
        if self.token is None:
            return None, False
        principal, found = auth.authenticate_credential(uow, self.token, now)
        return principal, _slide_due(principal, found.expires_at, now, self.idle)


def sign_in_many(
    uow: UnitOfWork, sign_ins: list[SignIn], now: datetime
) -> list[tuple[Principal | None, Callable[[], None] | None] | Unauthenticated]:
    """Each ``SignIn``'s caller with its session's idle slide when due, not yet written (a
    batch writes it only for a request that succeeds: a refused one writes nothing), or its
    refusal in its place; the sessions read together (``auth.authenticate_many``)."""
    tokens = [s.token for s in sign_ins if s.token is not None]
    found = iter(auth.authenticate_many(uow, tokens, now))
    answers: list[tuple[Principal | None, Callable[[], None] | None] | Unauthenticated] = []
    for sign_in in sign_ins:
        if sign_in.token is None:
            answers.append((None, None))
            continue
        got = next(found)
        if isinstance(got, Unauthenticated):
            answers.append(got)
            continue
        principal, credential = got
        slide = None
        if _slide_due(principal, credential.expires_at, now, sign_in.idle):
            slide = partial(_slide, uow, principal, now, sign_in.ttl, sign_in.idle)
        answers.append((principal, slide))
    return answers


def _slide_due(
    principal: Principal, expires_at: datetime | None, now: datetime, idle: timedelta | None
) -> bool:
    if idle is None or principal.via != "session" or principal.tenant_id is None:
        return False
    return expires_at is not None and expires_at - now <= idle - idle / 10


def _slide(
    uow: UnitOfWork, principal: Principal, now: datetime, ttl: timedelta, idle: timedelta | None
) -> None:
    assert principal.tenant_id is not None
    assert idle is not None
    created = uow.credentials.session_created_at(principal.tenant_id, principal.credential_id)
    if created is not None:
        deadline = min(created + ttl, now + idle)
        uow.credentials.slide_session(principal.tenant_id, principal.credential_id, deadline)


def _own_user(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> User:
    who = require(caller, tenant_id, (Role.CONSUMER, Role.MERCHANT, Role.ADMIN))
    user = uow.people.get_user(tenant_id, who.subject_id)
    assert user is not None
    return user


def change_password(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    old_password: str,
    new_password: str,
    guard: Throttle,
    client: str,
    now: datetime,
) -> int:
    """The caller changes their password with the old one; every *other* session of theirs
    is revoked. Wrong old passwords count as failed sign-ins. How many sessions were revoked."""
    user = _own_user(uow, caller, tenant_id)
    assert caller is not None
    if caller.via != "session":
        raise Forbidden("a password is changed from a signed-in session, not with an API key")
    guard.before_login(tenant_id, user.email, client)
    if not passwords.verify_password(
        old_password, uow.credentials.password_hash(tenant_id, user.user_id)
    ):
        guard.login_failed(tenant_id, user.email, client)
        raise InvalidInput("the current password is wrong", "old_password")
    passwords.check_strength(new_password, "new_password", email=user.email)
    if new_password == old_password:
        raise InvalidInput("the new password must differ from the current one", "new_password")
    uow.credentials.set_password_hash(
        tenant_id, user.user_id, passwords.hash_password(new_password)
    )
    return uow.credentials.revoke_sessions(tenant_id, user.user_id, now, keep=caller.credential_id)


def logout_everywhere(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, now: datetime
) -> int:
    """Revoke every session of the caller, this one included; how many."""
    user = _own_user(uow, caller, tenant_id)
    return uow.credentials.revoke_sessions(tenant_id, user.user_id, now)


def reset_by_admin(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    user_id: str,
    *,
    new_password: str,
    now: datetime,
) -> int:
    """A tenant's admin sets a member's password (to be changed by them afterwards); every
    session of that member is revoked. Another admin's password is not theirs to set: that
    would let one admin become two."""
    who = require(caller, tenant_id, (Role.ADMIN,))
    user = uow.people.get_user(tenant_id, user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    if user.role == Role.ADMIN and user.user_id != who.subject_id:
        raise Forbidden("an admin's password is changed by that admin only")
    passwords.check_strength(new_password, "new_password", email=user.email)
    uow.credentials.set_password_hash(tenant_id, user_id, passwords.hash_password(new_password))
    return uow.credentials.revoke_sessions(tenant_id, user_id, now)


def _signature(secret: bytes, tenant_id: str, user_id: str, expires: int, current: str) -> str:
    message = f"reset|{tenant_id}|{user_id}|{expires}|{current}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def request_reset(
    uow: UnitOfWork,
    tenant_id: str,
    email: str,
    *,
    secret: bytes,
    sender: Sender,
    link_base: str,
    now: datetime,
) -> None:
    """Mail a reset link to ``email`` if it has an account; the same silence either way."""
    if not uow.tenants.is_mall_tenant(tenant_id):
        raise NotFound(f"no tenant {tenant_id!r}")
    found = uow.credentials.login_row(tenant_id, email.strip().lower())
    if found is None:
        return
    user_id, current = found
    expires = int((now + RESET_TTL).timestamp())
    token = f"{user_id}.{expires}.{_signature(secret, tenant_id, user_id, expires, current)}"
    link = f"{link_base.rstrip('/')}/{tenant_id}/password-reset?token={token}"
    sender.send(
        email.strip().lower(),
        "Reset your password",
        f"To choose a new password, open {link} within an hour. "
        "If you did not ask for this, ignore this message.",
    )


def reset_with_token(
    uow: UnitOfWork,
    tenant_id: str,
    token: str,
    new_password: str,
    *,
    secret: bytes,
    now: datetime,
) -> int:
    """Set a new password from a reset link; every session is revoked. How many were."""
    refused = InvalidInput("this reset link is invalid or has expired", "token")
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise refused
    user_id, expires_text, signature = parts
    current = uow.credentials.password_hash(tenant_id, user_id)
    expires = int(expires_text)
    if current is None or datetime.fromtimestamp(expires, UTC) <= now:
        raise refused
    if not hmac.compare_digest(signature, _signature(secret, tenant_id, user_id, expires, current)):
        raise refused
    user = uow.people.get_user(tenant_id, user_id)
    assert user is not None
    passwords.check_strength(new_password, "new_password", email=user.email)
    uow.credentials.set_password_hash(tenant_id, user_id, passwords.hash_password(new_password))
    return uow.credentials.revoke_sessions(tenant_id, user_id, now)
