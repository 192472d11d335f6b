"""Platform operator endpoints: sign in, create and list tenants, change their parameters."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import accounts, operators, tenants
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import After, Limit, TenantId, next_after, write
from tokenmall.web.api.schemas import (
    LoginIn,
    ParamsChangeOut,
    ParamsHistoryOut,
    ParamsIn,
    TenantCreatedOut,
    TenantIn,
    TenantOut,
    TenantPage,
    TokenOut,
    UserOut,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, session_ttl, single_query_values
from tokenmall.web.errors import COMMON, responses
from tokenmall.web.limits import client_of, throttle_of

router = APIRouter(
    prefix="/api/v1/platform", tags=["platform"], dependencies=[Depends(single_query_values)]
)
PLATFORM = ""  # the tenant_id of platform-level idempotency records


@router.post(
    "/login",
    response_model=TokenOut,
    summary="Operator sign-in: a bearer token (each call is a new session, no Idempotency-Key)",
    responses=responses(400, 401, 422, 429),
)
def login(payload: LoginIn, request: Request, db: Db) -> TokenOut:
    issued = accounts.operator_login(
        db,
        throttle_of(request),
        payload.email,
        payload.password,
        client=client_of(request),
        now=utc_now(),
        ttl=session_ttl(request),
    )
    assert issued.expires_at is not None
    return TokenOut(token=issued.token, expires_at=issued.expires_at)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Operator sign-out: revokes the token used",
    responses=responses(400, 401),
)
def logout(caller: Caller, db: Db) -> Response:
    with db.unit() as uow:
        operators.logout(uow, caller, utc_now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/tenants",
    status_code=status.HTTP_201_CREATED,
    response_model=TenantCreatedOut,
    summary="Create a tenant with its economy parameters and its first admin",
    responses=responses(*COMMON, 403, 409),
)
def create_tenant(
    payload: TenantIn, request: Request, caller: Caller, db: Db, key: IdempotencyKey
) -> Response:
    new = tenants.NewTenant(
        tenant_id=payload.tenant_id,
        name=payload.name,
        preset=payload.preset,
        params=payload.params,
        admin_email=payload.admin.email,
        admin_password=payload.admin.password,
        admin_display_name=payload.admin.display_name,
    )

    def make(conn: Connection) -> BaseModel:
        tenant, admin = tenants.create(MallUnitOfWork.joining(conn), caller, new, utc_now())
        return TenantCreatedOut(tenant=TenantOut.of(tenant), admin=UserOut.of(admin))

    return write(request, db, caller, PLATFORM, key, payload, make, status_code=201)


@router.get(
    "/tenants",
    response_model=TenantPage,
    summary="List tenants (operators only)",
    responses=responses(*COMMON, 403),
)
def list_tenants(caller: Caller, db: Db, after: After = None, limit: Limit = 50) -> TenantPage:
    with db.reading() as uow:
        found = tenants.list_all(uow, caller, after, limit)
    items = [TenantOut.of(t) for t in found]
    return TenantPage(items=items, next_after=next_after([t.tenant_id for t in found], limit))


@router.get(
    "/tenants/{tenant_id}",
    response_model=TenantOut,
    summary="One tenant (operators only)",
    responses=responses(*COMMON, 403),
)
def get_tenant(tenant_id: TenantId, caller: Caller, db: Db) -> TenantOut:
    with db.reading() as uow:
        return TenantOut.of(tenants.get_for_operator(uow, caller, tenant_id))


@router.patch(
    "/tenants/{tenant_id}/params",
    response_model=TenantOut,
    summary="Change economy parameters (validated as a whole; audited; applies from now on)",
    responses=responses(*COMMON, 403, 409),
)
def update_params(
    tenant_id: TenantId,
    payload: ParamsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        tenant = tenants.update_params(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            payload.params,
            payload.params_version,
            key,
        )
        return TenantOut.of(tenant)

    return write(request, db, caller, PLATFORM, key, payload, make)


@router.get(
    "/tenants/{tenant_id}/params/history",
    response_model=ParamsHistoryOut,
    summary="Every parameter set the tenant has had, who set it and when",
    responses=responses(*COMMON, 403),
)
def params_history(tenant_id: TenantId, caller: Caller, db: Db) -> ParamsHistoryOut:
    with db.reading() as uow:
        rows = tenants.params_history(uow, caller, tenant_id)
    return ParamsHistoryOut(items=[ParamsChangeOut.of(row) for row in rows])
