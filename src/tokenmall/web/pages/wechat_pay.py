"""Paying inside WeChat: the OAuth round trip for the shopper's openid, and the order page's
JSAPI and QR code forms (``wechat_jsapi.py`` says how the page offers them).

* ``GET /{t}/wechat/oauth?next=…``: a state bound to the session, then WeChat's authorize
  address (``snsapi_base``), which comes back to
* ``GET /{t}/wechat/oauth/back?code=…&state=…``: the state checked and dropped (used once),
  the code exchanged once for the openid, which is kept (one per member and app), then back
  to ``next``. A refusal (another state, a used code) shows why, changes nothing, and links
  to the order's QR code instead.
* ``POST /{t}/orders/{o}/pay/jsapi``: the order's JSAPI payment for the known openid; the
  order page then invokes the bridge.
* ``POST /{t}/orders/{o}/pay/qr``: the fallback, a Native payment's QR code on the order.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from tokenmall.bootstrap import wechat_oauth
from tokenmall.domain.errors import DomainError
from tokenmall.services.mall import wechat_openids as openids
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.payment_channels import public_base
from tokenmall.web.errors import status_of
from tokenmall.web.pages import rendering, sessions, shop, wechat_jsapi
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.mall import same_site_path

router = APIRouter(route_class=PageRoute, include_in_schema=False)
log = logging.getLogger("tokenmall.payments")


def _ready(request: Request, tenant_id: str, uow: MallUnitOfWork) -> openids.JsapiChannel:
    channel = wechat_jsapi.jsapi_channel(request, tenant_id, uow)
    if channel is None:
        raise Conflict("WeChat Pay inside WeChat is not switched on in this shop", "channel")
    return channel


@router.get("/{tenant_id}/wechat/oauth")
def oauth_start(request: Request, tenant_id: str) -> Response:
    _, caller = shop.consumer_page(request, tenant_id)
    back = same_site_path(tenant_id, request.query_params.get("next")) or f"/{tenant_id}/orders"
    channel = wechat_jsapi.jsapi_channel(request, tenant_id)
    if channel is None:
        return rendering.redirect(back)
    response = rendering.redirect(back)
    state = wechat_jsapi.issue_state(request, response, tenant_id, caller, back)
    response.headers["location"] = wechat_oauth(sessions.settings(request)).authorize_url(
        app_id=channel.app_id,
        redirect_uri=f"{public_base(request)}/{tenant_id}/wechat/oauth/back",
        state=state,
    )
    return response


@router.get("/{tenant_id}/wechat/oauth/back")
def oauth_back(request: Request, tenant_id: str) -> Response:
    tenant, caller = shop.consumer_page(request, tenant_id)
    back = wechat_jsapi.return_page(request, tenant_id, caller)
    try:
        back = wechat_jsapi.take_state(
            request, tenant_id, caller, request.query_params.get("state", "")
        )
        code = request.query_params.get("code", "")
        if not code:
            raise InvalidInput("WeChat sent no code back", "code")
        channel = wechat_jsapi.jsapi_channel(request, tenant_id)
        if channel is None:
            raise Conflict("WeChat Pay inside WeChat is not switched on in this shop", "channel")
        oauth = wechat_oauth(sessions.settings(request))
        openid = openids.exchange_code(caller, tenant_id, channel, oauth, code)
        with sessions.database(request).transaction() as conn:
            openids.remember_openid(
                MallUnitOfWork.joining(conn), caller, tenant_id, channel.app_id, openid, utc_now()
            )
        response: Response = rendering.redirect(back)
    except DomainError as exc:
        log.warning(
            "wechat oauth refused",
            extra={"fields": {"tenant_id": tenant_id, "field": getattr(exc, "field", None)}},
        )
        response = shop.page(
            request,
            "shop/wechat_oauth_failed.html",
            tenant,
            caller,
            {"message": str(exc), "field": getattr(exc, "field", None), "back": back},
            status_of(exc),
        )
    wechat_jsapi.drop_state(response, tenant_id)
    return response


def _pay(request: Request, tenant_id: str, order_id: str, way: str) -> shop.OrderAction:
    def act(uow: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        channel = _ready(request, tenant_id, uow)
        here = f"/{tenant_id}/orders/{order_id}"
        if way == "qr":
            openids.start_fallback(uow, caller, tenant_id, order_id, channel, utc_now())
            return f"{here}?{wechat_jsapi.SKIP}=skip#pay"
        openid = openids.known_openid(uow, caller, tenant_id, channel.app_id)
        if openid is None:
            raise Conflict("open this order inside WeChat to pay with WeChat Pay", "channel")
        openids.start_jsapi(uow, caller, tenant_id, order_id, channel, openid, utc_now())
        return f"{here}#jsapi"

    return act


@router.post("/{tenant_id}/orders/{order_id}/pay/jsapi")
async def pay_jsapi(request: Request, tenant_id: str, order_id: str) -> Response:
    act = _pay(request, tenant_id, order_id, "jsapi")
    return await shop.order_post(request, tenant_id, order_id, act)


@router.post("/{tenant_id}/orders/{order_id}/pay/qr")
async def pay_qr(request: Request, tenant_id: str, order_id: str) -> Response:
    act = _pay(request, tenant_id, order_id, "qr")
    return await shop.order_post(request, tenant_id, order_id, act)
