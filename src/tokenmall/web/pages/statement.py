"""The consumer's statement of movements (流水): every journal that moved their points, cash
or stable points, newest first, paged, filtered by holding, with a CSV download."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tokenmall.services.mall import statement
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.web.pages import sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.shop import consumer_page, page

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_LINES = 30


def _before(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit():
        raise InvalidInput("before must be a journal id", "before")
    return int(text)


@router.get("/{tenant_id}/statement")
def statement_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    holding_text = request.query_params.get("holding") or None
    holding = statement.holding_of(holding_text)
    before = _before(request.query_params.get("before"))
    with sessions.database(request).reading() as uow:
        found = statement.statement(
            uow, caller, tenant_id, before=before, limit=PAGE_LINES, holding=holding
        )
    return page(
        request,
        "account/statement.html",
        tenant,
        caller,
        {
            "lines": found.lines,
            "next_before": found.next_before,
            "holding": holding_text or "",
            "first_page": before is None,
        },
    )
