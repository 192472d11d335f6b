"""The order page inside WeChat's browser: JSAPI, and the OAuth ``state`` bound to the session.

Inside WeChat (a ``User-Agent`` with ``MicroMessenger``) and with the tenant's WeChat Pay on
and its ``app_secret`` saved, the order page offers 微信支付 through JSAPI. The first visit
without a known openid goes through WeChat's OAuth (``snsapi_base``) first; the page then
carries ``getBrandWCPayRequest``'s signed parameters for ``static/wechat_pay.js``, which
invokes ``WeixinJSBridge`` and shows the QR code fallback when the bridge is missing or the
shopper cancels. Outside WeChat nothing here applies.

The OAuth ``state`` is a random nonce kept in a short-lived cookie together with an HMAC (under
the deployment's secret) that binds it to the tenant, the session's credential, the moment it
was made and the page to return to: the way back must come with that state, in that session,
within ten minutes, once (the cookie is dropped as it is read).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

from fastapi import Request, Response

from tokenmall.bootstrap import wechat_jsapi
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.gateway import is_jsapi
from tokenmall.domain.mall.orders import OrderStatus
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall import payments
from tokenmall.services.mall import wechat_openids as openids
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Forbidden
from tokenmall.services.mall.orders import OrderView
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.payment_channels import public_base, registry_of
from tokenmall.web.pages import sessions
from tokenmall.web.pages.mall import same_site_path

STATE_COOKIE = "tokenmall_wxoauth"
STATE_SECONDS = 600
SKIP = "wx"  # ?wx=skip: the order page does not send the shopper to OAuth again


def in_wechat(request: Request) -> bool:
    return "MicroMessenger" in request.headers.get("user-agent", "")


def jsapi_channel(
    request: Request, tenant_id: str, uow: channels.ChannelsUnit | None = None
) -> openids.JsapiChannel | None:
    """The tenant's WeChat Pay gateway as JSAPI, when it is on and ready (its app_secret
    saved); None otherwise, or when its keys do not load (the QR code is offered then). Read
    in ``uow`` (the request's own unit) or a read unit of its own."""

    def of(unit: channels.ChannelsUnit) -> Any:
        return channels.gateway_of(
            unit, tenant_id, "wechat", registry_of(request), public_base(request), utc_now()
        )

    try:
        if uow is not None:
            gateway = of(uow)
        else:
            with sessions.database(request).reading() as reader:
                gateway = of(reader)
    except DomainError:
        return None
    found = wechat_jsapi(gateway)
    return found if openids.ready(found) else None


def _open_jsapi(view: OrderView) -> str | None:
    for payment in reversed(view.payments):
        if payment.status in payments.OPEN and is_jsapi(payment.redirect_url):
            return payment.redirect_url
    return None


def order_context(
    request: Request, caller: Principal, tenant_id: str, view: OrderView
) -> dict[str, Any] | str:
    """What the order page shows for JSAPI (``{"jsapi": …}``, empty outside WeChat), or the
    address of the OAuth round trip when the shopper's openid is not known yet."""
    order = view.order
    if not in_wechat(request) or caller.role not in openids.SHOPPERS:
        return {}
    if order.status != OrderStatus.CREATED or order.money_fen <= 0:
        return {}
    channel = jsapi_channel(request, tenant_id)
    if channel is None:
        return {}
    with sessions.database(request).reading() as uow:
        openid = openids.known_openid(uow, caller, tenant_id, channel.app_id)
    if openid is None:
        if request.query_params.get(SKIP) == "skip":
            return {"jsapi": {"bridge": None, "openid": False}}
        here = same_site_path(tenant_id, request.url.path) or f"/{tenant_id}/orders"
        return f"/{tenant_id}/wechat/oauth?next={here}"
    pending = _open_jsapi(view)
    bridge = None if pending is None else channel.bridge(pending)
    return {"jsapi": {"bridge": bridge, "openid": True}}


# -- the OAuth state -------------------------------------------------------------------------


def _mac(request: Request, tenant_id: str, caller: Principal, parts: list[str]) -> str:
    key = sessions.settings(request).secret_key.get_secret_value().encode()
    text = "|".join(["wxoauth", tenant_id, caller.credential_id, *parts])
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def issue_state(
    request: Request, response: Response, tenant_id: str, caller: Principal, back: str
) -> str:
    """A new state for the OAuth round trip, its cookie set on ``response``."""
    nonce, issued = secrets.token_hex(16), str(int(time.time()))
    target = base64.urlsafe_b64encode(back.encode()).decode()
    mac = _mac(request, tenant_id, caller, [nonce, issued, target])
    response.set_cookie(
        STATE_COOKIE,
        ".".join([nonce, issued, target, mac]),
        max_age=STATE_SECONDS,
        path=f"/{tenant_id}/wechat/",
        httponly=True,
        samesite="lax",
        secure=sessions.settings(request).cookie_secure,
    )
    return nonce


def _cookie(request: Request, tenant_id: str, caller: Principal) -> tuple[str, str, str] | None:
    """The state cookie's (nonce, issued, page to return to) if it is this session's."""
    parts = request.cookies.get(STATE_COOKIE, "").split(".")
    if len(parts) != 4:
        return None
    nonce, issued, target, mac = parts
    if not hmac.compare_digest(mac, _mac(request, tenant_id, caller, [nonce, issued, target])):
        return None
    try:
        back = base64.urlsafe_b64decode(target.encode()).decode()
    except ValueError:
        return None
    return nonce, issued, same_site_path(tenant_id, back) or f"/{tenant_id}/orders"


def return_page(request: Request, tenant_id: str, caller: Principal) -> str:
    """The page the round trip started from, if this session's cookie names one."""
    found = _cookie(request, tenant_id, caller)
    return f"/{tenant_id}/orders" if found is None else found[2]


def take_state(request: Request, tenant_id: str, caller: Principal, state: str) -> str:
    """The page to return to, if ``state`` is the one this session was given (and is still
    fresh); ``Forbidden`` naming ``state`` otherwise. The caller drops the cookie."""
    found = _cookie(request, tenant_id, caller)
    if found is None or not state:
        raise _refused()
    nonce, issued, back = found
    if not hmac.compare_digest(nonce.encode(), state.encode()):
        raise _refused()
    if not issued.isdigit() or time.time() - int(issued) > STATE_SECONDS:
        raise _refused()
    return back


def _refused() -> Forbidden:
    return Forbidden("the sign-in with WeChat did not start here: open the order again", "state")


def drop_state(response: Response, tenant_id: str) -> None:
    response.delete_cookie(STATE_COOKIE, path=f"/{tenant_id}/wechat/")
