"""The console's NFG tokens (an admin, or the collection's issuing merchant): a collection's
tokens in serial order, one token (owner, state, history, certificate) and its burn action.

* ``/{tenant}/admin/nfg/collections/{collection}/tokens``: the tokens, each linking its page;
* ``/{tenant}/admin/nfg/tokens/{collection}/{serial}``: the token, with a burn form while it is
  held (an optional reason);
* ``POST …/burn``: first a confirmation (the page again, naming the token and the reason, with
  a form that confirms it: ``confirm=1``); nothing changes until then. The confirmed form runs
  the same use case as the API (``tokens.burn``: ``held → burned``, a ``burn`` leaf, one
  transaction) once per form key, then redirects to the token's page.

Forms are plain POSTs (CSRF, a form key replayed through the idempotency store); a refusal
(the token not held, a reason too long) re-renders the page with the message next to the
action, and nothing changed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.domain.nfg.metadata import display_serial
from tokenmall.domain.nfg.records import MAX_EDITION_SIZE, TokenState
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.nfg import tokens
from tokenmall.web.api.log import log_config
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.admin import _staff, local_time
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STAFF = ("admin", "merchant")
TOKEN_PAGE = "nfg/admin_token.html"
PAGE_SIZE = 200


def _serial(serial: str) -> int:
    if not serial.isascii() or not serial.isdecimal() or not 1 <= int(serial) <= MAX_EDITION_SIZE:
        raise NotFound(f"no serial {serial}", "serial")
    return int(serial)


def _token_path(tenant_id: str, collection_id: str, serial: int) -> str:
    return f"/{tenant_id}/admin/nfg/tokens/{collection_id}/{serial}"


@router.get("/{tenant_id}/admin/nfg/collections/{collection_id}/tokens")
def tokens_page(request: Request, tenant_id: str, collection_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, STAFF)
    after = request.query_params.get("after", "0")
    start = int(after) if after.isascii() and after.isdecimal() and len(after) <= 9 else 0
    with sessions.database(request).reading() as unit:
        collection, found = tokens.of_collection(
            unit, caller, tenant_id, collection_id, after=start, limit=PAGE_SIZE
        )
    rows = [
        {
            "token": t,
            "display": display_serial(t.serial, collection.edition_size),
            "href": _token_path(tenant_id, collection_id, t.serial),
        }
        for t in found
    ]
    more = found[-1].serial if len(found) == PAGE_SIZE else None
    context = {"tenant": tenant, "collection": collection, "rows": rows, "more": more}
    return render(request, "nfg/admin_tokens.html", context, caller=caller)


def _token_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    collection_id: str,
    serial: int,
    *,
    form: FormState | None = None,
    confirm: dict[str, str] | None = None,
    code: int = 200,
) -> Response:
    with sessions.database(request).reading() as unit:
        found = tokens.managed_token(unit, caller, tenant.tenant_id, collection_id, serial)
    view = found.view
    done = request.query_params.get("done")
    context: dict[str, Any] = {
        "tenant": tenant,
        "collection": view.collection,
        "token": view.token,
        "history": view.history,
        "owner_name": found.owner_name,
        "display": display_serial(serial, view.collection.edition_size),
        "held": view.token.state == TokenState.HELD,
        "path": _token_path(tenant.tenant_id, collection_id, serial),
        "certificate": f"/{tenant.tenant_id}/c/{collection_id}/{serial}",
        "done": done if done == "burned" else None,
        "confirm": confirm,
        "local_time": local_time,
    }
    if form is not None:
        context["form"] = form
    return render(request, TOKEN_PAGE, context, status_code=code, caller=caller)


@router.get("/{tenant_id}/admin/nfg/tokens/{collection_id}/{serial}")
def token_page(request: Request, tenant_id: str, collection_id: str, serial: str) -> Response:
    tenant, caller = _staff(request, tenant_id, STAFF)
    return _token_page(request, tenant, caller, collection_id, _serial(serial))


@router.post("/{tenant_id}/admin/nfg/tokens/{collection_id}/{serial}/burn")
async def burn(request: Request, tenant_id: str, collection_id: str, serial: str) -> Response:
    """Burn a held token: the first post asks for a confirmation (nothing changes), the
    confirmed one (``confirm=1``) burns it once per form key."""
    tenant, caller = _staff(request, tenant_id, STAFF)
    number = _serial(serial)
    form = await forms.read_form(request)
    reason = forms.text_field(form, "reason").strip() or None
    config = log_config(request)

    def act(conn: Connection) -> str:
        tokens.burn(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            collection_id,
            number,
            reason=reason,
            config=config,
            now=utc_now(),
        )
        return _token_path(tenant_id, collection_id, number) + "?done=burned"

    try:
        csrf.check_csrf(request, caller, form)
        if forms.text_field(form, "confirm") != "1":
            with sessions.database(request).reading() as unit:
                tokens.burnable(unit, caller, tenant_id, collection_id, number, reason=reason)
            confirm = {"reason": reason or ""}
            return _token_page(request, tenant, caller, collection_id, number, confirm=confirm)
        location = forms.submit(request, form, tenant_id=tenant_id, caller=caller, action=act)
    except DomainError as exc:
        state = FormState.of(form)
        name = str(getattr(exc, "field", None) or "_form")
        state.errors["reason" if name == "reason" else "burn"] = str(exc)
        state.values["refusal"] = str(getattr(exc, "code", "") or "")
        return _token_page(
            request, tenant, caller, collection_id, number, form=state, code=status_of(exc)
        )
    return rendering.redirect(location)
