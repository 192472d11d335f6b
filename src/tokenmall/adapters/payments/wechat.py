"""WeChat Pay API v3 behind the ``Gateway`` interface, through the ``wechatpayv3`` SDK.

Every request is signed by the SDK (RSA-SHA256 with the merchant's API private key) and every
2xx answer verified by it against the platform's public key; callbacks are verified by the SDK
too (the ``Wechatpay-Signature`` over ``timestamp\\nnonce\\nbody\\n``) and their resource
decrypted with the API v3 key (AES-256-GCM). What is added here is what the SDK leaves to its
caller: the timestamp's freshness, the merchant and app the event is for, the state, the
currency, and reading the event into the mall's ``CallbackEvent``.

A payment's ``provider_ref`` is its WeChat ``out_trade_no``, our payment id; the callback's
event id is WeChat's ``transaction_id``, so a callback delivered twice is one event. A key set
being rotated out (``previous``) still verifies callbacks until it is dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tokenmall.adapters.payments.wechat_keys import API_BASE, WechatKeys, client
from tokenmall.domain.errors import ErrorKind
from tokenmall.domain.mall.gateway import (
    JSAPI_PREFIX,
    CallbackEvent,
    CallbackRefused,
    ChannelError,
    CreatedPayment,
    GatewayRefund,
    RefundState,
)

WECHAT = "wechat"
CURRENCY = "CNY"
TOLERANCE_SECONDS = 300
MAX_BODY = 64 * 1024
_HEADERS = ("wechatpay-signature", "wechatpay-timestamp", "wechatpay-nonce", "wechatpay-serial")
_OUT_TRADE_NO = re.compile(r"^pay_[0-9a-z]{26}$")
_PREPAY_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_OPEN_STATES = ("NOTPAY", "USERPAYING")
_FAILED_STATES = ("CLOSED", "REVOKED", "PAYERROR")
_REFUND_STATES: dict[str, RefundState] = {
    "SUCCESS": "succeeded",
    "PROCESSING": "processing",
    "CLOSED": "failed",
    "ABNORMAL": "failed",
}
# The refund API's answers that refuse the refund itself (the merchant's balance, the payer's
# account, an amount over what is left, a payment it does not hold): recorded as a failed
# refund. Any other error (a signature, the rate limit, a system error) leaves nothing recorded
# and may be sent again under the same number.
_REFUND_REFUSALS = frozenset(
    {"NOT_ENOUGH", "USER_ACCOUNT_ABNORMAL", "NO_AUTH", "INVALID_REQUEST", "RESOURCE_NOT_EXISTS"}
)
Mode = Literal["native", "h5"]


@dataclass(frozen=True, slots=True)
class RefundNotice:
    """A verified refund callback: our refund id, WeChat's, and how it ended."""

    refund_id: str
    provider_ref: str
    status: RefundState
    amount_fen: int


