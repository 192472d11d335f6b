"""Payment gateways: one interface, a sandbox behind it by default.

A gateway does three things for the mall (``Gateway``):

* ``create_payment``: open a payment for an order's money part and say where to send the payer
  (``redirect_url``) and the gateway's own reference for it (``provider_ref``);
* ``verify_callback``: check a callback (webhook) the gateway sent — its signature, its
  timestamp — and read the event out of it, or refuse it (``CallbackRefused``);
* ``refund``: give an order's money back to the payer, idempotent by our refund id.

The **sandbox** gateway is a stand-in that needs no account anywhere: its payment page
(``GET /sandbox/pay/{provider_ref}``, served by this application) lets a person or a test press
Approve or Fail, and it then sends a signed webhook to ``POST /api/v1/payments/webhooks/sandbox``
exactly as a real gateway would: ``HMAC-SHA256(secret, "<timestamp>.<raw body>")`` in the
``X-Sandbox-Signature`` header (``v1=<hex>``), the Unix timestamp in ``X-Sandbox-Timestamp``.
The secret is derived from ``settings.secret_key``. Alipay or WeChat Pay plug in as further
``Gateway`` implementations (docs/orders-and-payments.md says how).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from tokenmall.domain.errors import DomainError, ErrorKind
from tokenmall.domain.money import format_money, parse_money
from tokenmall.services.mall import ids
from tokenmall.services.mall.errors import Conflict

SANDBOX = "sandbox"
TOLERANCE_SECONDS = 300  # a callback's timestamp may be at most 5 minutes off, either way
MAX_BODY = 64 * 1024
EventType = Literal["payment.succeeded", "payment.failed"]
EVENT_TYPES: tuple[str, ...] = ("payment.succeeded", "payment.failed")
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_REF = re.compile(r"^([a-z][a-z0-9-]{1,62})\.(pay_[0-9a-z]{26})$")


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


@dataclass(frozen=True, slots=True)
class GatewayRefund:
    provider_ref: str
    status: Literal["succeeded"]


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


def derive_secret(secret_key: str, gateway: str = SANDBOX) -> bytes:
    """The webhook signing secret of ``gateway``, derived from the service's secret key."""
    return hmac.new(
        secret_key.encode("utf-8"), f"tokenmall webhook secret v1:{gateway}".encode(), "sha256"
    ).digest()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def sandbox_ref(tenant_id: str, payment_id: str) -> str:
    """The sandbox's own reference of a payment: it names the tenant, as a real gateway's
    merchant account would."""
    return f"{tenant_id}.{payment_id}"


def parse_sandbox_ref(ref: str) -> tuple[str, str] | None:
    found = _REF.match(ref)
    return None if found is None else (found.group(1), found.group(2))


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


class SandboxGateway:
    """The default gateway: a payment page in this application and signed webhooks."""

    name = SANDBOX

    def __init__(self, secret_key: str, base_url: str = "") -> None:
        self.secret = derive_secret(secret_key, SANDBOX)
        self.base_url = base_url.rstrip("/")

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        ref = sandbox_ref(tenant_id, payment_id)
        return CreatedPayment(ref, f"{self.base_url}/sandbox/pay/{ref}")

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        # A real gateway is called here with refund_id as its idempotency key (Alipay's
        # out_request_no, WeChat Pay's out_refund_no), so a retry never refunds twice.
        return GatewayRefund(f"sbxr_{refund_id}", "succeeded")

    # -- the sandbox's side: what its payment page sends -------------------------------------

    def event_body(
        self, *, provider_ref: str, outcome: EventType, amount_fen: int, now: datetime
    ) -> bytes:
        event: dict[str, Any] = {
            "event_id": ids.new_id("evt"),
            "type": outcome,
            "payment_ref": provider_ref,
            "amount": format_money(amount_fen),
            "created_at": now.isoformat(),
        }
        if outcome == "payment.failed":
            event["reason"] = "declined in the sandbox"
        return json.dumps(event, separators=(",", ":")).encode()

    def signed_headers(self, body: bytes, now: datetime) -> dict[str, str]:
        timestamp = str(int(now.timestamp()))
        return {
            "Content-Type": "application/json",
            "X-Sandbox-Timestamp": timestamp,
            "X-Sandbox-Signature": sign(self.secret, timestamp, body),
        }

    # -- our side: checking what arrives -----------------------------------------------------

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        lowered = {k.lower(): v for k, v in headers.items()}
        timestamp = lowered.get("x-sandbox-timestamp", "")
        signature = lowered.get("x-sandbox-signature", "")
        if not timestamp or not signature:
            raise CallbackRefused(
                "missing_signature",
                "X-Sandbox-Timestamp and X-Sandbox-Signature headers are required",
                ErrorKind.MALFORMED,
            )
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise CallbackRefused(
                "bad_timestamp", "X-Sandbox-Timestamp must be Unix seconds", ErrorKind.MALFORMED
            )
        if len(body) > MAX_BODY:
            raise CallbackRefused(
                "too_large", "the callback body is too large", ErrorKind.MALFORMED
            )
        expected = sign(self.secret, timestamp, body)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise CallbackRefused(
                "bad_signature",
                "the callback's signature does not match",
                ErrorKind.UNAUTHENTICATED,
            )
        skew = abs(now.timestamp() - int(timestamp))
        if skew > TOLERANCE_SECONDS:
            raise CallbackRefused(
                "stale_timestamp",
                f"the callback's timestamp is {int(skew)} s away from now "
                f"(at most {TOLERANCE_SECONDS} s)",
                ErrorKind.UNAUTHENTICATED,
            )
        return self._event(body)

    def _event(self, body: bytes) -> CallbackEvent:
        try:
            data = json.loads(body)
        except ValueError:
            raise CallbackRefused(
                "bad_body", "the callback body is not JSON", ErrorKind.MALFORMED
            ) from None
        if not isinstance(data, dict):
            raise CallbackRefused(
                "bad_body", "the callback body must be a JSON object", ErrorKind.MALFORMED
            )
        event_id, kind, ref = data.get("event_id"), data.get("type"), data.get("payment_ref")
        if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
            raise CallbackRefused(
                "bad_body", "event_id is missing or malformed", ErrorKind.MALFORMED
            )
        if kind not in EVENT_TYPES:
            raise CallbackRefused("bad_body", f"unknown event type {kind!r}", ErrorKind.MALFORMED)
        parsed = parse_sandbox_ref(ref) if isinstance(ref, str) else None
        if parsed is None:
            raise CallbackRefused(
                "bad_body", "payment_ref is missing or malformed", ErrorKind.MALFORMED
            )
        try:
            amount = parse_money(data.get("amount"), "amount")
        except DomainError:
            raise CallbackRefused(
                "bad_body", "amount is missing or malformed", ErrorKind.MALFORMED
            ) from None
        reason = data.get("reason")
        return CallbackEvent(
            gateway=self.name,
            event_id=event_id,
            type=str(kind),
            provider_ref=str(ref),
            tenant_id=parsed[0],
            payment_id=parsed[1],
            amount_fen=amount,
            reason=str(reason)[:200] if reason is not None else None,
        )
