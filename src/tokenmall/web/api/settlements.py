"""Settlements: admins settle a business day (idempotent) and list the settled days."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services import console
from tokenmall.services.mall import settling
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.common import Limit, TenantId, write
from tokenmall.web.api.schemas_integration import SettlementIn, SettlementOut, SettlementPage
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["settlements"],
    dependencies=[Depends(single_query_values)],
)


def _out(result: dict[str, Any], settled_now: bool | None) -> SettlementOut:
    return SettlementOut(
        business_date=result["business_date"],
        dividend_journal_id=result["journal_id"],
        distributed=result["distributed"],
        recipients=result["recipients"],
        dividend_pool_left=result["dividend_pool_left"],
        exits=result["exits"],
        exit_points=result["exit_points"],
        exit_payout=result["exit_payout"],
        price=result["price"],
        settled_now=settled_now,
    )


@router.post(
    "/settlements",
    response_model=SettlementOut,
    summary="Settle a business day: dividend, then forced exits; a settled day answers its "
    "first result (admins)",
    responses=responses(*COMMON, 403, 409),
)
def settle_day(
    tenant_id: TenantId,
    payload: SettlementIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        done = console.settle_for_admin(conn, caller, tenant_id, payload.business_date, utc_now())
        return _out(done.result, done.settled_now)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/settlements",
    response_model=SettlementPage,
    summary="Settled business days, oldest first, with their dividends and exits (admins)",
    responses=responses(*COMMON, 403),
)
def list_settlements(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    after: Annotated[str | None, Query(max_length=10, description="A date YYYY-MM-DD")] = None,
    limit: Limit = 50,
) -> SettlementPage:
    with db.read() as conn:
        found = settling.list_settled(conn, caller, tenant_id, after, limit)
    items = [_out(r, None) for r in found]
    return SettlementPage(
        items=items,
        next_after=items[-1].business_date if len(items) == limit else None,
    )