class WechatGateway:
    """One tenant's WeChat Pay merchant account."""

    name = WECHAT

    def __init__(
        self,
        tenant_id: str,
        keys: WechatKeys,
        *,
        notify_url: str,
        mode: Mode = "native",
        previous: WechatKeys | None = None,
        api_base: str = API_BASE,
        client_ip: str = "127.0.0.1",
    ) -> None:
        self.tenant_id = tenant_id
        self.keys = keys
        self.mode = mode
        self.notify_url = notify_url
        self.api_base = api_base
        self.client_ip = client_ip
        self._sets: list[tuple[WechatKeys, Any]] = [
            (k, client(k, notify_url=notify_url, api_base=api_base))
            for k in (keys, previous)
            if k is not None
        ]
        self._pay = self._sets[0][1]

    # -- calls to WeChat Pay -------------------------------------------------------------------

    def _call(self, what: str, do: Any) -> tuple[int, dict[str, Any]]:
        try:
            code, text = do()
        except Exception as exc:  # requests' errors, or the SDK's failed answer signature
            raise ChannelError(f"WeChat Pay {what}: {_said(exc)}") from None
        try:
            data = json.loads(text) if text else {}
        except (ValueError, TypeError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        return int(code), data

    @property
    def sdk(self) -> Any:
        """The SDK's client of the current key set (it signs with the merchant's key)."""
        return self._pay

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        return self.open_order(
            tenant_id=tenant_id,
            payment_id=payment_id,
            order_id=order_id,
            amount_fen=amount_fen,
            kind=self.mode,
        )

    def open_order(
        self,
        *,
        tenant_id: str,
        payment_id: str,
        order_id: str,
        amount_fen: int,
        kind: Literal["native", "h5", "jsapi"],
        openid: str | None = None,
    ) -> CreatedPayment:
        """A WeChat Pay order of ``kind``: Native (its ``code_url``), H5 (its ``h5_url``) or
        JSAPI for the payer ``openid`` (``JSAPI_PREFIX`` + ``prepay_id=…``, the ``package``
        the page hands to ``WeixinJSBridge``)."""
        from wechatpayv3 import WeChatPayType

        pay_type = {
            "h5": WeChatPayType.H5,
            "jsapi": WeChatPayType.JSAPI,
            "native": WeChatPayType.NATIVE,
        }[kind]
        scene = (
            {"payer_client_ip": self.client_ip, "h5_info": {"type": "Wap"}}
            if kind == "h5"
            else None
        )
        code, data = self._call(
            "did not open the payment",
            lambda: self._pay.pay(
                description=f"订单 {order_id}"[:127],
                out_trade_no=payment_id,
                amount={"total": amount_fen, "currency": CURRENCY},
                attach=tenant_id,
                scene_info=scene,
                payer=None if openid is None else {"openid": openid},
                pay_type=pay_type,
            ),
        )
        answer = {"h5": "h5_url", "jsapi": "prepay_id", "native": "code_url"}[kind]
        url = data.get(answer)
        if code not in (200, 201) or not isinstance(url, str) or not url:
            raise ChannelError(f"WeChat Pay did not open the payment: {_refusal(code, data)}")
        if kind == "jsapi":
            if not _PREPAY_ID.match(url):
                raise ChannelError("WeChat Pay answered a malformed prepay_id")
            url = f"{JSAPI_PREFIX}prepay_id={url}"
        return CreatedPayment(payment_id, url)

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        code, data = self._call(
            "did not answer the payment's query",
            lambda: self._pay.query(out_trade_no=provider_ref),
        )
        if code == 404:
            return None
        if code != 200:
            raise ChannelError(f"WeChat Pay did not answer the query: {_refusal(code, data)}")
        state = data.get("trade_state")
        if state in _OPEN_STATES:
            return None
        if state in _FAILED_STATES:
            return self._event(
                data, f"{provider_ref}:{state}", "payment.failed", str(data.get("trade_state_desc"))
            )
        if state in ("SUCCESS", "REFUND"):
            return self._transaction(data)
        raise ChannelError(f"WeChat Pay answered an unknown trade_state {state!r}")

    def close_payment(self, *, provider_ref: str) -> None:
        code, data = self._call(
            "did not close the payment", lambda: self._pay.close(out_trade_no=provider_ref)
        )
        # 204: closed; ORDER_CLOSED: closed already. A paid order cannot be closed: its
        # callback (or a query) books it, and the order clock's refund of a late payment
        # gives the money back.
        if code not in (200, 204) and data.get("code") != "ORDER_CLOSED":
            raise ChannelError(f"WeChat Pay did not close the payment: {_refusal(code, data)}")

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        paid = self.query_payment(provider_ref=provider_ref)
        if paid is None or paid.type != "payment.succeeded":
            raise ChannelError("WeChat Pay does not hold a paid payment to refund")
        if amount_fen <= 0 or amount_fen > paid.amount_fen:
            raise ChannelError("the refund's amount is more than the payment", "amount")
        code, data = self._call(
            "did not take the refund",
            lambda: self._pay.refund(
                out_refund_no=refund_id,
                amount={"refund": amount_fen, "total": paid.amount_fen, "currency": CURRENCY},
                out_trade_no=provider_ref,
                reason=reason[:80],
            ),
        )
        if code != 200:
            said = f"WeChat Pay refused the refund: {_refusal(code, data)}"
            if data.get("code") in _REFUND_REFUSALS:
                return GatewayRefund("", "failed", said[:500])
            raise ChannelError(said)
        return _refund_of(data)

    def query_refund(self, *, refund_id: str) -> GatewayRefund:
        code, data = self._call(
            "did not answer the refund's query",
            lambda: self._pay.query_refund(out_refund_no=refund_id),
        )
        if code != 200:
            raise ChannelError(f"WeChat Pay did not answer the query: {_refusal(code, data)}")
        return _refund_of(data)

    # -- callbacks -----------------------------------------------------------------------------

    def _opened(
        self, headers: dict[str, str], body: bytes, now: datetime
    ) -> tuple[WechatKeys, dict[str, Any], dict[str, Any]]:
        """The callback verified and decrypted by the SDK with the key set that signed it:
        (that set, the envelope, its resource)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if any(not lowered.get(h) for h in _HEADERS):
            raise CallbackRefused(
                "missing_signature", "the Wechatpay-* signature headers are required", _MAL
            )
        stamp = lowered["wechatpay-timestamp"]
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
            raise CallbackRefused("bad_timestamp", "Wechatpay-Timestamp must be Unix seconds", _MAL)
        if len(body) > MAX_BODY:
            raise CallbackRefused("too_large", "the callback body is too large", _MAL)
        try:
            text = body.decode("utf-8")
            envelope = json.loads(text)
        except ValueError:
            raise CallbackRefused("bad_body", "the callback body is not JSON", _MAL) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("resource"), dict):
            raise CallbackRefused("bad_body", "the callback has no resource", _MAL)
        sdk_headers = {h: lowered[h] for h in _HEADERS}
        sdk_headers["wechatpay-signature-type"] = lowered.get(
            "wechatpay-signature-type", "WECHATPAY2-SHA256-RSA2048"
        )
        for keys, pay in self._sets:
            if sdk_headers["wechatpay-serial"] != keys.platform_serial():
                continue
            try:
                opened = pay.callback(sdk_headers, text)
            except Exception:  # the SDK's refusal of an algorithm or a resource
                opened = None
            if isinstance(opened, dict) and isinstance(opened.get("resource"), dict):
                skew = abs(now.timestamp() - int(stamp))  # float-ok: time
                if skew > TOLERANCE_SECONDS:
                    raise CallbackRefused(
                        "stale_timestamp",
                        f"the callback's timestamp is {int(skew)} s away from now",
                        ErrorKind.UNAUTHENTICATED,
                    )
                if opened["resource"].get("mchid") not in (None, keys.mchid):
                    raise CallbackRefused(
                        "wrong_merchant", "the callback is for another merchant", _BAD
                    )
                return keys, opened, opened["resource"]
        raise CallbackRefused(
            "bad_signature",
            "the callback's signature or encryption does not verify with the configured keys",
            ErrorKind.UNAUTHENTICATED,
        )

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        keys, envelope, resource = self._opened(headers, body, now)
        if envelope.get("event_type") != "TRANSACTION.SUCCESS":
            raise CallbackRefused(
                "bad_body", f"not a payment event: {envelope.get('event_type')!r}", _MAL
            )
        if resource.get("appid") not in (None, keys.appid):
            raise CallbackRefused("wrong_merchant", "the callback is for another app", _BAD)
        return self._transaction(resource, refuse=True)

    def verify_refund_callback(
        self, headers: dict[str, str], body: bytes, now: datetime
    ) -> RefundNotice:
        _, envelope, resource = self._opened(headers, body, now)
        if not str(envelope.get("event_type", "")).startswith("REFUND."):
            raise CallbackRefused("bad_body", "not a refund event", _MAL)
        status = _REFUND_STATES.get(str(resource.get("refund_status")))
        amount = resource.get("amount")
        refund_id, ref = resource.get("out_refund_no"), resource.get("refund_id")
        if (
            status is None
            or not isinstance(refund_id, str)
            or not isinstance(ref, str)
            or not isinstance(amount, dict)
            or not _whole(amount.get("refund"))
        ):
            raise CallbackRefused("bad_body", "the refund's resource is malformed", _MAL)
        return RefundNotice(refund_id, ref, status, int(amount["refund"]))

    # -- reading WeChat's transaction ---------------------------------------------------------

    def _transaction(self, data: dict[str, Any], *, refuse: bool = False) -> CallbackEvent:
        def bad(reason: str, message: str, kind: ErrorKind = ErrorKind.MALFORMED) -> Exception:
            if refuse:
                return CallbackRefused(reason, message, kind)
            return ChannelError(f"WeChat Pay's answer: {message}")

        out_trade_no, txn = data.get("out_trade_no"), data.get("transaction_id")
        amount = data.get("amount")
        if not isinstance(out_trade_no, str) or not _OUT_TRADE_NO.match(out_trade_no):
            raise bad("bad_body", "out_trade_no is missing or not one of ours")
        if not isinstance(txn, str) or not re.match(r"^[0-9A-Za-z_-]{1,64}$", txn):
            raise bad("bad_body", "transaction_id is missing or malformed")
        if data.get("trade_state") not in ("SUCCESS", "REFUND"):
            raise bad("bad_body", f"trade_state is {data.get('trade_state')!r}")
        if not isinstance(amount, dict) or not _whole(amount.get("total")):
            raise bad("bad_body", "amount.total is missing or malformed")
        if amount.get("currency") != CURRENCY:
            raise bad(
                "wrong_currency",
                f"the payment's currency is {amount.get('currency')!r}, not {CURRENCY}",
                ErrorKind.INVALID,
            )
        return self._event(data, txn, "payment.succeeded", None)

    def _event(
        self, data: dict[str, Any], event_id: str, kind: str, reason: str | None
    ) -> CallbackEvent:
        amount = data.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        ref = str(data.get("out_trade_no"))
        return CallbackEvent(
            gateway=self.name,
            event_id=event_id,
            type=kind,
            provider_ref=ref,
            tenant_id=self.tenant_id,
            payment_id=ref,
            amount_fen=total if isinstance(total, int) and _whole(total) else 0,
            reason=None if reason is None else reason[:200],
            paid_at=_moment(data.get("success_time")),
        )


_MAL = ErrorKind.MALFORMED
_BAD = ErrorKind.INVALID


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refund_of(data: dict[str, Any]) -> GatewayRefund:
    status = _REFUND_STATES.get(str(data.get("status")))
    ref = data.get("refund_id")
    if status is None or not isinstance(ref, str):
        raise ChannelError("WeChat Pay answered a refund it does not describe")
    reason = None if status != "failed" else f"WeChat Pay: {data.get('status')}"
    return GatewayRefund(ref, status, reason)


def _refusal(code: int, data: dict[str, Any]) -> str:
    said = data.get("message") or data.get("code") or "no explanation"
    return f"HTTP {code}, {data.get('code', '')} {said}".replace("  ", " ")


def _said(exc: Exception) -> str:
    text = str(exc)
    if "verify the signature" in text:
        return "its answer does not verify with the platform public key (check the platform key)"
    return f"not reachable ({type(exc).__name__})"


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
