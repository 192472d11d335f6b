"""The issuers' royalties (版税) of the market: what each issuer's trades earned, what was paid
out to it and what is still accrued (an admin sees every issuer, a merchant its own store), and
the admin's payout (the scheduler runs the same every day). The payout takes an
Idempotency-Key; money is decimal strings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.market import royalties
from tokenmall.web.api.common import TenantId, write
from tokenmall.web.api.market import READ, WRITE
from tokenmall.web.api.schemas_market_money import (
    RoyaltiesOut,
    RoyaltyPayoutIn,
    RoyaltyPayoutOut,
    RoyaltyPayoutsOut,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/market",
    tags=["Market"],
    dependencies=[Depends(single_query_values)],
)


@router.get(
    "/royalties",
    response_model=RoyaltiesOut,
    summary="Royalties (admins: every issuer; a merchant: its own): earned, paid and accrued, "
    "and a page of payouts, newest first",
    responses=READ,
)
def list_royalties(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=royalties.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> RoyaltiesOut:
    with db.reading() as unit:
        return RoyaltiesOut.of(
            royalties.report(unit, caller, tenant_id, limit=limit, offset=offset)
        )


@router.post(
    "/royalties/payout",
    response_model=RoyaltyPayoutsOut,
    summary="Pay each issuer its accrued royalties into its cash (admins; once per issuer and "
    "business day: a second payout of the day pays nothing)",
    responses=WRITE,
)
def pay_royalties(
    tenant_id: TenantId,
    payload: RoyaltyPayoutIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        made = royalties.payout(unit, caller, tenant_id, utc_now(), payload.day)
        return RoyaltyPayoutsOut(payouts=[RoyaltyPayoutOut.of(p) for p in made])

    return write(request, db, caller, tenant_id, key, payload, make)
