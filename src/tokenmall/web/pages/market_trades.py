"""The market's trades in the console (文交所, admin only): every trade newest first, a page at
a time, filtered by collection and by the wash-trade watch's flag, with the totals of what
matches and of what was flagged, and the CSV export of every trade.

Reads only (``services/market/queries.operator_trades``, ``trades_csv``); users and
collections are shown by name (``services/market_pages``), their ids only as secondary text.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

from tokenmall.domain.money import format_money
from tokenmall.domain.nfg.metadata import display_serial
from tokenmall.services import market_pages
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.market import queries
from tokenmall.web.pages import sessions
from tokenmall.web.pages.admin import _staff
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ADMIN = ("admin",)
PAGE_SIZE = 50


def _before(request: Request) -> int | None:
    text = request.query_params.get("before", "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 15:
        raise HTTPException(404)
    return int(text)


@router.get("/{tenant_id}/admin/market/trades")
def trades_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, ADMIN)
    flagged = request.query_params.get("flagged") == "1"
    chosen = request.query_params.get("collection", "")
    before = _before(request)
    with sessions.database(request).read() as conn:
        unit = MallUnitOfWork.joining(conn)
        known = market_pages.collections(unit, caller, tenant_id)
        collection_id = chosen if chosen in known else None
        report = queries.operator_trades(
            unit, caller, tenant_id, True if flagged else None, PAGE_SIZE + 1,
            collection_id=collection_id, before=before,
        )  # fmt: skip
        shown = report.trades[:PAGE_SIZE]
        people = market_pages.user_names(
            unit, caller, tenant_id, [u for t in shown for u in (t.seller_id, t.buyer_id)]
        )
    rows = [
        {
            "t": t,
            "collection": known[t.collection_id].name if t.collection_id in known else "",
            "token": display_serial(
                t.serial,
                known[t.collection_id].edition_size if t.collection_id in known else t.serial,
            ),
            "seller": people.get(t.seller_id, t.seller_id),
            "buyer": people.get(t.buyer_id, t.buyer_id),
            "price": format_money(t.price),
            "fee": format_money(t.fee),
            "royalty": format_money(t.royalty),
            "proceeds": format_money(t.proceeds),
        }
        for t in shown
    ]
    more = len(report.trades) > PAGE_SIZE
    context: dict[str, Any] = {
        "tenant": tenant,
        "rows": rows,
        "collections": sorted(
            ((c.collection_id, c.name) for c in known.values()), key=lambda item: item[1]
        ),
        "chosen": collection_id or "",
        "flagged": flagged,
        "count": report.count,
        "volume": format_money(report.volume),
        "flagged_count": report.flagged_count,
        "flagged_volume": format_money(report.flagged_volume),
        "next_before": shown[-1].trade_id if more and shown else None,
        "first_page": before is None,
    }
    return render(request, "market/admin_trades.html", context, caller=caller)


@router.get("/{tenant_id}/admin/market/trades.csv")
def trades_csv(request: Request, tenant_id: str) -> Response:
    _, caller = _staff(request, tenant_id, ADMIN)
    with sessions.database(request).reading() as unit:
        text = queries.trades_csv(unit, caller, tenant_id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="trades-{tenant_id}.csv"',
            "Cache-Control": "no-store",
        },
    )
