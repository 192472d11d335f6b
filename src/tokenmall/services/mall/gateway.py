"""Payment gateways: the one interface the mall's use cases call, and ``NoGateway``.

A gateway does three things for the mall (``Gateway``):

* ``create_payment``: open a payment for an order's money part and say where to send the payer
  (``redirect_url``) and the gateway's own reference for it (``provider_ref``);
* ``verify_callback``: check a callback (webhook) the gateway sent — its signature, its
  timestamp — and read the event out of it, or refuse it (``CallbackRefused``);
* ``refund``: give an order's money back to the payer, idempotent by our refund id;
* ``query_payment``: ask the channel how a payment stands (the payer came back before the
  callback did): its event once it has an outcome, ``None`` while it is still open;
* ``close_payment``: close a payment that timed out, so it can no longer be paid.

What they answer is in ``domain/mall/gateway.py``; the implementations are adapters
(``adapters/payments``: the sandbox, for development, and WeChat Pay). With none configured,
``NoGateway`` refuses every money call. A tenant's channels are chosen by name
(``services/mall/payment_channels.py``; docs/payments.md says how to configure them).
"""

from __future__ import annotations

from collections.abc import Callable
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

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None: ...

    def close_payment(self, *, provider_ref: str) -> None: ...


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

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        return None

    def close_payment(self, *, provider_ref: str) -> None:
        return None


class ChannelSet:
    """A tenant's channels as one gateway: new payments go through ``first`` (the channel the
    payer chose, or the tenant's default); a refund or a late payment's refund goes through
    the channel that took the money, found by name (``channel``)."""

    def __init__(self, first: Gateway, others: Callable[[str], Gateway]) -> None:
        self.first = first
        self.name = first.name
        self._others = others

    def channel(self, name: str) -> Gateway:
        return self.first if name == self.first.name else self._others(name)

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        return self.first.create_payment(
            tenant_id=tenant_id, payment_id=payment_id, order_id=order_id, amount_fen=amount_fen
        )

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        return self.first.verify_callback(headers, body, now)

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        return self.first.refund(
            provider_ref=provider_ref, refund_id=refund_id, amount_fen=amount_fen, reason=reason
        )

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        return self.first.query_payment(provider_ref=provider_ref)

    def close_payment(self, *, provider_ref: str) -> None:
        self.first.close_payment(provider_ref=provider_ref)


def channel_named(gateway: Gateway, name: str) -> Gateway:
    """The gateway of channel ``name`` among ``gateway``'s (itself when it is that one)."""
    if isinstance(gateway, ChannelSet):
        return gateway.channel(name)
    return gateway
