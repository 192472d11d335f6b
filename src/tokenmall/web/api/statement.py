"""A person's statement of movements (流水): paged JSON and a CSV export, the caller's own or
(admins) a user's."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response as HttpResponse

from tokenmall.domain.mall.statement import MAX_PAGE, Holding, Movement
from tokenmall.services.mall import statement
from tokenmall.web.api.common import ResourceId, TenantId
from tokenmall.web.api.schemas import Response
from tokenmall.web.deps import Caller, Db, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["wallet"],
    dependencies=[Depends(single_query_values)],
)

HoldingText = Literal["points", "cash", "stable"]
Before = Annotated[
    int | None,
    Query(ge=1, description="Journals before this id (the previous page's `next_before`)"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Lines in the page")]
Which = Annotated[
    HoldingText | None,
    Query(description="Only this holding: points (增值积分), cash, stable (恒定积分)"),
]


class MovementOut(Response):
    journal_id: int
    code: str  # why: the journal's code (purchase, dividend, buyback, withdrawal_hold, …)
    at: datetime
    business_date: date | None
    holding: HoldingText
    amount: str  # signed decimal: money 2 places, points 8

    @classmethod
    def of(cls, m: Movement) -> MovementOut:
        return cls(
            journal_id=m.journal_id, code=m.code, at=m.at, business_date=m.business_date,
            holding=m.holding.value, amount=m.text,
        )  # fmt: skip


class StatementOut(Response):
    """One page, newest first; ask for the next with ``before=next_before`` (null: the end)."""

    user_id: str
    lines: list[MovementOut]
    next_before: int | None


def _out(page: statement.StatementPage) -> StatementOut:
    return StatementOut(
        user_id=page.user_id,
        lines=[MovementOut.of(m) for m in page.lines],
        next_before=page.next_before,
    )


def _holding(text: HoldingText | None) -> Holding | None:
    return None if text is None else Holding(text)


@router.get(
    "/me/statement",
    response_model=StatementOut,
    summary="The caller's statement of movements (流水): points, cash and stable points",
    responses=responses(*COMMON),
)
def my_statement(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    before: Before = None,
    limit: Limit = 50,
    holding: Which = None,
) -> StatementOut:
    with db.reading() as uow:
        page = statement.statement(
            uow, caller, tenant_id, before=before, limit=limit, holding=_holding(holding)
        )
    return _out(page)


@router.get(
    "/users/{user_id}/statement",
    response_model=StatementOut,
    summary="A user's statement of movements (admins)",
    responses=responses(*COMMON, 403),
)
def user_statement(
    tenant_id: TenantId,
    user_id: ResourceId,
    caller: Caller,
    db: Db,
    before: Before = None,
    limit: Limit = 50,
    holding: Which = None,
) -> StatementOut:
    with db.reading() as uow:
        page = statement.statement(
            uow, caller, tenant_id, before=before, limit=limit,
            holding=_holding(holding), user_id=user_id,
        )  # fmt: skip
    return _out(page)


def csv_text(page: statement.StatementPage) -> str:
    """The lines as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["journal_id", "time_utc", "business_date", "code", "holding", "amount"])
    for m in page.lines:
        writer.writerow([
            m.journal_id, m.at.isoformat(), m.business_date.isoformat() if m.business_date else "",
            m.code, m.holding.value, m.text,
        ])  # fmt: skip
    return out.getvalue()


@router.get(
    "/me/statement.csv",
    summary="The caller's statement as CSV (newest first, up to 10,000 lines)",
    responses={
        **responses(*COMMON),
        200: {"content": {"text/csv": {}}, "description": "The statement"},
    },
)
def my_statement_csv(
    tenant_id: TenantId, caller: Caller, db: Db, holding: Which = None
) -> HttpResponse:
    with db.reading() as uow:
        page = statement.export(uow, caller, tenant_id, holding=_holding(holding))
    return HttpResponse(
        csv_text(page),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{page.user_id}.csv"'},
    )
