"""A tenant's payment channels (sandbox, WeChat Pay, Alipay): read, configure, test.

The tenant's admins (an API key: the ``admin`` scope) switch channels on and off and save
their key sets. A key set is checked field by field (422 naming the field), sealed under the
deployment's secret and never shown again: reads show ids, serials and masks. Saving a new one
keeps the replaced set verifying callbacks for ``grace_hours`` (default 72), so a rotation
needs no downtime. ``test`` asks the channel whether the saved set works and says which field
to fix when it does not (409 ``channel_error``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from tokenmall.bootstrap import payment_channels as make_registry
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import TenantId, write
from tokenmall.web.deps import Caller, Db, IdempotencyKey, settings, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["payments"],
    dependencies=[Depends(single_query_values)],
)

ChannelName = Annotated[
    str,
    Path(pattern=r"^(sandbox|wechat|alipay)$", description="sandbox, wechat or alipay"),
]


def registry_of(request: Request) -> channels.Registry:
    """The deployment's channels (made once per application)."""
    return registry_of_app(request.app)


def registry_of_app(app: Any) -> channels.Registry:
    """The application's channels, made the first time they are asked for."""
    state = app.state
    found = getattr(state, "payment_channels", None)
    if found is None:
        configured = state.settings
        found = make_registry(
            configured.secret_key.get_secret_value(),
            configured.sandbox_gateway,
            wechat_api_base=configured.wechatpay_api_base,
        )
        state.payment_channels = found
    assert isinstance(found, channels.Registry)
    return found


def public_base(request: Request) -> str:
    """Where the channels send callbacks and the payer back: the configured public address,
    else the one the request came in on."""
    return (settings(request).payments_public_url or str(request.base_url)).rstrip("/")


def order_gateway(
    request: Request,
    tenant_id: str,
    channel: str | None = None,
    uow: channels.ChannelsUnit | None = None,
) -> Gateway:
    """The gateway an order's payment (or refund) goes through for ``tenant_id``, read in
    ``uow`` (the request's own unit) or a read unit of its own."""
    if uow is not None:
        return channels.tenant_gateway(
            uow, tenant_id, registry_of(request), public_base(request), utc_now(), channel
        )
    with request.app.state.database.reading() as reader:
        return channels.tenant_gateway(
            reader, tenant_id, registry_of(request), public_base(request), utc_now(), channel
        )


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="Offer the channel to shoppers")
    mode: str | None = Field(
        default=None,
        description="How the payer pays (WeChat Pay: native, a QR code, or h5, a mobile "
        "browser); unset: unchanged",
    )
    keys: dict[str, str] | None = Field(
        default=None,
        description="A new key set (unset: keep the saved one). WeChat Pay: mchid, appid, "
        "apiv3_key, private_key (PEM), cert_serial, and platform_public_key (PEM) with "
        "platform_public_key_id, or platform_certificate (PEM); optionally app_secret (the "
        "app's AppSecret). Never shown back.",
    )
    grace_hours: int | None = Field(
        default=None,
        ge=0,
        le=24 * 30,
        description="How long the replaced key set still verifies callbacks (default 72)",
    )


class ChannelOut(BaseModel):
    channel: str
    available: bool = Field(description="This deployment offers the channel")
    enabled: bool
    configured: bool = Field(description="A key set is saved")
    mode: str | None
    settings: dict[str, Any] = Field(description="Ids and serials; keys masked")
    previous_until: datetime | None = Field(
        description="The replaced key set verifies callbacks until then"
    )

    @classmethod
    def of(cls, view: channels.ChannelView) -> ChannelOut:
        return cls(
            channel=view.channel,
            available=view.available,
            enabled=view.enabled,
            configured=view.configured,
            mode=view.mode,
            settings=view.settings,
            previous_until=view.previous_until,
        )


class ChannelListOut(BaseModel):
    channels: list[ChannelOut]


class ChannelTestOut(BaseModel):
    channel: str
    ok: bool
    message: str


@router.get(
    "/payment-channels",
    response_model=ChannelListOut,
    summary="The tenant's payment channels: which are on, their settings (keys masked)",
    responses=responses(*COMMON, 403),
)
def list_channels(tenant_id: TenantId, request: Request, caller: Caller, db: Db) -> ChannelListOut:
    with db.reading() as uow:
        views = channels.list_channels(uow, caller, tenant_id, registry_of(request), utc_now())
    return ChannelListOut(channels=[ChannelOut.of(v) for v in views])


@router.put(
    "/payment-channels/{channel}",
    response_model=ChannelOut,
    summary="Switch a payment channel on or off, choose its mode, save a new key set (rotated "
    "without downtime: the replaced set verifies callbacks for grace_hours)",
    responses=responses(*COMMON, 403, 409),
)
def configure_channel(
    tenant_id: TenantId,
    channel: ChannelName,
    payload: ChannelIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    registry = registry_of(request)

    def make(conn: Connection) -> BaseModel:
        view = channels.configure(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            channel,
            registry,
            utc_now(),
            enabled=payload.enabled,
            mode=payload.mode,
            keys=payload.keys,
            grace_hours=payload.grace_hours,
        )
        return ChannelOut.of(view)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/payment-channels/{channel}/test",
    response_model=ChannelTestOut,
    summary="Test connection: ask the channel whether the saved key set works (409 "
    "channel_error naming the field to fix when it does not)",
    responses=responses(*COMMON, 403, 409),
)
def check_channel(
    tenant_id: TenantId,
    channel: ChannelName,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    registry = registry_of(request)
    # The channel is asked outside any transaction; its answer is stored under the key.
    with db.reading() as uow:
        message = channels.check_channel(uow, caller, tenant_id, channel, registry)
    return write(
        request,
        db,
        caller,
        tenant_id,
        key,
        None,
        lambda conn: ChannelTestOut(channel=channel, ok=True, message=message),
    )
