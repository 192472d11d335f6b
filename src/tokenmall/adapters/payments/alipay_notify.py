"""Alipay's asynchronous notifies (异步通知): checked by the SDK, read into our events.

Alipay POSTs a form (``application/x-www-form-urlencoded``) to the notify URL for each change
of a trade: paid (``TRADE_SUCCESS``; ``TRADE_FINISHED`` once it can no longer be refunded),
closed unpaid (``TRADE_CLOSED``), and refunded (the same trade's notify carrying
``refund_fee``, ``gmt_refund`` and ``out_biz_no``, our refund id). It signs the form with its
RSA2 key: every field but ``sign`` and ``sign_type``, sorted, joined as ``k=v`` with ``&``.
The SDK's ``verify`` checks that signature against Alipay's public key; then the notify must
name our app id and our seller id, and its ``total_amount`` (yuan) becomes fen exactly.

Alipay keeps retrying (8 times over about a day) until the answer is the plain text
``success``; ``answer_for`` says what to answer for an accepted or refused notify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

from tokenmall.domain.errors import DomainError, ErrorKind
from tokenmall.domain.mall.gateway import CallbackEvent, CallbackRefused
from tokenmall.domain.money import parse_money

ALIPAY = "alipay"
MAX_BODY = 64 * 1024
ACK = b"success"  # Alipay stops retrying
NACK = b"failure"  # Alipay retries later
# Refusals that mean "nothing (more) to do here": answered ``success`` so Alipay stops.
SETTLED_REASONS = frozenset({"replayed", "refund_notice", "not_final"})
PAID_STATUSES = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})
OPEN_STATUSES = frozenset({"WAIT_BUYER_PAY"})
CLOSED_STATUS = "TRADE_CLOSED"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk", "gb2312": "gbk", "gb18030": "gbk"}
_REF = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TRADE_NO = re.compile(r"^[0-9A-Za-z]{1,64}$")


def answer_for(reason: str | None) -> bytes:
    """The body to answer a notify with: ``success`` when it was acted on or needs nothing
    more (``reason`` None, or a settled refusal such as a replay), ``failure`` otherwise."""
    return ACK if reason is None or reason in SETTLED_REASONS else NACK


@dataclass(frozen=True, slots=True)
class RefundNotice:
    """A verified notify saying money of a trade went back (``refunded_fen`` is the trade's
    refunded total so far; ``refund_id`` our ``out_request_no``, when Alipay names it)."""

    trade_no: str
    out_trade_no: str
    refund_id: str | None
    refunded_fen: int
    refunded_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlipayNotice:
    """A verified notify: a payment's outcome (``event``), a refund (``refund``), or neither
    (a trade still waiting for the buyer)."""

    event: CallbackEvent | None
    refund: RefundNotice | None


def _refuse(reason: str, message: str, kind: ErrorKind) -> CallbackRefused:
    return CallbackRefused(reason, message, kind)


def parse_form(body: bytes) -> dict[str, str]:
    """The notify's fields, decoded in the charset the form names; malformed -> refused."""
    if len(body) > MAX_BODY:
        raise _refuse("too_large", "the notify body is too large", ErrorKind.MALFORMED)
    if not body or not body.isascii():
        raise _refuse("bad_body", "the notify body must be a URL-encoded form", ErrorKind.MALFORMED)
    text = body.decode("ascii")
    try:
        raw = parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="latin-1")
        charset = _CHARSETS.get(dict(raw).get("charset", "utf-8").lower())
        if charset is None:
            raise ValueError("charset")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, encoding=charset, errors="strict"
        )
    except (ValueError, UnicodeDecodeError):
        raise _refuse(
            "bad_body", "the notify body is not a form Alipay sends", ErrorKind.MALFORMED
        ) from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise _refuse("bad_body", "the notify repeats a field", ErrorKind.MALFORMED)
    return fields


def check_signature(client: Any, fields: dict[str, str]) -> None:
    """The SDK's RSA2 check of a notify's fields (all but ``sign`` and ``sign_type``)."""
    signature = fields.get("sign", "")
    if not signature or fields.get("sign_type", "RSA2") != "RSA2":
        raise _refuse(
            "missing_signature", "the notify has no RSA2 signature", ErrorKind.UNAUTHENTICATED
        )
    unsigned = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}
    try:
        good = bool(client.verify(unsigned, signature))
    except Exception:  # a signature that is not even base64 or of the key's length
        good = False
    if not good:
        raise _refuse(
            "bad_signature", "the notify's signature does not match", ErrorKind.UNAUTHENTICATED
        )


