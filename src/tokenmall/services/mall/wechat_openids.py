"""Paying inside WeChat (JSAPI): the shopper's openid by OAuth, and the JSAPI payment.

A JSAPI payment names its payer by openid, the shopper's id under the shop's WeChat app. The
order page learns it once by WeChat's web OAuth (``snsapi_base``, silent) and keeps it per
member and app id (``OpenidRows``, table ``wechat_openids``). The ports here are what the use
cases need of the edges' adapters: ``WechatOauth`` (the authorize address and the code's
exchange, ``adapters/payments/wechat_oauth.py``) and ``JsapiChannel`` (a tenant's WeChat Pay
gateway offering JSAPI, ``adapters/payments/wechat_jsapi.py``). The ``state`` that binds the
OAuth round trip to the shopper's session is the web edge's (``web/pages/wechat_pay.py``).

JSAPI is offered when the tenant's WeChat Pay channel is on and its key set holds the app's
``app_secret`` (without it the openid cannot be learnt).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tokenmall.domain.mall.gateway import ChannelError, is_jsapi
from tokenmall.domain.mall.payments import Payment
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import payments
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.unit_of_work import UnitOfWork

SHOPPERS: tuple[Role, ...] = (Role.CONSUMER,)


class WechatOauth(Protocol):
    def authorize_url(self, *, app_id: str, redirect_uri: str, state: str) -> str: ...

    def openid_of(self, *, app_id: str, app_secret: str, code: str) -> str: ...


class JsapiChannel(Protocol):
    """A tenant's WeChat Pay gateway as JSAPI sees it."""

    app_id: str
    app_secret: str | None

    def paying(self, openid: str) -> Gateway: ...

    def falling_back(self) -> Gateway: ...

    def bridge(self, redirect_url: str) -> dict[str, str] | None: ...


class OpenidRows(Protocol):
    def get(self, tenant_id: str, user_id: str, app_id: str) -> str | None: ...

    def put(
        self, tenant_id: str, user_id: str, app_id: str, openid: str, now: datetime
    ) -> bool: ...


class OpenidsUnit(Protocol):
    @property
    def openids(self) -> OpenidRows: ...


def ready(channel: JsapiChannel | None) -> bool:
    """Whether JSAPI can be offered through ``channel``: it needs the app's AppSecret."""
    return channel is not None and bool(channel.app_secret)


def known_openid(
    uow: OpenidsUnit, caller: Principal | None, tenant_id: str, app_id: str
) -> str | None:
    """The shopper's openid under ``app_id``, if the OAuth round trip was made already."""
    who = require(caller, tenant_id, SHOPPERS)
    return uow.openids.get(tenant_id, who.subject_id, app_id)


def exchange_code(
    caller: Principal | None,
    tenant_id: str,
    channel: JsapiChannel,
    oauth: WechatOauth,
    code: str,
) -> str:
    """The openid WeChat gives for the OAuth ``code`` (asked once, outside any transaction);
    ``ChannelError`` (409) naming the field when WeChat refuses it."""
    require(caller, tenant_id, SHOPPERS)
    if not channel.app_secret:
        raise Conflict("the shop's WeChat Pay keys have no app_secret", "app_secret")
    return oauth.openid_of(app_id=channel.app_id, app_secret=channel.app_secret, code=code)


def remember_openid(
    uow: OpenidsUnit,
    caller: Principal | None,
    tenant_id: str,
    app_id: str,
    openid: str,
    now: datetime,
) -> bool:
    """Keep the shopper's openid (one per member and app); True if the table changed."""
    who = require(caller, tenant_id, SHOPPERS)
    if not openid or len(openid) > 128:
        raise ChannelError("the openid is malformed", "code")
    return uow.openids.put(tenant_id, who.subject_id, app_id, openid, now)


def start_jsapi(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    channel: JsapiChannel,
    openid: str,
    now: datetime,
) -> Payment:
    """The order's open JSAPI payment for ``openid``, else a new one (a Native or H5
    payment open on the same order stays as it is: money arriving twice is refunded)."""
    found, _ = payments.start_payment(
        uow,
        caller,
        tenant_id,
        order_id,
        channel.paying(openid),
        now,
        reuse=lambda p: is_jsapi(p.redirect_url),
    )
    return found


def start_fallback(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: str,
    channel: JsapiChannel,
    now: datetime,
) -> Payment:
    """When the bridge is missing or the shopper cancelled: the order's open Native payment
    (a QR code to long-press inside WeChat), else a new one."""
    found, _ = payments.start_payment(
        uow,
        caller,
        tenant_id,
        order_id,
        channel.falling_back(),
        now,
        reuse=lambda p: not is_jsapi(p.redirect_url) and p.redirect_url.startswith("weixin://"),
    )
    return found
