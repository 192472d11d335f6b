"""What a payment gateway says to the mall: a payment opened, a callback's event, a refund
done, or a callback refused. Every gateway (the sandbox in ``adapters/payments``, a real one
later) speaks these; the ``Gateway`` interface the use cases call is in ``services``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tokenmall.domain.errors import DomainError, ErrorKind

EventType = Literal["payment.succeeded", "payment.failed"]
EVENT_TYPES: tuple[str, ...] = ("payment.succeeded", "payment.failed")

# A WeChat Pay JSAPI payment's ``redirect_url``: this prefix, then ``prepay_id=…`` (the
# ``package`` the order page hands to ``WeixinJSBridge`` inside WeChat's browser).
JSAPI_PREFIX = "wechat-jsapi:"


def is_jsapi(redirect_url: str) -> bool:
    """Whether a payment's ``redirect_url`` is a WeChat Pay JSAPI payment's."""
    return redirect_url.startswith(JSAPI_PREFIX)


class CallbackRefused(DomainError):
    """A callback we will not act on; ``reason`` is a short code for logs and the record."""

    def __init__(self, reason: str, message: str, kind: ErrorKind) -> None:
        super().__init__(message)
        self.reason = reason
        self.kind = kind


class ChannelError(DomainError):
    """A payment channel that could not do what was asked: misconfigured keys, an answer that
    does not verify, a channel that is down or refuses. Nothing was changed here."""

    kind = ErrorKind.CONFLICT
    code = "channel_error"

    def __init__(self, message: str, field: str | None = "payment_method") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CreatedPayment:
    provider_ref: str
    redirect_url: str


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """What a verified callback says happened."""

    gateway: str
    event_id: str
    type: str  # one of EVENT_TYPES
    provider_ref: str
    tenant_id: str
    payment_id: str
    amount_fen: int
    reason: str | None  # why a payment failed, if it did
    paid_at: datetime | None = None  # when the gateway says it happened, if it says


RefundState = Literal["processing", "succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class GatewayRefund:
    """A refund as the channel answered it: ``processing`` until the channel confirms it (its
    refund callback or a query says ``succeeded`` or ``failed``)."""

    provider_ref: str
    status: RefundState
    reason: str | None = None  # why a refund failed, if it did
