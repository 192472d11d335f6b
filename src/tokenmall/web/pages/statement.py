"""The consumer's statement of movements (流水): every journal that moved their points, cash
or stable points, newest first, paged, filtered by holding, with a CSV download.

The merchant's store statement (店铺流水): the store's own cash, the royalties the market paid
it (版税收入) and its withdrawals, with the form that asks to withdraw the store's cash through
the same approvals as a member's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from tokenmall.domain.mall.tenants import Tenant
from tokenmall.services import lookups
from tokenmall.services.mall import statement, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.pages import forms, sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.shop import answer, consumer_page, page, post_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_LINES = 30
PAGE_WITHDRAWALS = 20


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


def _store_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    holding_text = request.query_params.get("holding") or None
    before = _before(request.query_params.get("before"))
    with sessions.database(request).read() as conn:
        found = statement.store_statement(
            MallUnitOfWork.joining(conn),
            caller,
            tenant.tenant_id,
            before=before,
            limit=PAGE_LINES,
            holding=statement.holding_of(holding_text),
            withdrawals_after=request.query_params.get("withdrawals_after") or None,
            withdrawals_limit=PAGE_WITHDRAWALS,
        )
        rules = lookups.withdrawal_rules(conn, tenant.tenant_id)
        kyc = lookups.kyc_status(conn, tenant.tenant_id, caller.subject_id)
    context: dict[str, Any] = {
        "store": found,
        "lines": found.page.lines,
        "next_before": found.page.next_before,
        "holding": holding_text or "",
        "first_page": before is None,
        "withdrawals_after": request.query_params.get("withdrawals_after") or "",
        "rules": rules,
        "kyc": kyc,
        "requested": request.query_params.get("requested") == "1",
    }
    if form is not None:
        context["form"] = form
    return page(request, "account/store_statement.html", tenant, caller, context, code)


@router.get("/{tenant_id}/store/statement")
def store_statement_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _store_page(request, tenant, caller)


@router.post("/{tenant_id}/store/withdrawals")
async def store_withdrawal_post(request: Request, tenant_id: str) -> Response:
    """The owner asks to withdraw the store's cash; admins approve it as any withdrawal."""
    tenant, caller = consumer_page(request, tenant_id)
    form: FormData = await forms.read_form(request)
    amount = forms.text_field(form, "amount").strip()
    merchant_id = forms.text_field(form, "merchant_id").strip()

    def refused(state: FormState, code: int) -> Response:
        if "kyc_status" in state.errors:
            state.errors.pop("kyc_status")
            state.errors["amount"] = "Withdrawals need real-name (KYC) verification first."
        state.move_errors({"_form": "amount"})
        return _store_page(request, tenant, caller, state, code)

    def act(conn: Any) -> str:
        uow = MallUnitOfWork.joining(conn)
        done = withdrawals.request(uow, caller, tenant_id, amount, utc_now(), merchant_id)
        return answer(f"/{tenant_id}/store/statement?requested=1", done)

    return post_form(
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=act,
        refused=refused,
        default_field="amount",
    )
