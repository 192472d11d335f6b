"""WeChat Pay JSAPI: paying inside WeChat's browser, through the ``wechatpayv3`` SDK.

``WechatJsapi`` stands over a tenant's ``WechatGateway`` and offers what the order page needs
inside WeChat: ``paying(openid)``, a gateway whose new payments are JSAPI orders for that payer
(``/v3/pay/transactions/jsapi`` with ``payer.openid``); ``falling_back()``, one whose new
payments are Native (a QR code the payer long-presses in WeChat, since H5 payments do not open
inside WeChat's browser); and ``bridge(redirect_url)``, the parameters of
``WeixinJSBridge.invoke('getBrandWCPayRequest', …)``: ``appId``, ``timeStamp``, ``nonceStr``,
``package`` (``prepay_id=…``), ``signType`` ``RSA`` and ``paySign``, the merchant key's
RSA-SHA256 signature over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` made by the SDK's
``sign`` (as WeChat Pay documents for JSAPI 调起支付). Callbacks, queries, closes and refunds
are the gateway's own: a JSAPI payment is a WeChat Pay payment like any other.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime

from tokenmall.adapters.payments.wechat import WechatGateway
from tokenmall.domain.mall.gateway import (
    JSAPI_PREFIX,
    CallbackEvent,
    CreatedPayment,
    GatewayRefund,
)


class _Way:
    """The tenant's WeChat Pay gateway, its new payments opened one way."""

    def __init__(self, gateway: WechatGateway, kind: str, openid: str | None) -> None:
        self.gateway = gateway
        self.name = gateway.name
        self._kind = kind
        self._openid = openid

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        return self.gateway.open_order(
            tenant_id=tenant_id,
            payment_id=payment_id,
            order_id=order_id,
            amount_fen=amount_fen,
            kind="jsapi" if self._kind == "jsapi" else "native",
            openid=self._openid,
        )

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        return self.gateway.verify_callback(headers, body, now)

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        return self.gateway.refund(
            provider_ref=provider_ref, refund_id=refund_id, amount_fen=amount_fen, reason=reason
        )

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        return self.gateway.query_payment(provider_ref=provider_ref)

    def close_payment(self, *, provider_ref: str) -> None:
        self.gateway.close_payment(provider_ref=provider_ref)


class WechatJsapi:
    """JSAPI over one tenant's WeChat Pay gateway (its app id, AppSecret and merchant key)."""

    def __init__(self, gateway: WechatGateway) -> None:
        self.gateway = gateway
        self.app_id = gateway.keys.appid
        self.app_secret = gateway.keys.app_secret

    def paying(self, openid: str) -> _Way:
        return _Way(self.gateway, "jsapi", openid)

    def falling_back(self) -> _Way:
        return _Way(self.gateway, "native", None)

    def bridge(self, redirect_url: str, *, now: int | None = None) -> dict[str, str] | None:
        """``getBrandWCPayRequest``'s parameters for a JSAPI payment's ``redirect_url``, signed
        now (a fresh timestamp and nonce each time the page is drawn); None for another kind
        of payment."""
        if not redirect_url.startswith(JSAPI_PREFIX):
            return None
        package = redirect_url[len(JSAPI_PREFIX) :]
        stamp = str(int(time.time()) if now is None else now)
        nonce = secrets.token_hex(16)
        signed = self.gateway.sdk.sign([self.app_id, stamp, nonce, package])
        return {
            "appId": self.app_id,
            "timeStamp": stamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": str(signed),
        }
