"""Economy endpoints. For now: the tenant's health (solvency) report for its admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from tokenmall.services.ledger import report
from tokenmall.services.mall.auth import require
from tokenmall.services.mall.people import ADMIN
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.common import TenantId
from tokenmall.web.deps import Caller, Db, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["economy"],
    dependencies=[Depends(single_query_values)],
)


class HealthOut(BaseModel):
    """Every figure as a decimal string; what is backed and what is a promise, in words."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str
    inflow_window_days: int
    price: str
    pool: str
    circulating: str
    dividend_pool: str
    quota_outstanding: str
    daily_inflow: str
    daily_dividend_inflow: str
    unfunded_quota: str
    days_to_pay_quota: str | None
    stable_outstanding: str
    treasury: str
    treasury_value: str
    stable_cover: str | None
    statement: list[str]


@router.get(
    "/economy/health",
    response_model=HealthOut,
    summary="Solvency report: what backs the points, what is a promise (admins)",
    responses=responses(*COMMON, 403),
)
def economy_health(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    window_days: Annotated[int, Query(ge=1, le=365)] = report.DEFAULT_WINDOW_DAYS,
) -> HealthOut:
    require(caller, tenant_id, ADMIN)
    with db.read() as conn:
        health = report.solvency(conn, tenant_id, utc_now(), window_days)
    return HealthOut(**report.report(health, tenant_id, window_days).to_json())
