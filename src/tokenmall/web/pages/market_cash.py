"""The market's cash page (文交所, H5): one's market cash (the ledger's cash balance, what one's
open bids hold apart from it), the deposits paid in, a deposit form through the configured
payment gateway (the sandbox by default: the form ends on its payment page, which links back
to the market) and the link to the withdrawal flow (real-name verification, an admin's
approval).

The deposit is the API's use case (``services/market/deposits.start``): a plain POST answered
by 303 to the gateway's page (CSRF, a form key replayed through the idempotency store, one
transaction); a refusal re-renders the page with the sentence next to the amount, and nothing
changed. Its routes are registered before the collection's (``/market/{collection_id}``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.domain.money import format_money
from tokenmall.services import market_pages
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.market import deposits
from tokenmall.services.market.admin import price_fen
from tokenmall.web.api.payments import gateway_for
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.market import refusal_text
from tokenmall.web.pages.shop import consumer_page, page

router = APIRouter(route_class=PageRoute, include_in_schema=False)

DEPOSITS_SHOWN = 10


def _cash_page(
    request: Request, tenant: Tenant, caller: Principal, form: FormState | None = None,
    code: int = 200,
) -> Response:  # fmt: skip
    with sessions.database(request).reading() as unit:
        found = market_pages.cash(unit, caller, tenant.tenant_id, DEPOSITS_SHOWN)
    context: dict[str, Any] = {
        "available": format_money(found.available),
        "reserved": format_money(found.reserved),
        "deposits": [{"d": d, "amount": format_money(d.amount)} for d in found.deposits],
        "max_deposit": format_money(deposits.MAX_DEPOSIT),
    }
    if form is not None:
        context["form"] = form
    return page(request, "market/cash.html", tenant, caller, context, code)


@router.get("/{tenant_id}/market/cash")
def cash_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _cash_page(request, tenant, caller)


@router.post("/{tenant_id}/market/cash/deposit")
async def deposit_post(request: Request, tenant_id: str) -> Response:
    """Open a deposit and go to the gateway's payment page; the gateway's callback credits
    the cash once it is paid."""
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    gateway = gateway_for(request)

    def action(conn: Connection) -> str:
        unit = MallUnitOfWork.joining(conn)
        amount = price_fen(forms.text_field(form, "amount").strip(), "amount")
        started = deposits.start(unit, gateway, caller, tenant_id, amount, utc_now())
        return started.redirect_url or f"/{tenant_id}/market/cash"

    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(request, form, tenant_id=tenant_id, caller=caller, action=action)
    except DomainError as exc:
        state = FormState.of(form)
        state.errors[str(getattr(exc, "field", None) or "amount")] = refusal_text(request, exc)
        return _cash_page(request, tenant, caller, state, status_of(exc))
    return rendering.redirect(location)
