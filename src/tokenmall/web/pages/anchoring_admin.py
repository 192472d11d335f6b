"""The console's anchoring page: the chain settings of the tenant's transparency log (the
JSON-RPC URL, chain id, contract and account key, never shown back), the newest anchor with
its status and last error, and a connection test naming the problem (unreachable endpoint,
wrong chain id, no contract, an account without funds), and the contract's deployment from
the tenant's account (replacing a deployed one only when confirmed). Admins only; the same
use cases as the API (``services/log/anchor_settings.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData

from tokenmall import bootstrap
from tokenmall.services.log import anchor_settings
from tokenmall.services.log.anchor_settings import ConnectionCheck
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.pages import forms, sessions
from tokenmall.web.pages.admin import _staff
from tokenmall.web.pages.console import ADMIN, Context, _page, _post
from tokenmall.web.pages.errors import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)
TEMPLATE = "admin/anchoring.html"


def _context(tenant_id: str) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        anchor_settings.admin(caller, tenant_id)
        return {"anchoring": anchor_settings.view_in(MallUnitOfWork.joining(conn), tenant_id)}

    return context


@router.get("/{tenant_id}/admin/anchoring")
def anchoring_page(request: Request, tenant_id: str) -> Response:
    check = None
    if request.query_params.get("check"):
        _staff(request, tenant_id, ADMIN)  # signed in as the tenant's admin before any call
        how = bootstrap.anchoring(sessions.settings(request).secret_key.get_secret_value())
        try:
            check = anchor_settings.check(sessions.database(request), how, tenant_id)
        except NotFound as error:
            check = ConnectionCheck(False, str(error), None, None, None)
    saved = request.query_params.get("saved") == "1"
    deployed = request.query_params.get("deployed") == "1"
    return _page(
        request,
        tenant_id,
        TEMPLATE,
        _context(tenant_id),
        check=check,
        saved=saved,
        deployed=deployed,
    )


def _chain_id(form: FormData) -> int:
    text = forms.text_field(form, "chain_id").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        raise InvalidInput("chain_id must be a whole number", "chain_id")
    return int(text)


@router.post("/{tenant_id}/admin/anchoring")
async def anchoring_post(request: Request, tenant_id: str) -> Response:
    how = bootstrap.anchoring(sessions.settings(request).secret_key.get_secret_value())

    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        anchor_settings.admin(caller, tenant_id)
        anchor_settings.configure(
            MallUnitOfWork.joining(conn),
            how,
            tenant_id,
            rpc_url=forms.text_field(form, "rpc_url"),
            chain_id=_chain_id(form),
            contract=forms.text_field(form, "contract").strip() or None,
            private_key=forms.text_field(form, "private_key").strip() or None,
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/anchoring?saved=1"

    return await _post(request, tenant_id, TEMPLATE, _context(tenant_id), act)


@router.post("/{tenant_id}/admin/anchoring/deploy")
async def anchoring_deploy(request: Request, tenant_id: str) -> Response:
    how = bootstrap.anchoring(sessions.settings(request).secret_key.get_secret_value())

    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        anchor_settings.admin(caller, tenant_id)
        anchor_settings.deploy_in(
            MallUnitOfWork.joining(conn),
            how,
            tenant_id,
            replace_deployed=forms.text_field(form, "replace") == "1",
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/anchoring?deployed=1"

    return await _post(request, tenant_id, TEMPLATE, _context(tenant_id), act)
