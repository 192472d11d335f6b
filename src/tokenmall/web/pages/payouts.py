"""Payouts as pages: the member's payee account (收款账户) and the console's payouts and daily
reconciliations (对账) — ``services/mall/payouts.py`` and ``reconciliation.py``.

The payee account's number and real name are never shown back: only the masked account.
A reconciliation's day lists its mismatches first.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.payouts import PAYOUT_CHANNELS, PayoutStatus
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.services.mall import payouts, reconciliation
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.settling import parse_date
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.console import Context, _names, _page
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.payout_sending import sealer
from tokenmall.web.pages.shop import consumer_page, page

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STATUSES = (*PayoutStatus, "all")


# --- the member's payee account -----------------------------------------------------------------


def _payee_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    with sessions.database(request).reading() as uow:
        mine = payouts.my_payee(uow, caller, tenant.tenant_id)
    context: dict[str, Any] = {
        "payee": mine,
        "channels": PAYOUT_CHANNELS,
        "saved": request.query_params.get("saved") == "1",
    }
    if form is not None:
        context["form"] = form
    return page(request, "account/payee.html", tenant, caller, context, code)


@router.get("/{tenant_id}/payee-account")
def payee_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _payee_page(request, tenant, caller)


@router.post("/{tenant_id}/payee-account")
async def payee_post(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    form: FormData = await forms.read_form(request)
    seal = sealer(request)

    def act(conn: Connection) -> str:
        payouts.register_payee(
            MallUnitOfWork.joining(conn),
            seal,
            caller,
            tenant_id,
            channel=forms.text_field(form, "channel"),
            account=forms.text_field(form, "account"),
            real_name=forms.text_field(form, "real_name"),
            now=utc_now(),
        )
        return f"/{tenant_id}/payee-account?saved=1"

    def digest(text: str) -> str:
        return seal.fingerprint(tenant_id, text)

    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(
            request,
            form,
            tenant_id=tenant_id,
            caller=caller,
            action=act,
            private=dict.fromkeys(("account", "real_name"), digest),
        )
    except DomainError as exc:
        return _payee_page(request, tenant, caller, FormState.of(form, exc), status_of(exc))
    return rendering.redirect(location)


# --- the console: payouts -----------------------------------------------------------------------


def _payouts_context(request: Request, tenant_id: str) -> Context:
    status = request.query_params.get("status", "all") or "all"
    if status not in STATUSES:
        raise InvalidInput(f"unknown payout status {status!r}", "status")

    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        found = payouts.list_payouts(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            status=None if status == "all" else status,
            limit=200,
        )
        return {
            "payouts": found,
            "status": status,
            "statuses": STATUSES,
            "names": _names(conn, caller, tenant_id),
        }

    return context


@router.get("/{tenant_id}/admin/payouts")
def payouts_page(request: Request, tenant_id: str) -> Response:
    return _page(request, tenant_id, "admin/payouts.html", _payouts_context(request, tenant_id))


# --- the console: reconciliations ---------------------------------------------------------------


def _days_context(tenant_id: str) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        found = reconciliation.reports(MallUnitOfWork.joining(conn), caller, tenant_id)
        return {"reports": found}

    return context


@router.get("/{tenant_id}/admin/reconciliations")
def reconciliations_page(request: Request, tenant_id: str) -> Response:
    return _page(request, tenant_id, "admin/reconciliations.html", _days_context(tenant_id))


def _day_context(tenant_id: str, day: date) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        found = reconciliation.day_reports(MallUnitOfWork.joining(conn), caller, tenant_id, day)
        return {"day": day, "channels": found}

    return context


@router.get("/{tenant_id}/admin/reconciliations/{day}")
def reconciliation_day_page(request: Request, tenant_id: str, day: str) -> Response:
    when = parse_date(day, "day")
    return _page(request, tenant_id, "admin/reconciliation_day.html", _day_context(tenant_id, when))
