"""Pages of the NFG rights: the consumer's redemption page (提货) and the console's entry scan
and redemptions (merchants and admins).

* ``/{tenant}/nfg/redeem``: the consumer's tokens with a redeem button (an address of theirs
  to ship to) where the token redeems a SKU, their redemptions (cancel while not shipped) and
  the uses of each token's rights;
* ``/{tenant}/admin/nfg/scan``: a field for the certificate URL read from a QR (a scanner may
  also open the page with ``?certificate=…`` to fill it); a passed check shows the token and
  its uses, a refused one the reason, and changes nothing;
* ``/{tenant}/admin/nfg/redemptions``: the redemptions to ship, deliver (the token burns) or
  cancel.

Forms are plain POSTs through ``forms.submit`` (CSRF, a form key replayed through the
idempotency store, one transaction), then a redirect; a refusal re-renders the page with the
message next to the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.services.mall import addresses
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.nfg import entry, redemption
from tokenmall.web.api.log import log_config
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.admin import _staff, local_time
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import render
from tokenmall.web.pages.shop import consumer_page, page, post_form, whole_number

router = APIRouter(route_class=PageRoute, include_in_schema=False)

STAFF = ("admin", "merchant")


# --- the consumer's redemption page -----------------------------------------------------------


def _redeem_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    with sessions.database(request).reading() as unit:
        held = redemption.holdings(unit, caller, tenant.tenant_id)
        book = addresses.list_addresses(unit, caller, tenant.tenant_id)
        asked = redemption.list_redemptions(unit, caller, tenant.tenant_id)
    done = request.query_params.get("done")
    context: dict[str, Any] = {
        "holdings": held,
        "addresses": book,
        "redemptions": asked,
        "done": done if done in ("redeemed", "cancelled") else None,
        "local_time": local_time,
    }
    if form is not None:
        context["form"] = form
    return page(request, "nfg/redeem.html", tenant, caller, context, code)


@router.get("/{tenant_id}/nfg/redeem")
def redeem_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _redeem_page(request, tenant, caller)


@router.post("/{tenant_id}/nfg/redeem")
async def redeem(request: Request, tenant_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    config = log_config(request)

    def act(conn: Connection) -> str:
        redemption.request(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            collection_id=forms.text_field(form, "collection_id"),
            serial=whole_number(form, "serial"),
            address_id=forms.text_field(form, "address_id") or None,
            config=config,
            now=utc_now(),
        )
        return f"/{tenant_id}/nfg/redeem?done=redeemed"

    def refused(state: FormState, code: int) -> Response:
        return _redeem_page(request, tenant, caller, state, code)

    return post_form(request, form, tenant_id=tenant_id, caller=caller, action=act, refused=refused)


@router.post("/{tenant_id}/nfg/redemptions/{redemption_id}/cancel")
async def cancel_own(request: Request, tenant_id: str, redemption_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    config = log_config(request)

    def act(conn: Connection) -> str:
        redemption.cancel(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            redemption_id,
            reason=None,
            config=config,
            now=utc_now(),
        )
        return f"/{tenant_id}/nfg/redeem?done=cancelled"

    def refused(state: FormState, code: int) -> Response:
        return _redeem_page(request, tenant, caller, state, code)

    return post_form(request, form, tenant_id=tenant_id, caller=caller, action=act, refused=refused)


# --- the console: entry scan and redemptions --------------------------------------------------


def _console(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    template: str,
    context: dict[str, Any],
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    shown = {"tenant": tenant, "local_time": local_time, **context}
    if form is not None:
        shown["form"] = form
    return render(request, template, shown, status_code=code, caller=caller)


def _scan_context(request: Request, tenant_id: str, caller: Principal) -> dict[str, Any]:
    found: dict[str, Any] = {"certificate": request.query_params.get("certificate", "")[:500]}
    token = request.query_params.get("token")
    if token and "/" in token:
        collection_id, _, serial = token.rpartition("/")
        with sessions.database(request).reading() as unit:
            try:
                uses = entry.uses(
                    unit, caller, tenant_id, collection_id, int(serial) if serial.isdigit() else 0
                )
                collection = unit.nfg.get_collection(tenant_id, collection_id)
            except DomainError:
                return found
        found.update({"checked": token, "uses": uses, "collection": collection})
    return found


@router.get("/{tenant_id}/admin/nfg/scan")
def scan_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, STAFF)
    context = _scan_context(request, tenant_id, caller)
    return _console(request, tenant, caller, "nfg/scan.html", context)


@router.post("/{tenant_id}/admin/nfg/scan")
async def scan(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, STAFF)
    form = await forms.read_form(request)
    config = log_config(request)

    def act(conn: Connection) -> str:
        check = entry.scan(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            certificate=forms.text_field(form, "certificate"),
            note=forms.text_field(form, "note") or None,
            config=config,
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/nfg/scan?token={check.token.key}"

    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(request, form, tenant_id=tenant_id, caller=caller, action=act)
    except DomainError as exc:
        state = FormState.of(form)
        state.errors[str(getattr(exc, "field", None) or "certificate")] = str(exc)
        context = {"certificate": forms.text_field(form, "certificate")[:500], "refused": True}
        return _console(request, tenant, caller, "nfg/scan.html", context, state, status_of(exc))
    return rendering.redirect(location)


def _redemptions_context(request: Request, tenant_id: str, caller: Principal) -> dict[str, Any]:
    with sessions.database(request).reading() as unit:
        found = redemption.list_redemptions(unit, caller, tenant_id)
    done = request.query_params.get("done")
    return {
        "redemptions": found,
        "done": done if done in ("shipped", "delivered", "cancelled") else None,
    }


@router.get("/{tenant_id}/admin/nfg/redemptions")
def redemptions_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, STAFF)
    context = _redemptions_context(request, tenant_id, caller)
    return _console(request, tenant, caller, "nfg/redemptions.html", context)


@router.post("/{tenant_id}/admin/nfg/redemptions/{redemption_id}/{step}")
async def redemption_step(
    request: Request, tenant_id: str, redemption_id: str, step: str
) -> Response:
    tenant, caller = _staff(request, tenant_id, STAFF)
    form = await forms.read_form(request)
    config = log_config(request)

    def act(conn: Connection) -> str:
        unit = MallUnitOfWork.joining(conn)
        now = utc_now()
        if step == "ship":
            carrier = forms.text_field(form, "carrier").strip() or None
            redemption.ship(
                unit,
                caller,
                tenant_id,
                redemption_id,
                carrier=carrier,
                tracking_number=None,
                now=now,
            )
            return f"/{tenant_id}/admin/nfg/redemptions?done=shipped"
        if step == "deliver":
            redemption.deliver(unit, caller, tenant_id, redemption_id, config=config, now=now)
            return f"/{tenant_id}/admin/nfg/redemptions?done=delivered"
        redemption.cancel(
            unit, caller, tenant_id, redemption_id, reason=None, config=config, now=now
        )
        return f"/{tenant_id}/admin/nfg/redemptions?done=cancelled"

    if step not in ("ship", "deliver", "cancel"):
        return Response(status_code=404)
    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(request, form, tenant_id=tenant_id, caller=caller, action=act)
    except DomainError as exc:
        state = FormState.of(form)
        state.errors["_form"] = str(exc)
        context = _redemptions_context(request, tenant_id, caller)
        return _console(
            request, tenant, caller, "nfg/redemptions.html", context, state, status_of(exc)
        )
    return rendering.redirect(location)
