"""Settlements: admins settle a business day (idempotent) and list the settled days."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.domain.money import format_money, format_points
from tokenmall.services.mall import settling
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.unit_of_work_wallet import SettledDay
from tokenmall.web.api.common import Limit, TenantId, write
from tokenmall.web.api.schemas_integration import SettlementIn, SettlementOut, SettlementPage
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["settlements"],
    dependencies=[Depends(single_query_values)],
)


def settlement_out(day: SettledDay, settled_now: bool | None) -> SettlementOut:
    """A settled day's figures as decimal strings (the API's and the console's)."""
    return SettlementOut(
        business_date=day.business_date.isoformat(),
        dividend_journal_id=day.journal_id,
        distributed=format_money(day.distributed),
        recipients=day.recipients,
        dividend_pool_left=format_money(day.dividend_pool_left),
        exits=day.exits,
        exit_points=format_points(day.exit_points),
        exit_payout=format_money(day.exit_payout),
        price=format_points(day.price_e8),
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
        uow = MallUnitOfWork.joining(conn)
        done = settling.settle_for_admin(uow, caller, tenant_id, payload.business_date, utc_now())
        return settlement_out(done.day, done.settled_now)

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
    with db.reading() as uow:
        found = settling.list_settled(uow, caller, tenant_id, after, limit)
    items = [settlement_out(day, None) for day in found]
    return SettlementPage(
        items=items,
        next_after=items[-1].business_date if len(items) == limit else None,
    )
