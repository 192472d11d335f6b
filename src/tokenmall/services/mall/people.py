"""People of a tenant: consumers, merchants and admins; registration, login, roles, KYC, keys.

Registration always makes a consumer; an admin creates merchants and admins or changes a role.
An invite code at registration binds the inviter once: there is no way to change it later
(the economy's referral rules live in the engine; this only records who invited whom). When
the tenant requires real-name (KYC) verification for withdrawals, only a verified inviter is
bound in the ledger (so only verified people earn referral points and commissions); an
unverified inviter's invitees are bound when the inviter is verified, for purchases from then
on. Every change of a role, a KYC status or an API key is written to the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tokenmall.domain.mall.access import AuditEntry
from tokenmall.domain.mall.people import ApiKey, KycStatus, Role, Scope, User
from tokenmall.domain.mall.transitions import KYC, ROLE, actor_of, kyc_move, role_move
from tokenmall.services.mall import access, auth, ids, passwords, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from tokenmall.services.mall.uow import utc_now
from tokenmall.services.unit_of_work import UnitOfWork

ALL: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)
ADMIN: tuple[Role, ...] = (Role.ADMIN,)
# Who may change people's roles and real-name status: the KYC and role tables say.
CHANGERS: tuple[Role, ...] = tuple(
    r for r in Role if r in {*KYC.roles("verify"), *ROLE.roles("make_admin")}
)


def add_user(
    uow: UnitOfWork,
    tenant_id: str,
    *,
    email: str,
    password: str,
    display_name: str,
    role: Role,
    inviter: User | None,
    now: datetime,
    field_prefix: str = "",
) -> User:
    address = validate.email(email, f"{field_prefix}email")
    name = validate.text(
        display_name or address.split("@")[0], f"{field_prefix}display_name", max_length=100
    )
    passwords.check_strength(password, f"{field_prefix}password", email=address)
    if uow.people.email_taken(tenant_id, address):
        raise Conflict(f"{address} is already registered", f"{field_prefix}email")
    user = User(
        tenant_id=tenant_id,
        user_id=ids.new_id("usr"),
        email=address,
        display_name=name,
        role=role,
        kyc_status=KYC.initial,
        invite_code=ids.new_invite_code(),
        inviter_id=None if inviter is None else inviter.user_id,
        created_at=now,
    )
    if not uow.people.add_user(user, passwords.hash_password(password)):
        # A concurrent registration took the email (or, vanishingly rarely, the invite code).
        raise Conflict(f"{address} is already registered", f"{field_prefix}email")
    return user


def register(
    uow: UnitOfWork,
    tenant_id: str,
    *,
    email: str,
    password: str,
    display_name: str,
    invite_code: str | None,
    now: datetime,
    client: str | None = None,
) -> User:
    """A new consumer; ``client`` is the hash of where they registered from (signup mark)."""
    if not uow.tenants.is_mall_tenant(tenant_id):
        raise NotFound(f"no tenant {tenant_id!r}")
    inviter = None
    if invite_code is not None:
        inviter = uow.people.by_invite_code(tenant_id, invite_code.strip().upper())
        if inviter is None:
            raise InvalidInput(f"no such invite code: {invite_code!r}", "invite_code")
    try:
        user = add_user(
            uow,
            tenant_id,
            email=email,
            password=password,
            display_name=display_name,
            role=ROLE.initial,
            inviter=inviter,
            now=now,
        )
    except Conflict:
        # The email has an account: answer exactly as for a new one (no enumeration), with
        # a record that is never stored; the work (a hash) costs the same.
        passwords.hash_password(password)
        return _unstored_consumer(tenant_id, email, display_name, inviter, now)
    if client is not None:
        uow.people.put_mark(tenant_id, user.user_id, client)
    if inviter is not None and may_earn_referrals(uow, tenant_id, inviter):
        uow.referral_tree.join(tenant_id, user.user_id, inviter.user_id)
    return user


def _unstored_consumer(
    tenant_id: str, email: str, display_name: str, inviter: User | None, now: datetime
) -> User:
    address = validate.email(email)
    return User(
        tenant_id=tenant_id,
        user_id=ids.new_id("usr"),
        email=address,
        display_name=validate.text(
            display_name or address.split("@")[0], "display_name", max_length=100
        ),
        role=ROLE.initial,
        kyc_status=KYC.initial,
        invite_code=ids.new_invite_code(),
        inviter_id=None if inviter is None else inviter.user_id,
        created_at=now,
    )


def may_earn_referrals(uow: UnitOfWork, tenant_id: str, inviter: User) -> bool:
    """Whether ``inviter`` may be bound as a referrer now: when money may leave only after
    real-name verification, referral rewards go only to verified people."""
    if not uow.withdrawals.settings(tenant_id).requires_kyc:
        return True
    return inviter.kyc_status == KycStatus.VERIFIED


def bind_waiting_invitees(uow: UnitOfWork, tenant_id: str, inviter_id: str) -> int:
    """Bind the invitees of a newly verified inviter that were left unbound; how many (an
    invitee the ledger refuses, a cycle, is never bound)."""
    invitee_ids = uow.people.invitee_ids(tenant_id, inviter_id)
    if not invitee_ids:
        return 0
    referrers = uow.referral_tree.referrers(tenant_id, invitee_ids)
    count = 0
    for invitee_id in invitee_ids:
        if referrers.get(invitee_id) is not None:
            continue
        if uow.referral_tree.join(tenant_id, invitee_id, inviter_id):
            count += 1
    return count


def logout(uow: UnitOfWork, caller: Principal | None, now: datetime) -> None:
    if caller is None or caller.via != "session" or caller.tenant_id is None:
        raise Unauthenticated("log out needs a session token")
    uow.people.revoke_session(caller.tenant_id, caller.credential_id, now)


def me(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> User:
    who = require(caller, tenant_id, ALL, scope=Scope.READ)
    user = uow.people.get_user(tenant_id, who.subject_id)
    assert user is not None
    return user


def _record(
    uow: UnitOfWork,
    tenant_id: str,
    who: Principal,
    action: str,
    subject_id: str,
    *,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    now: datetime,
) -> None:
    """One audit entry, in the unit (it commits with the change or not at all)."""
    uow.audit.add(
        tenant_id,
        AuditEntry(
            entry_id=ids.new_id("aud"),
            at=now,
            actor_id=who.subject_id,
            actor_via=who.trail_name,
            action=action,
            subject_id=subject_id,
            before=before,
            after=after,
        ),
    )


def create_user(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    email: str,
    password: str,
    display_name: str,
    role: Role,
    now: datetime,
) -> User:
    who = require(caller, tenant_id, ADMIN)
    user = add_user(
        uow,
        tenant_id,
        email=email,
        password=password,
        display_name=display_name,
        role=role,
        inviter=None,
        now=now,
    )
    _record(
        uow,
        tenant_id,
        who,
        access.USER_CREATE,
        user.user_id,
        before=None,
        after={"role": str(user.role), "kyc_status": str(user.kyc_status)},
        now=now,
    )
    return user


def get_user(uow: UnitOfWork, caller: Principal | None, tenant_id: str, user_id: str) -> User:
    who = require(caller, tenant_id, ALL, scope=Scope.READ)
    if who.role != Role.ADMIN and who.subject_id != user_id:
        # Others' accounts are invisible, not forbidden: the same answer as a wrong id.
        raise NotFound(f"no user {user_id!r}")
    user = uow.people.get_user(tenant_id, user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    return user


def list_users(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    role: Role | None,
    after: str | None,
    limit: int,
) -> list[User]:
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return uow.people.list_users(tenant_id, role, after, limit)


def update_user(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    user_id: str,
    *,
    role: Role | None,
    kyc_status: KycStatus | None,
    now: datetime | None = None,
) -> User:
    """An admin sets a user's role and/or real-name (KYC) status (audited); which moves exist
    and who may make them are the ``ROLE`` and ``KYC`` tables'."""
    at = utc_now() if now is None else now
    who = require(caller, tenant_id, CHANGERS)
    user = uow.people.get_user(tenant_id, user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    if role is None and kyc_status is None:
        raise InvalidInput("give role and/or kyc_status", "role")
    assert who.role is not None  # ``require`` let a member of the tenant through
    actor = actor_of(who.role)
    new_role = user.role
    if role is not None:
        new_role = role_move(user.role, Role(role), actor, of_self=user_id == who.subject_id)
    new_kyc = user.kyc_status
    if kyc_status is not None:
        new_kyc = kyc_move(user.kyc_status, KycStatus(kyc_status), actor)
    values: dict[str, str] = {}
    if role is not None:
        values["role"] = role
    if kyc_status is not None:
        values["kyc_status"] = kyc_status
    uow.people.set_fields(tenant_id, user_id, values)
    updated = uow.people.get_user(tenant_id, user_id)
    assert updated is not None
    assert (updated.role, updated.kyc_status) == (new_role, new_kyc)
    if updated.role != user.role:
        _record(
            uow,
            tenant_id,
            who,
            access.USER_ROLE,
            user_id,
            before={"role": str(user.role)},
            after={"role": str(updated.role)},
            now=at,
        )
    if updated.kyc_status != user.kyc_status:
        _record(
            uow,
            tenant_id,
            who,
            access.USER_KYC,
            user_id,
            before={"kyc_status": str(user.kyc_status)},
            after={"kyc_status": str(updated.kyc_status)},
            now=at,
        )
        if updated.kyc_status == KycStatus.VERIFIED:
            bind_waiting_invitees(uow, tenant_id, user_id)
    return updated


# --- API keys: for server-to-server use; they act as the user who made them, within their
# scopes (chosen at creation, never widened) ---

DEFAULT_KEY_SCOPES: frozenset[Scope] = frozenset({Scope.INTEGRATION})


def key_scopes(names: Sequence[str] | None) -> frozenset[Scope]:
    """The scopes asked for (default: ``integration`` only, what a shop's key is for)."""
    if names is None:
        return DEFAULT_KEY_SCOPES
    known = {s.value for s in Scope}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise InvalidInput(f"scopes must be one or more of {', '.join(sorted(known))}", "scopes")
    return frozenset(Scope(n) for n in names)


def create_api_key(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    name: str,
    now: datetime,
    scopes: Sequence[str] | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its token; the token is shown once and only its hash is stored."""
    who = require(caller, tenant_id, (Role.MERCHANT, Role.ADMIN))
    key = ApiKey(
        tenant_id=tenant_id,
        key_id=ids.new_id("key"),
        user_id=who.subject_id,
        name=validate.text(name, "name", max_length=100),
        created_at=now,
        revoked_at=None,
        scopes=key_scopes(scopes),
    )
    secret = ids.new_secret()
    uow.people.add_api_key(key, ids.hash_secret(secret))
    _record(
        uow,
        tenant_id,
        who,
        access.KEY_CREATE,
        key.key_id,
        before=None,
        after={"name": key.name, "user_id": key.user_id, "scopes": sorted(key.scopes)},
        now=now,
    )
    return key, auth.api_key_token(tenant_id, key.key_id, secret)


def list_api_keys(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> list[ApiKey]:
    who = require(caller, tenant_id, (Role.MERCHANT, Role.ADMIN), scope=Scope.READ)
    owner = None if who.role == Role.ADMIN else who.subject_id
    return uow.people.list_api_keys(tenant_id, owner)


def revoke_api_key(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, key_id: str, now: datetime
) -> ApiKey:
    who = require(caller, tenant_id, (Role.MERCHANT, Role.ADMIN))
    key = uow.people.get_api_key(tenant_id, key_id)
    if key is None or (who.role != Role.ADMIN and key.user_id != who.subject_id):
        raise NotFound(f"no API key {key_id!r}")
    uow.people.revoke_api_key(tenant_id, key_id, now)
    revoked = uow.people.get_api_key(tenant_id, key_id)
    assert revoked is not None
    if key.revoked_at is None:
        _record(
            uow,
            tenant_id,
            who,
            access.KEY_REVOKE,
            key_id,
            before={"revoked": False},
            after={"revoked": True},
            now=now,
        )
    return revoked
