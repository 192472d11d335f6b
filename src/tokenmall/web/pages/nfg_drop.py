"""The drop's pages (首发) in the consumer mall: the drops on sale and coming, each with a
countdown and a buy form, and the reservation page with its payment link (or the points' pay
button) and its serials.

The countdown is server-rendered (the time left and the opening time); a script
(``nfg_drop.js``) only ticks it, and without JavaScript a reload brings it up to date. Buying is
a plain form POST (CSRF, a form key replayed through the idempotency store) answered by 303 to
the reservation. When the server is too busy (a 429 or 503, a database that timed out) the
press answers a friendly page whose retry button posts the same form again, with the same form
key, so a retry never buys twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tokenmall.domain.mall.tenants import Tenant
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.nfg_drop import (
    ReserveIn,
    amount_text,
    hold,
    pay_in,
    read_reservation,
    reserve_in,
)
from tokenmall.web.api.payments import gateway_for
from tokenmall.web.pages import forms, sessions
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.mall import tenant_or_404
from tokenmall.web.pages.rendering import render
from tokenmall.web.pages.shop import consumer_page, page, post_form, whole_number

log = logging.getLogger("tokenmall.web.pages")
router = APIRouter(route_class=PageRoute, include_in_schema=False)
RETRY_SECONDS = 3


def _drop(c: Collection, now: datetime) -> dict[str, Any]:
    opens = c.sale_starts_at
    return {
        "collection": c,
        "price": amount_text(c.price_asset, c.price),
        "asset": str(c.price_asset),
        "on_sale": c.on_sale(now),
        "upcoming": opens is not None and now < opens,
        "seconds_left": max(int((opens - now).total_seconds()), 0) if opens else 0,
        "available": max(c.available, 0),
        "sold_out": c.available <= 0,
    }


def _drops(request: Request, tenant_id: str) -> list[dict[str, Any]]:
    now = utc_now()
    with sessions.database(request).reading() as unit:
        found = unit.nfg.list_collections(
            tenant_id, statuses=[CollectionStatus.PUBLISHED], limit=100
        )
    listed = [c for c in found if c.sale_ends_at is None or now < c.sale_ends_at]
    return [_drop(c, now) for c in sorted(listed, key=lambda c: c.sale_starts_at or now)]


def _drops_page(
    request: Request,
    tenant: Tenant,
    caller: Principal | None,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    context: dict[str, Any] = {"tenant": tenant, "drops": _drops(request, tenant.tenant_id)}
    if form is not None:
        context["form"] = form
    return render(request, "nfg/drops.html", context, status_code=code, caller=caller)


@router.get("/{tenant_id}/nfg/drops")
def drops_page(request: Request, tenant_id: str) -> Response:
    tenant = tenant_or_404(request, tenant_id)
    return _drops_page(request, tenant, sessions.member(request, tenant_id))


def _busy(request: Request, tenant_id: str, form: Any, code: int) -> Response:
    """The friendly answer to a press the server could not take now: a retry posts the same
    form (its CSRF token and form key too, so it never buys twice). Drawn without the
    database, which may be what is overloaded."""
    values = {k: str(v) for k, v in form.items()}
    response = render(
        request,
        "nfg/busy.html",
        {
            "tenant_id": tenant_id,
            "values": values,
            "action": request.url.path,
            "retry_seconds": RETRY_SECONDS,
        },
        status_code=code,
    )
    response.headers["Retry-After"] = str(RETRY_SECONDS)
    return response


@router.post("/{tenant_id}/nfg/drops/{collection_id}/buy")
async def buy(request: Request, tenant_id: str, collection_id: str) -> Response:
    form = await forms.read_form(request)
    try:
        return _buy(request, tenant_id, collection_id, form)
    except (OperationalError, PoolTimeout):
        log.warning("a drop's buy press could not be taken now", exc_info=True)
        return _busy(request, tenant_id, form, 503)


def _buy(request: Request, tenant_id: str, collection_id: str, form: Any) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    gateway, held = gateway_for(request), hold(request)
    quantity: list[int] = []

    def checks() -> None:
        quantity.append(whole_number(form, "quantity"))

    def act(conn: Any) -> str:
        unit = MallUnitOfWork.joining(conn)
        payload = ReserveIn(quantity=quantity[0])
        made = reserve_in(unit, caller, tenant_id, collection_id, payload, gateway, held)
        return f"/{tenant_id}/nfg/reservations/{made.reservation_id}"

    def refused(state: FormState, code: int) -> Response:
        if code in (429, 503):
            return _busy(request, tenant_id, form, code)
        state.values["row"] = collection_id
        return _drops_page(request, tenant, caller, state, code)

    return post_form(
        request,
        form,
        tenant_id=tenant_id,
        caller=caller,
        action=act,
        refused=refused,
        checks=checks,
        default_field="quantity",
    )


def _reservation_page(
    request: Request,
    tenant: Tenant,
    caller: Principal,
    reservation_id: str,
    form: FormState | None = None,
    code: int = 200,
) -> Response:
    db = sessions.database(request)
    found = read_reservation(db, caller, tenant.tenant_id, reservation_id, gateway_for(request))
    with db.reading() as unit:
        collection = unit.nfg.get_collection(tenant.tenant_id, found.collection_id)
    now = utc_now()
    context: dict[str, Any] = {
        "r": found,
        "collection": collection,
        "points": found.asset != PriceAsset.MONEY,
        "seconds_left": max(int((found.expires_at - now).total_seconds()), 0),
    }
    if form is not None:
        context["form"] = form
    return page(request, "nfg/reservation.html", tenant, caller, context, code)


@router.get("/{tenant_id}/nfg/reservations/{reservation_id}")
def reservation_page(request: Request, tenant_id: str, reservation_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    return _reservation_page(request, tenant, caller, reservation_id)


@router.post("/{tenant_id}/nfg/reservations/{reservation_id}/pay")
async def pay(request: Request, tenant_id: str, reservation_id: str) -> Response:
    tenant, caller = consumer_page(request, tenant_id)
    form = await forms.read_form(request)
    config = request.app.state.log_config
    gateway = gateway_for(request)

    def act(conn: Any) -> str:
        pay_in(MallUnitOfWork.joining(conn), caller, tenant_id, reservation_id, config, gateway)
        return f"/{tenant_id}/nfg/reservations/{reservation_id}"

    def refused(state: FormState, code: int) -> Response:
        if code in (429, 503):
            return _busy(request, tenant_id, form, code)
        return _reservation_page(request, tenant, caller, reservation_id, state, code)

    return post_form(request, form, tenant_id=tenant_id, caller=caller, action=act, refused=refused)
