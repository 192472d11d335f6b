"""The sandbox gateway: a stand-in payment gateway that needs no account anywhere.

Development only (``serve`` refuses it outside development mode): anyone may approve their own
payment on it. Its payment page (``GET /sandbox/pay/{provider_ref}``, drawn by
``sandbox_page`` and served by this application) lets a person or a test press Approve or
Fail; the event it then makes is signed exactly as a real gateway signs its webhooks:
``HMAC-SHA256(secret, "<timestamp>.<raw body>")`` in the ``X-Sandbox-Signature`` header
(``v1=<hex>``), the Unix timestamp in ``X-Sandbox-Timestamp``. The secret is derived from
``settings.secret_key``. The event goes to the webhook's handling in-process, or to a URL the
operator configured (``delivery``), never to an address taken from a request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime
from typing import Any

from tokenmall.domain.errors import DomainError, ErrorKind
from tokenmall.domain.mall.gateway import (
    EVENT_TYPES,
    CallbackEvent,
    CallbackRefused,
    CreatedPayment,
    EventType,
    GatewayRefund,
)
from tokenmall.domain.money import format_money, parse_money

SANDBOX = "sandbox"
TOLERANCE_SECONDS = 300  # a callback's timestamp may be at most 5 minutes off, either way
MAX_BODY = 64 * 1024
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_REF = re.compile(r"^([a-z][a-z0-9-]{1,62})\.(pay_[0-9a-z]{26})$")


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

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        # The sandbox's outcome exists only once its page was pressed, and that press delivers
        # the event itself: there is nothing further to ask.
        return None

    def close_payment(self, *, provider_ref: str) -> None:
        # The sandbox's page refuses a payment whose order is no longer payable.
        return None

    # -- the sandbox's side: what its payment page sends -------------------------------------

    def event_body(
        self, *, provider_ref: str, outcome: EventType, amount_fen: int, now: datetime
    ) -> bytes:
        event: dict[str, Any] = {
            "event_id": f"evt_{secrets.token_hex(13)}",
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
            paid_at=_moment(data.get("created_at")),
        )


def _moment(value: object) -> datetime | None:
    """An event's ``created_at`` (ISO 8601 with an offset); None if absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
