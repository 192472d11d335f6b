"""Alipay as a tenant's payment channel: its key set checked field by field, the connection
tested, and the gateway the mall calls (``AlipayChannel``).

A key set is the fields of ``AlipayConfig`` (``check`` refuses a bad one naming the field and
splits it into what may be shown and what is sealed). ``AlipayChannel`` wraps the tenant's
``AlipayGateway``: Alipay's refusals become ``ChannelError`` (409, never a 500), and during a
key rotation's grace period a notify the current keys refuse is tried with the replaced ones.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from tokenmall.adapters.payments.alipay_config import (
    PRODUCTION_GATEWAY,
    AlipayConfig,
    AlipayConfigError,
    alipay_client,
)
from tokenmall.adapters.payments.alipay_gateway import (
    AlipayError,
    AlipayGateway,
    AlipayUnavailable,
    PayMode,
)
from tokenmall.adapters.payments.alipay_notify import ALIPAY
from tokenmall.domain.mall.gateway import (
    CallbackEvent,
    CallbackRefused,
    ChannelError,
    CreatedPayment,
    GatewayRefund,
)

MODES: tuple[str, ...] = ("wap", "page")
REQUIRED = ("app_id", "app_private_key", "seller_id")
OPTIONAL = (
    "alipay_public_key",
    "gateway_url",
    "timeout_express",
    "app_cert",
    "alipay_cert",
    "alipay_root_cert",
)
# A notify the current keys refuse for one of these may be signed with the replaced ones.
ROTATED_REASONS = frozenset({"bad_signature", "wrong_app", "wrong_seller"})
T = TypeVar("T")


def _mask(text: str) -> str:
    return "****" + text[-4:] if len(text) > 8 else "****"


def config_of(data: dict[str, Any], *, load: bool = True) -> AlipayConfig:
    """The key set ``data`` as an ``AlipayConfig`` (``load``: its keys loaded too);
    ``ChannelError`` naming the first field at fault."""
    if not isinstance(data, dict):
        raise ChannelError("keys must be an object of the Alipay fields", "keys")
    for name in data:
        if name not in REQUIRED and name not in OPTIONAL:
            raise ChannelError(f"{name} is not an Alipay field", str(name)[:64])
    values: dict[str, str] = {}
    for name in REQUIRED + OPTIONAL:
        value = data.get(name, "")
        if not isinstance(value, str):
            raise ChannelError(f"{name} must be text", name)
        if name in REQUIRED and not value.strip():
            raise ChannelError(f"{name} is required", name)
        if value.strip():
            values[name] = value.strip()
    config = AlipayConfig(
        app_id=values["app_id"],
        app_private_key=values["app_private_key"],
        alipay_public_key=values.get("alipay_public_key", ""),
        seller_id=values["seller_id"],
        gateway_url=values.get("gateway_url", PRODUCTION_GATEWAY),
        timeout_express=values.get("timeout_express", "30m"),
        app_cert=values.get("app_cert", ""),
        alipay_cert=values.get("alipay_cert", ""),
        alipay_root_cert=values.get("alipay_root_cert", ""),
    )
    if not config.cert_mode and not config.alipay_public_key:
        raise ChannelError(
            "alipay_public_key is required (or the three certificates)", "alipay_public_key"
        )
    if load:
        try:
            alipay_client(config)
        except AlipayConfigError as exc:
            raise ChannelError(str(exc), exc.field) from None
    return config


def stored(config: AlipayConfig) -> dict[str, Any]:
    """The whole key set, as sealed."""
    return {
        "app_id": config.app_id,
        "app_private_key": config.app_private_key,
        "alipay_public_key": config.alipay_public_key,
        "seller_id": config.seller_id,
        "gateway_url": config.gateway_url,
        "timeout_express": config.timeout_express,
        "app_cert": config.app_cert,
        "alipay_cert": config.alipay_cert,
        "alipay_root_cert": config.alipay_root_cert,
    }


def public(config: AlipayConfig) -> dict[str, Any]:
    """What may be shown back: ids, the gateway, masks; never a key."""
    return {
        "app_id": config.app_id,
        "seller_id": config.seller_id,
        "gateway_url": config.gateway_url,
        "timeout_express": config.timeout_express,
        "app_private_key": "****",
        "alipay_public_key": _mask(config.alipay_public_key) if config.alipay_public_key else "",
        "certificate_mode": "yes" if config.cert_mode else "",
    }


def check(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    config = config_of(data)
    return public(config), stored(config)


def check_connection(data: dict[str, Any]) -> str:
    """Ask Alipay about a payment that does not exist: a signed "no such trade" proves both
    keys; otherwise ``ChannelError`` naming the field to fix."""
    config = config_of(data, load=False)
    try:
        gateway = AlipayGateway(config, tenant_id="check", notify_url="https://invalid.example/")
    except AlipayConfigError as exc:
        raise ChannelError(str(exc), exc.field) from None
    probe = f"tmcheck{secrets.token_hex(8)}"
    try:
        gateway.query_payment(provider_ref=probe)
    except AlipayUnavailable as exc:
        if "signature" in str(exc):
            field = "alipay_cert" if config.cert_mode else "alipay_public_key"
            raise ChannelError(
                f"Alipay's answer does not verify with {field}: check {field}", field
            ) from None
        raise ChannelError(
            f"Alipay is not reachable at {config.gateway_url}: {exc}", None
        ) from None
    except AlipayError as exc:
        if "signature" in (exc.sub_code + str(exc)) or exc.code == "40002":
            raise ChannelError(
                f"Alipay refused the request's signature: check app_id and app_private_key "
                f"({exc.sub_code or exc.code})",
                "app_private_key",
            ) from None
        raise ChannelError(f"Alipay refused the check: {exc}", None) from None
    return f"Alipay answered app {config.app_id} and its answer verified"


def _guarded(do: Callable[[], T]) -> T:
    try:
        return do()
    except AlipayError as exc:
        raise ChannelError(str(exc)) from None


class AlipayChannel:
    """The tenant's Alipay gateway as the mall calls it (``previous``: the replaced keys'
    gateway while their grace period lasts)."""

    name = ALIPAY

    def __init__(self, current: AlipayGateway, previous: AlipayGateway | None = None) -> None:
        self.current = current
        self.previous = previous

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        return _guarded(
            lambda: self.current.create_payment(
                tenant_id=tenant_id,
                payment_id=payment_id,
                order_id=order_id,
                amount_fen=amount_fen,
            )
        )

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        try:
            return self.current.verify_callback(headers, body, now)
        except CallbackRefused as exc:
            if self.previous is None or exc.reason not in ROTATED_REASONS:
                raise
        return self.previous.verify_callback(headers, body, now)

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        return _guarded(
            lambda: self.current.refund(
                provider_ref=provider_ref,
                refund_id=refund_id,
                amount_fen=amount_fen,
                reason=reason,
            )
        )

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        return _guarded(lambda: self.current.query_payment(provider_ref=provider_ref))

    def close_payment(self, *, provider_ref: str) -> None:
        _guarded(lambda: self.current.close_payment(provider_ref=provider_ref))


def build(
    tenant_id: str,
    keys: dict[str, Any],
    previous: dict[str, Any] | None,
    *,
    notify_url: str,
    return_url: str,
    mode: str | None,
) -> AlipayChannel:
    pay_mode: PayMode = "page" if mode == "page" else "wap"

    def gateway(data: dict[str, Any]) -> AlipayGateway:
        try:
            return AlipayGateway(
                config_of(data, load=False),
                tenant_id=tenant_id,
                notify_url=notify_url,
                return_url=return_url,
                pay_mode=pay_mode,
            )
        except AlipayConfigError as exc:  # the client loads the keys
            raise ChannelError(str(exc), exc.field) from None

    return AlipayChannel(gateway(keys), None if previous is None else gateway(previous))
