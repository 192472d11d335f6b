"""Real-name verification (实名认证) as pages: the consumer's form and status, and the admin
console's review queue — the API's ``/me/kyc`` and ``/kyc-submissions`` through
``services/mall/kyc.py``.

Only masked values are ever shown. Forms are plain POSTs answered by 303 (CSRF, a form key
replayed through the idempotency store, one transaction); a refused form re-renders with the
message next to its field and nothing changed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from tokenmall import bootstrap
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.kyc import SubmissionStatus
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.services.mall import kyc
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.console import Context, _names, _page, _post
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.shop import consumer_page, page

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50
STATUSES = (*SubmissionStatus, "all")
DECISIONS = {"approve": "verify", "reject": "reject"}


def _sealer(request: Request) -> kyc.Sealer:
    return bootstrap.kyc_sealer(sessions.settings(request).secret_key.get_secret_value())


# --- the consumer's page ------------------------------------------------------------------------


def _kyc_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    with sessions.database(request).reading() as uow:
        mine = kyc.mine(uow, caller, tenant.tenant_id)
    context: dict[str, Any] = {
        "mine": mine,
        "submitted": request.query_params.get("submitted") == "1",
    }
    if form is not None:
        context["form"] = form
    return page(request, "account/kyc.html", tenant, caller, context, code)


@router.get("/{tenant_id}/kyc")
def kyc_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _kyc_page(request, tenant, caller)


@router.post("/{tenant_id}/kyc")
async def kyc_post(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    form: FormData = await forms.read_form(request)
    seal = _sealer(request)

    def act(conn: Connection) -> str:
        kyc.submit(
            MallUnitOfWork.joining(conn),
            seal,
            caller,
            tenant_id,
            real_name=forms.text_field(form, "real_name"),
            id_number=forms.text_field(form, "id_number"),
            phone=forms.text_field(form, "phone") or None,
            now=utc_now(),
        )
        return f"/{tenant_id}/kyc?submitted=1"

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
            private=dict.fromkeys(kyc.PRIVATE_FIELDS, digest),
        )
    except DomainError as exc:
        return _kyc_page(request, tenant, caller, FormState.of(form, exc), status_of(exc))
    return rendering.redirect(location)


# --- the console's review queue -----------------------------------------------------------------


def _queue_context(request: Request, tenant_id: str) -> Context:
    status = request.query_params.get("status", "pending") or "pending"
    if status not in STATUSES:
        raise InvalidInput(f"unknown submission status {status!r}", "status")
    after = request.query_params.get("after") or None

    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        found = kyc.list_submissions(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            status=None if status == "all" else SubmissionStatus(status),
            after=after,
            limit=PAGE_SIZE + 1,
        )
        return {
            "submissions": found[:PAGE_SIZE],
            "next_after": found[PAGE_SIZE - 1].submission_id if len(found) > PAGE_SIZE else None,
            "status": status,
            "statuses": STATUSES,
            "names": _names(conn, caller, tenant_id),
        }

    return context


@router.get("/{tenant_id}/admin/kyc")
def queue_page(request: Request, tenant_id: str) -> Response:
    done = request.query_params.get("done")
    return _page(
        request,
        tenant_id,
        "admin/kyc.html",
        _queue_context(request, tenant_id),
        done=done if done in ("verified", "rejected") else None,
    )


@router.post("/{tenant_id}/admin/kyc/{submission_id}/{decision}")
async def review_post(
    request: Request, tenant_id: str, submission_id: str, decision: str
) -> Response:
    if decision not in DECISIONS:
        raise HTTPException(404)
    seal = _sealer(request)

    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        done = kyc.review(
            MallUnitOfWork.joining(conn),
            seal,
            caller,
            tenant_id,
            submission_id,
            decision=DECISIONS[decision],
            reason=forms.text_field(form, "reason"),
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/kyc?done={done.status}"

    return await _post(
        request, tenant_id, "admin/kyc.html", _queue_context(request, tenant_id), act
    )
