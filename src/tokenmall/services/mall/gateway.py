"""Payment gateways: the one interface the mall's use cases call, and ``NoGateway``.

A gateway does three things for the mall (``Gateway``):

* ``create_payment``: open a payment for an order's money part and say where to send the payer
  (``redirect_url``) and the gateway's own reference for it (``provider_ref``);
* ``verify_callback``: check a callback (webhook) the gateway sent — its signature, its
  timestamp — and read the event out of it, or refuse it (``CallbackRefused``);
* ``refund``: give an order's money back to the payer, idempotent by our refund id.

What they answer is in ``domain/mall/gateway.py``; the implementations are adapters
(``adapters/payments``: the sandbox, for development). With none configured, ``NoGateway``
refuses every money call. Alipay or WeChat Pay plug in as further ``Gateway`` implementations
(docs/orders-and-payments.md says how).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tokenmall.domain.errors import ErrorKind
from tokenmall.domain.mall.gateway import (
    CallbackEvent,
    CallbackRefused,
    CreatedPayment,
    GatewayRefund,
)
from tokenmall.services.mall.errors import Conflict


class Gateway(Protocol):
    name: str

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment: ...

    def verify_callback(
        self, headers: dict[str, str], body: bytes, now: datetime
    ) -> CallbackEvent: ...

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund: ...


class GatewayUnavailable(Conflict):
    """No payment gateway is configured: money cannot be taken (or given back) here."""

    code = "no_gateway"


NO_GATEWAY_MESSAGE = (
    "no payment gateway is configured: pay in stable points, or ask the operator to configure one"
)


class NoGateway:
    """What ``gateway_for`` answers when no gateway is configured (``sandbox_gateway`` off and no
    real gateway plugged in): every money call is refused with ``GatewayUnavailable`` (409)."""

    name = "none"

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        raise GatewayUnavailable(NO_GATEWAY_MESSAGE, "payment_method")

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        raise CallbackRefused("no_gateway", "no payment gateway is configured", ErrorKind.NOT_FOUND)

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        raise GatewayUnavailable(NO_GATEWAY_MESSAGE)
