"""A tenant's admins change their own tenant's economy parameters.

The same use case as the platform operator's route (``services.mall.tenants.update_params``):
the whole set validated by ``Params.updated``, applied as the ledger's audited ``ChangeParams``
journal with ``changed_by`` = the admin, refused with 409 when ``params_version`` is stale.
Another tenant's admin gets 404; consumers and merchants 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import tenants
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.web.api.common import TenantId, write
from tokenmall.web.api.schemas import ParamsChangeOut, ParamsHistoryOut, ParamsIn, TenantOut
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["people"],
    dependencies=[Depends(single_query_values)],
)


@router.patch(
    "/params",
    response_model=TenantOut,
    summary="Change the tenant's economy parameters (the tenant's admins; validated as a whole; "
    "audited; applies from now on)",
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
        tenant = tenants.admin_update_params(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            payload.params,
            payload.params_version,
            key,
        )
        return TenantOut.of(tenant)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/params/history",
    response_model=ParamsHistoryOut,
    summary="Every parameter set the tenant has had, who set it and when (the tenant's admins)",
    responses=responses(*COMMON, 403),
)
def params_history(tenant_id: TenantId, caller: Caller, db: Db) -> ParamsHistoryOut:
    with db.reading() as uow:
        rows = tenants.admin_params_history(uow, caller, tenant_id)
    return ParamsHistoryOut(items=[ParamsChangeOut.of(row) for row in rows])
