"""Tenant members: registration, sign-in, profile, user admin (roles, KYC), API keys, and the
audit trail, integration caps and self-referral flags of access control."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.domain.mall.people import KycStatus as Kyc
from tokenmall.domain.mall.people import Role as UserRole
from tokenmall.services.mall import access, accounts, auth, people, tenants
from tokenmall.services.mall.errors import Conflict
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web import idempotent
from tokenmall.web.api.common import After, Limit, ResourceId, TenantId, next_after, write
from tokenmall.web.api.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyList,
    ApiKeyOut,
    LoginIn,
    PasswordChangeIn,
    PasswordSetIn,
    RegisterIn,
    ResetConfirmIn,
    ResetRequestedOut,
    ResetRequestIn,
    Role,
    SessionOut,
    SessionsRevokedOut,
    TenantOut,
    UserIn,
    UserOut,
    UserPage,
    UserPatch,
)
from tokenmall.web.api.schemas_access import (
    AuditEntryOut,
    AuditPage,
    CapsIn,
    CapsOut,
    ReferralFlagList,
    ReferralFlagOut,
)
from tokenmall.web.deps import (
    SESSION_COOKIE,
    Caller,
    Db,
    IdempotencyKey,
    session_ttl,
    settings,
    single_query_values,
)
from tokenmall.web.errors import COMMON, responses
from tokenmall.web.limits import client_of, idle_of, sender_of, throttle_of

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["people"],
    dependencies=[Depends(single_query_values)],
)


@router.get(
    "/params",
    response_model=TenantOut,
    summary="The tenant's name and economy parameters (any member)",
    responses=responses(*COMMON),
)
def tenant_params(tenant_id: TenantId, caller: Caller, db: Db) -> TenantOut:
    with db.reading() as uow:
        return TenantOut.of(tenants.get_for_member(uow, caller, tenant_id))


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Register a consumer (optionally with an invite code, bound once); an email that "
    "already has an account gets the same answer, and no account is made",
    responses=responses(*COMMON, 409, 429),
)
def register(
    tenant_id: TenantId,
    payload: RegisterIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    throttle_of(request).before_register(tenant_id, client_of(request))

    def make(conn: Connection) -> BaseModel:
        user = people.register(
            MallUnitOfWork.joining(conn),
            tenant_id,
            email=payload.email,
            password=payload.password,
            display_name=payload.display_name,
            invite_code=payload.invite_code,
            now=utc_now(),
            client=access.fingerprint(
                None if request.client is None else request.client.host,
                request.headers.get("user-agent"),
            ),
        )
        return UserOut.of(user)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.post(
    "/login",
    response_model=SessionOut,
    summary="Sign in: a bearer token in the body and the same session as an HttpOnly cookie",
    responses=responses(400, 401, 404, 422, 429),
)
def login(
    tenant_id: TenantId, payload: LoginIn, request: Request, response: Response, db: Db
) -> SessionOut:
    user, issued = accounts.login(
        db,
        throttle_of(request),
        tenant_id,
        payload.email,
        payload.password,
        client=client_of(request),
        now=utc_now(),
        ttl=session_ttl(request),
        idle=idle_of(request),
    )
    assert issued.expires_at is not None
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        httponly=True,
        samesite="lax",
        secure=settings(request).cookie_secure,
        max_age=int(session_ttl(request).total_seconds()),
    )
    return SessionOut(token=issued.token, expires_at=issued.expires_at, user=UserOut.of(user))


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: revokes the session used (needs an Idempotency-Key, like every write)",
    responses=responses(400, 401, 404, 422),
)
def logout(tenant_id: TenantId, caller: Caller, db: Db, key: IdempotencyKey) -> Response:
    # The header is what shuts out cross-site form posts riding the session cookie; a
    # logout is not replayed (the session it ends is gone), so the key is not stored.
    del key
    with db.unit() as uow:
        auth.require(caller, tenant_id, people.ALL)
        people.logout(uow, caller, utc_now())
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post(
    "/me/password",
    response_model=SessionsRevokedOut,
    summary="Change one's password (the current one required); other sessions are revoked",
    responses=responses(*COMMON, 403, 409, 429),
)
def change_password(
    tenant_id: TenantId,
    payload: PasswordChangeIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        revoked = accounts.change_password(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            old_password=payload.old_password,
            new_password=payload.new_password,
            guard=throttle_of(request),
            client=client_of(request),
            now=utc_now(),
        )
        return SessionsRevokedOut(sessions_revoked=revoked)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/me/logout-everywhere",
    response_model=SessionsRevokedOut,
    summary="Sign out everywhere: every session of the caller is revoked",
    responses=responses(*COMMON, 409),
)
def logout_everywhere(
    tenant_id: TenantId, request: Request, caller: Caller, db: Db, key: IdempotencyKey
) -> Response:
    def make(conn: Connection) -> BaseModel:
        revoked = accounts.logout_everywhere(
            MallUnitOfWork.joining(conn), caller, tenant_id, utc_now()
        )
        return SessionsRevokedOut(sessions_revoked=revoked)

    response = write(request, db, caller, tenant_id, key, None, make)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post(
    "/password-reset",
    response_model=ResetRequestedOut,
    summary="Ask for a password reset link by email (the same answer whether or not the "
    "address has an account); 409 where no mail sender is configured",
    responses=responses(*COMMON, 409, 429),
)
def request_password_reset(
    tenant_id: TenantId,
    payload: ResetRequestIn,
    request: Request,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    sender = sender_of(request)
    if sender is None:
        raise Conflict("password reset by email is not configured; ask the shop's admin")
    throttle_of(request).before_register(tenant_id, client_of(request))

    def make(conn: Connection) -> BaseModel:
        accounts.request_reset(
            MallUnitOfWork.joining(conn),
            tenant_id,
            payload.email,
            secret=settings(request).secret_key.get_secret_value().encode(),
            sender=sender,
            link_base=settings(request).public_base_url,
            now=utc_now(),
        )
        return ResetRequestedOut()

    return write(request, db, None, tenant_id, key, payload, make)


@router.post(
    "/password-reset/confirm",
    response_model=SessionsRevokedOut,
    summary="Choose a new password with a reset link's token; every session is revoked",
    responses=responses(*COMMON),
)
def confirm_password_reset(
    tenant_id: TenantId, payload: ResetConfirmIn, request: Request, db: Db, key: IdempotencyKey
) -> Response:
    def make(conn: Connection) -> BaseModel:
        revoked = accounts.reset_with_token(
            MallUnitOfWork.joining(conn),
            tenant_id,
            payload.token,
            payload.new_password,
            secret=settings(request).secret_key.get_secret_value().encode(),
            now=utc_now(),
        )
        return SessionsRevokedOut(sessions_revoked=revoked)

    return write(request, db, None, tenant_id, key, payload, make)


@router.get("/me", response_model=UserOut, summary="The caller", responses=responses(*COMMON))
def me(tenant_id: TenantId, caller: Caller, db: Db) -> UserOut:
    with db.reading() as uow:
        return UserOut.of(people.me(uow, caller, tenant_id))


@router.get(
    "/users",
    response_model=UserPage,
    summary="List users (admins)",
    responses=responses(*COMMON, 403),
)
def list_users(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    role: Annotated[Role | None, Query()] = None,
    after: After = None,
    limit: Limit = 50,
) -> UserPage:
    with db.reading() as uow:
        wanted = None if role is None else UserRole(role)
        found = people.list_users(uow, caller, tenant_id, wanted, after, limit)
    return UserPage(
        items=[UserOut.of(u) for u in found],
        next_after=next_after([u.user_id for u in found], limit),
    )


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Create a user of any role (admins)",
    responses=responses(*COMMON, 403, 409),
)
def create_user(
    tenant_id: TenantId,
    payload: UserIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        user = people.create_user(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            email=payload.email,
            password=payload.password,
            display_name=payload.display_name,
            role=UserRole(payload.role),
            now=utc_now(),
        )
        return UserOut.of(user)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.get(
    "/users/{user_id}",
    response_model=UserOut,
    summary="One user (admins; anyone for themselves)",
    responses=responses(*COMMON),
)
def get_user(tenant_id: TenantId, user_id: ResourceId, caller: Caller, db: Db) -> UserOut:
    with db.reading() as uow:
        return UserOut.of(people.get_user(uow, caller, tenant_id, user_id))


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    summary="Set a user's role and/or real-name (KYC) status (admins)",
    responses=responses(*COMMON, 403, 409),
)
def update_user(
    tenant_id: TenantId,
    user_id: ResourceId,
    payload: UserPatch,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        role = None if payload.role is None else UserRole(payload.role)
        kyc = None if payload.kyc_status is None else Kyc(payload.kyc_status)
        user = people.update_user(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            user_id,
            role=role,
            kyc_status=kyc,
            now=utc_now(),
        )
        return UserOut.of(user)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/users/{user_id}/password",
    response_model=SessionsRevokedOut,
    summary="Set a member's password (admins; not another admin's); their sessions are revoked",
    responses=responses(*COMMON, 403, 409),
)
def reset_password(
    tenant_id: TenantId,
    user_id: ResourceId,
    payload: PasswordSetIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        revoked = accounts.reset_by_admin(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            user_id,
            new_password=payload.new_password,
            now=utc_now(),
        )
        return SessionsRevokedOut(sessions_revoked=revoked)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/api-keys",
    response_model=ApiKeyList,
    summary="API keys (merchants: their own; admins: all)",
    responses=responses(*COMMON, 403),
)
def list_api_keys(tenant_id: TenantId, caller: Caller, db: Db) -> ApiKeyList:
    with db.reading() as uow:
        return ApiKeyList(
            items=[ApiKeyOut.of(k) for k in people.list_api_keys(uow, caller, tenant_id)]
        )


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreatedOut,
    summary="Create an API key acting as the caller, within the scopes chosen; the token is "
    "shown once",
    responses=responses(*COMMON, 403, 409),
)
def create_api_key(
    tenant_id: TenantId,
    payload: ApiKeyIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def action(conn: Connection) -> idempotent.Outcome:
        api_key, token = people.create_api_key(
            MallUnitOfWork.joining(conn), caller, tenant_id, payload.name, utc_now(), payload.scopes
        )
        shown = ApiKeyCreatedOut(key=ApiKeyOut.of(api_key), token=token)
        # Only the hash of the token is kept, so a replay answers without it.
        stored = ApiKeyCreatedOut(key=ApiKeyOut.of(api_key), token=None)
        return 201, shown, stored

    return idempotent.run(
        request, db, tenant_id=tenant_id, caller=caller, key=key, payload=payload, action=action
    )


@router.post(
    "/api-keys/{key_id}/revoke",
    response_model=ApiKeyOut,
    summary="Revoke an API key (its owner or an admin); it stops working at once",
    responses=responses(*COMMON, 403, 409),
)
def revoke_api_key(
    tenant_id: TenantId,
    key_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        return ApiKeyOut.of(people.revoke_api_key(uow, caller, tenant_id, key_id, utc_now()))

    return write(request, db, caller, tenant_id, key, None, make)


@router.get(
    "/audit-trail",
    response_model=AuditPage,
    summary="Who changed roles, KYC, withdrawal settings, keys and caps: before and after "
    "(admins), newest first",
    responses=responses(*COMMON, 403),
)
def audit_trail(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
) -> AuditPage:
    with db.reading() as uow:
        found = access.trail(
            uow, caller, tenant_id, subject_id=subject_id, before=before, limit=limit
        )
    return AuditPage(
        items=[AuditEntryOut.of(e) for e in found],
        next_before=next_after([e.entry_id for e in found], limit),
    )


@router.get(
    "/referral-flags",
    response_model=ReferralFlagList,
    summary="Inviters and invitees that registered from the same client (admins)",
    responses=responses(*COMMON, 403),
)
def referral_flags(tenant_id: TenantId, caller: Caller, db: Db) -> ReferralFlagList:
    with db.reading() as uow:
        flags = access.referral_flags(uow, caller, tenant_id)
    return ReferralFlagList(items=[ReferralFlagOut.of(f) for f in flags])


@router.get(
    "/integration-caps",
    response_model=CapsOut,
    summary="The per-order and per-day caps on integration pushes (admins)",
    responses=responses(*COMMON, 403),
)
def get_integration_caps(tenant_id: TenantId, caller: Caller, db: Db) -> CapsOut:
    with db.reading() as uow:
        return CapsOut.of(access.get_caps(uow, caller, tenant_id))


@router.put(
    "/integration-caps",
    response_model=CapsOut,
    summary="Set the caps on integration pushes; a missing or empty one is no cap (admins)",
    responses=responses(*COMMON, 403, 409),
)
def put_integration_caps(
    tenant_id: TenantId,
    payload: CapsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        caps = access.update_caps(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            per_order=payload.per_order,
            per_day=payload.per_day,
            now=utc_now(),
        )
        return CapsOut.of(caps)

    return write(request, db, caller, tenant_id, key, payload, make)
