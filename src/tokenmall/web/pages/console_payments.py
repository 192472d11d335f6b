"""The console's payment channels (支付渠道): switch the sandbox, WeChat Pay and Alipay on or
off, save a channel's key set, and test the connection.

The same use cases as the API (``services/mall/payment_channels.py``): a key set is checked
field by field, sealed and never shown again (the page shows ids, serials and masks, and the
key fields are always empty); leaving them empty keeps the saved set. Saving a new set keeps
the replaced one verifying callbacks for the grace period.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from tokenmall.domain.mall.channels import CHANNELS
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.payment_channels import registry_of
from tokenmall.web.pages import forms
from tokenmall.web.pages.console import Context, _page, _post
from tokenmall.web.pages.errors import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)
TEMPLATE = "admin/payments.html"
KEY_FIELDS = {
    "wechat": (
        "mchid",
        "appid",
        "apiv3_key",
        "private_key",
        "cert_serial",
        "platform_public_key",
        "platform_public_key_id",
        "platform_certificate",
        "app_secret",
    ),
    "alipay": (
        "app_id",
        "seller_id",
        "app_private_key",
        "alipay_public_key",
        "gateway_url",
        "timeout_express",
        "app_cert",
        "alipay_cert",
        "alipay_root_cert",
    ),
}


def _context(request: Request, tenant_id: str) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        uow = MallUnitOfWork.joining(conn)
        views = channels.list_channels(uow, caller, tenant_id, registry_of(request), utc_now())
        return {"channels": views, "key_fields": KEY_FIELDS}

    return context


def _channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise HTTPException(404)
    return channel


@router.get("/{tenant_id}/admin/payments")
def payments_page(request: Request, tenant_id: str) -> Response:
    done = request.query_params.get("done")
    return _page(
        request,
        tenant_id,
        TEMPLATE,
        _context(request, tenant_id),
        done=done if done in ("saved", "tested") else None,
        tested=request.query_params.get("channel"),
    )


def _keys(channel: str, form: FormData) -> dict[str, str] | None:
    given = {name: forms.text_field(form, name).strip() for name in KEY_FIELDS.get(channel, ())}
    given = {name: value for name, value in given.items() if value}
    return given or None


def _grace(form: FormData) -> int | None:
    text = forms.text_field(form, "grace_hours").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        raise InvalidInput("grace_hours must be a whole number of hours", "grace_hours")
    return int(text)


@router.post("/{tenant_id}/admin/payments/{channel}")
async def channel_post(request: Request, tenant_id: str, channel: str) -> Response:
    name = _channel(channel)

    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        channels.configure(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            name,
            registry_of(request),
            utc_now(),
            enabled=forms.text_field(form, "enabled") == "on",
            mode=forms.text_field(form, "mode").strip() or None,
            keys=_keys(name, form),
            grace_hours=_grace(form),
        )
        return f"/{tenant_id}/admin/payments?done=saved&channel={name}"

    return await _post(request, tenant_id, TEMPLATE, _context(request, tenant_id), act)


@router.post("/{tenant_id}/admin/payments/{channel}/test")
async def channel_test(request: Request, tenant_id: str, channel: str) -> Response:
    name = _channel(channel)

    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        uow = MallUnitOfWork.joining(conn)
        channels.check_channel(uow, caller, tenant_id, name, registry_of(request))
        return f"/{tenant_id}/admin/payments?done=tested&channel={name}"

    return await _post(request, tenant_id, TEMPLATE, _context(request, tenant_id), act)
