"""The console's access page (admins): API keys and their scopes, the integration caps, the
audit trail of roles, KYC, withdrawal settings and keys, and the self-referral flags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.people import Scope
from tokenmall.domain.money import format_money
from tokenmall.services.mall import access, people
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, sessions
from tokenmall.web.pages.admin import _staff as staff
from tokenmall.web.pages.admin import _staff_post as staff_post
from tokenmall.web.pages.admin import local_time
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ADMIN = ("admin",)
TEMPLATE = "admin/access.html"
SCOPES = tuple(s.value for s in Scope)


def _context(conn: Connection, caller: Principal, tenant_id: str) -> dict[str, Any]:
    uow = MallUnitOfWork.joining(conn)
    users = {u.user_id: u for u in people.list_users(uow, caller, tenant_id, None, None, 200)}
    caps = access.get_caps(uow, caller, tenant_id)
    return {
        "keys": people.list_api_keys(uow, caller, tenant_id),
        "per_order": "" if caps.per_order_fen is None else format_money(caps.per_order_fen),
        "per_day": "" if caps.per_day_fen is None else format_money(caps.per_day_fen),
        "trail": access.trail(uow, caller, tenant_id, limit=200),
        "flags": access.referral_flags(uow, caller, tenant_id),
        "names": {uid: u.display_name or u.email for uid, u in users.items()},
        "scopes": SCOPES,
        "cooling": access.cooling_note(),
        "local_time": local_time,
    }


@router.get("/{tenant_id}/admin/access")
def access_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = staff(request, tenant_id, ADMIN)
    with sessions.database(request).read() as conn:
        context = _context(conn, caller, tenant_id)
    return render(request, TEMPLATE, {"tenant": tenant, **context}, caller=caller)


@router.post("/{tenant_id}/admin/access/keys")
async def key_create(request: Request, tenant_id: str) -> Response:
    """Mint a key with the scopes ticked; its token is shown on this answer only."""
    tenant, caller = staff(request, tenant_id, ADMIN)
    form = await forms.read_form(request)
    shown: list[str] = []

    def act(conn: Connection) -> str:
        chosen = [s for s in SCOPES if form.get(f"scope_{s}")]
        _, token = people.create_api_key(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            forms.text_field(form, "name"),
            utc_now(),
            chosen,
        )
        shown.append(token)
        return f"/{tenant_id}/admin/access"

    try:
        csrf.check_csrf(request, caller, form)
        forms.submit(request, form, tenant_id=tenant_id, caller=caller, action=act)
    except DomainError as exc:
        with sessions.database(request).read() as conn:
            context = _context(conn, caller, tenant_id)
        return render(
            request,
            TEMPLATE,
            {"tenant": tenant, **context, "form": FormState.of(form, exc)},
            status_code=status_of(exc),
            caller=caller,
        )
    with sessions.database(request).read() as conn:
        context = _context(conn, caller, tenant_id)
    new_token = shown[0] if shown else None
    return render(
        request, TEMPLATE, {"tenant": tenant, **context, "new_token": new_token}, caller=caller
    )


@router.post("/{tenant_id}/admin/access/keys/{key_id}/revoke")
async def key_revoke(request: Request, tenant_id: str, key_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        people.revoke_api_key(MallUnitOfWork.joining(conn), caller, tenant_id, key_id, utc_now())
        return f"/{tenant_id}/admin/access"

    return await staff_post(request, tenant_id, ADMIN, TEMPLATE, _context, act)


@router.post("/{tenant_id}/admin/access/caps")
async def caps_update(request: Request, tenant_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        access.update_caps(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            per_order=forms.text_field(form, "per_order") or None,
            per_day=forms.text_field(form, "per_day") or None,
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/access"

    return await staff_post(request, tenant_id, ADMIN, TEMPLATE, _context, act)
