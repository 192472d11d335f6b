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


class CallbackRefused(DomainError):
    """A callback we will not act on; ``reason`` is a short code for logs and the record."""

    def __init__(self, reason: str, message: str, kind: ErrorKind) -> None:
        super().__init__(message)
        self.reason = reason
        self.kind = kind


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


@dataclass(frozen=True, slots=True)
class GatewayRefund:
    provider_ref: str
    status: Literal["succeeded"]