def beijing_time(value: object) -> datetime | None:
    """Alipay's ``yyyy-MM-dd HH:mm:ss`` (Beijing time) as an aware datetime; None if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value + " +0800", "%Y-%m-%d %H:%M:%S %z").astimezone(BEIJING)
    except ValueError:
        return None


def yuan_to_fen(value: object, field: str, *, allow_zero: bool = False) -> int:
    """A yuan amount (``"12.30"``) as fen, exactly (Decimal, never a float)."""
    try:
        return parse_money(value, field, allow_zero=allow_zero)
    except DomainError:
        raise _refuse(
            "bad_amount", f"{field} is missing or not an amount in yuan", ErrorKind.MALFORMED
        ) from None


def trade_event(
    fields: dict[str, Any], *, tenant_id: str, paid_at_field: str
) -> CallbackEvent | None:
    """The payment event a trade's fields (a notify's or a query's answer) say happened:
    paid, closed unpaid, or None while it waits for the buyer. The event id is the trade's
    Alipay number (and its outcome), so a notify replayed, or a query and a notify of the same
    trade, come to the same event."""
    trade_no, out_trade_no = fields.get("trade_no"), fields.get("out_trade_no")
    status = fields.get("trade_status")
    if not isinstance(trade_no, str) or not _TRADE_NO.match(trade_no):
        raise _refuse("bad_body", "trade_no is missing or malformed", ErrorKind.MALFORMED)
    if not isinstance(out_trade_no, str) or not _REF.match(out_trade_no):
        raise _refuse("bad_body", "out_trade_no is missing or malformed", ErrorKind.MALFORMED)
    amount = yuan_to_fen(fields.get("total_amount"), "total_amount")
    if status in OPEN_STATUSES:
        return None
    if status in PAID_STATUSES:
        kind, event_id, reason = "payment.succeeded", f"{ALIPAY}:{trade_no}", None
    elif status == CLOSED_STATUS:
        kind, event_id = "payment.failed", f"{ALIPAY}:{trade_no}:closed"
        reason = "closed at Alipay before it was paid"
    else:
        raise _refuse("bad_body", f"unknown trade_status {status!r}", ErrorKind.MALFORMED)
    return CallbackEvent(
        gateway=ALIPAY,
        event_id=event_id,
        type=kind,
        provider_ref=out_trade_no,
        tenant_id=tenant_id,
        payment_id=out_trade_no,
        amount_fen=amount,
        reason=reason,
        paid_at=beijing_time(fields.get(paid_at_field)) if reason is None else None,
    )


def read_notify(
    client: Any, *, app_id: str, seller_id: str, tenant_id: str, body: bytes
) -> AlipayNotice:
    """A notify's body checked (signature, app, seller, tenant, amount) and read."""
    fields = parse_form(body)
    check_signature(client, fields)
    if fields.get("app_id") != app_id:
        raise _refuse("wrong_app", "the notify is for another app_id", ErrorKind.FORBIDDEN)
    if fields.get("seller_id") != seller_id:
        raise _refuse("wrong_seller", "the notify is for another seller_id", ErrorKind.FORBIDDEN)
    passback = fields.get("passback_params")
    if passback is not None and passback != tenant_id:
        raise _refuse("wrong_tenant", "the notify is for another tenant", ErrorKind.FORBIDDEN)
    if "refund_fee" in fields or "gmt_refund" in fields:
        trade_no, out_trade_no = fields.get("trade_no", ""), fields.get("out_trade_no", "")
        if not _TRADE_NO.match(trade_no) or not _REF.match(out_trade_no):
            raise _refuse("bad_body", "the refund notify names no trade", ErrorKind.MALFORMED)
        refund_id = fields.get("out_biz_no") or None
        return AlipayNotice(
            event=None,
            refund=RefundNotice(
                trade_no=trade_no,
                out_trade_no=out_trade_no,
                refund_id=refund_id,
                refunded_fen=yuan_to_fen(fields.get("refund_fee"), "refund_fee"),
                refunded_at=beijing_time(fields.get("gmt_refund")),
            ),
        )
    return AlipayNotice(
        event=trade_event(fields, tenant_id=tenant_id, paid_at_field="gmt_payment"), refund=None
    )
