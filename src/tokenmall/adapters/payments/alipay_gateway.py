"""The Alipay gateway: one tenant's Alipay merchant account behind the ``Gateway`` interface.

Every request is built and RSA2-signed by ``python-alipay-sdk`` and every answer's signature
checked by it against Alipay's public key (``alipay_config``). A payment's reference
(``provider_ref``) is its ``out_trade_no``, which is our payment id; our tenant rides along as
``passback_params`` and comes back in the notify. What this adds over the sandbox:

* wap pay (``alipay.trade.wap.pay``, phones) and page pay (``alipay.trade.page.pay``,
  computers): the signed URL of Alipay's cashier to send the payer to;
* notifies (``read_notify``, ``verify_callback``; the answer body is ``answer_for``);
* ``query_payment`` (``alipay.trade.query``: None while the trade is open or unknown there),
  ``close_payment`` (``alipay.trade.close``), ``refund`` (``alipay.trade.refund``, partial or
  full, idempotent by our refund id as ``out_request_no``);
* ``transfer`` (a payout, ``alipay_payout``) and ``download_bill`` (``alipay_bill``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

from alipay.exceptions import AliPayException, AliPayValidationError

from tokenmall.adapters.payments.alipay_bill import MAX_ZIP, AlipayBillLine, parse_trade_bill
from tokenmall.adapters.payments.alipay_config import AlipayConfig, alipay_client
from tokenmall.adapters.payments.alipay_notify import (
    ALIPAY,
    BEIJING,
    AlipayNotice,
    read_notify,
    trade_event,
)
from tokenmall.adapters.payments.alipay_payout import (
    PayoutResult,
    transfer_request,
    transfer_result,
)
from tokenmall.domain.errors import Conflict, ErrorKind
from tokenmall.domain.mall.gateway import (
    CallbackEvent,
    CallbackRefused,
    CreatedPayment,
    GatewayRefund,
)
from tokenmall.domain.money import format_money

PayMode = Literal["wap", "page"]
PAY_METHODS: dict[str, tuple[str, str]] = {
    "wap": ("alipay.trade.wap.pay", "QUICK_WAP_PAY"),
    "page": ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
}
OK = "10000"
# Alipay's "business failed" answer: the request was understood and refused (the seller's
# balance, a closed trade, an amount over what is left), unless its sub-code is one of the
# transient one, after which the same request may simply be sent again.
BUSINESS_FAILED = "40004"
_TRY_AGAIN = frozenset({"ACQ.SYSTEM_ERROR"})


def alipay_timestamp() -> str:
    """A request's ``timestamp``: Beijing time, as Alipay reads it (the SDK would write the
    server's local time, hours off on a UTC host)."""
    return datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


class AlipayError(Conflict):
    """Alipay refused a request (``code``, ``sub_code`` and ``sub_msg`` are its own words)."""

    def __init__(self, message: str, *, code: str = "", sub_code: str = "", sub_msg: str = ""):
        super().__init__(message)
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg


class AlipayUnavailable(AlipayError):
    """Alipay could not be reached, or its answer failed the signature check: the outcome is
    unknown; ask again later (every call here is safe to repeat)."""


class AlipayBillNotReady(AlipayError):
    """Alipay has no bill of that day (not made yet, or no trade that day)."""


def _refused(what: str, answer: dict[str, Any]) -> AlipayError:
    code, sub_code = str(answer.get("code", "")), str(answer.get("sub_code") or "")
    sub_msg = str(answer.get("sub_msg") or answer.get("msg") or "")[:200]
    return AlipayError(
        f"Alipay refused {what}: {sub_code or code} {sub_msg}".strip(),
        code=code,
        sub_code=sub_code,
        sub_msg=sub_msg,
    )


class AlipayGateway:
    """A tenant's Alipay account; ``pay_mode`` picks the cashier ``create_payment`` opens."""

    name = ALIPAY

    def __init__(
        self,
        config: AlipayConfig,
        *,
        tenant_id: str,
        notify_url: str,
        return_url: str = "",
        pay_mode: PayMode = "wap",
    ) -> None:
        self.config = config
        self.tenant_id = tenant_id
        self.notify_url = notify_url
        self.return_url = return_url
        self.pay_mode: PayMode = pay_mode
        self.client = alipay_client(config)

    def __repr__(self) -> str:
        return f"AlipayGateway(tenant_id={self.tenant_id!r}, config={self.config!r})"

    # -- payments ------------------------------------------------------------------------------

    def pay_url(
        self, *, payment_id: str, order_id: str, amount_fen: int, mode: PayMode | None = None
    ) -> str:
        """The signed URL of Alipay's cashier for paying ``amount_fen`` of an order."""
        if amount_fen <= 0:
            raise AlipayError("an Alipay payment must be of a positive amount")
        method, product = PAY_METHODS[mode or self.pay_mode]
        biz = {
            "subject": f"订单 {order_id}",
            "out_trade_no": payment_id,
            "total_amount": format_money(amount_fen),
            "product_code": product,
            "passback_params": self.tenant_id,
            "timeout_express": self.config.timeout_express,
        }
        signed = self.client.client_api(
            method,
            biz,
            return_url=self.return_url or None,
            notify_url=self.notify_url,
            timestamp=alipay_timestamp(),
        )
        return f"{self.config.gateway_url}?{signed}"

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        if tenant_id != self.tenant_id:
            raise AlipayError("this Alipay account belongs to another tenant")
        url = self.pay_url(payment_id=payment_id, order_id=order_id, amount_fen=amount_fen)
        return CreatedPayment(provider_ref=payment_id, redirect_url=url)

    def read_notify(self, body: bytes) -> AlipayNotice:
        """A notify's body checked by the SDK and against this account, and read."""
        return read_notify(
            self.client,
            app_id=self.config.app_id,
            seller_id=self.config.seller_id,
            tenant_id=self.tenant_id,
            body=body,
        )

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        """A payment's notify as an event. A refund's notify or an open trade's is refused with
        a reason ``answer_for`` answers ``success`` to (there is nothing to apply)."""
        notice = self.read_notify(body)
        if notice.event is not None:
            return notice.event
        if notice.refund is not None:
            raise CallbackRefused(
                "refund_notice",
                "a refund's notify: refunds are confirmed when made",
                ErrorKind.CONFLICT,
            )
        raise CallbackRefused(
            "not_final", "the trade still waits for the buyer", ErrorKind.CONFLICT
        )

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        """What Alipay says of a payment now: paid or closed as an event (the same event id as
        its notify), None while it is open or Alipay has not seen it yet."""
        answer = self._call("alipay.trade.query", {"out_trade_no": provider_ref})
        if answer.get("code") != OK:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None
            raise _refused("the query", answer)
        return trade_event(answer, tenant_id=self.tenant_id, paid_at_field="send_pay_date")

    def close_payment(self, *, provider_ref: str) -> None:
        """Close an unpaid payment at Alipay, so it can no longer be paid. A trade Alipay has
        not seen is already unpayable once ``timeout_express`` passed; a paid one is refused
        (``AlipayError`` with ``sub_code`` ``ACQ.TRADE_STATUS_ERROR``): query it instead."""
        answer = self._call("alipay.trade.close", {"out_trade_no": provider_ref})
        if answer.get("code") != OK and answer.get("sub_code") != "ACQ.TRADE_NOT_EXIST":
            raise _refused("closing the payment", answer)

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        """Give ``amount_fen`` of a payment back (part or all). ``refund_id`` is Alipay's
        ``out_request_no``: asking again with it never refunds twice."""
        if amount_fen <= 0:
            raise AlipayError("a refund must be of a positive amount")
        answer = self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": provider_ref,
                "refund_amount": format_money(amount_fen),
                "out_request_no": refund_id,
                "refund_reason": reason[:256],
            },
        )
        if answer.get("code") != OK:
            refused = _refused("the refund", answer)
            if refused.code == BUSINESS_FAILED and refused.sub_code not in _TRY_AGAIN:
                return GatewayRefund(provider_ref="", status="failed", reason=str(refused))
            raise refused
        trade_no = str(answer.get("trade_no") or provider_ref)
        reference = f"{trade_no}:{refund_id}"
        if answer.get("fund_change") != "Y":
            # Already refunded by an earlier call with this id, or still being processed:
            # Alipay's refund query says which. Still processing: asked again later (Alipay
            # sends no refund callback), under the same number, which never refunds twice.
            found = self._call(
                "alipay.trade.fastpay.refund.query",
                {"out_trade_no": provider_ref, "out_request_no": refund_id},
            )
            if found.get("code") != OK or found.get("refund_status") != "REFUND_SUCCESS":
                return GatewayRefund(provider_ref=reference, status="processing")
            if found.get("refund_amount") != format_money(amount_fen):
                raise AlipayError(f"refund {refund_id} was made with another amount")
        return GatewayRefund(provider_ref=reference, status="succeeded")

    # -- payouts and bills ---------------------------------------------------------------------

    def transfer(
        self,
        *,
        payout_id: str,
        amount_fen: int,
        payee_account: str,
        payee_real_name: str,
        remark: str,
    ) -> PayoutResult:
        """Pay ``amount_fen`` to an Alipay account whose verified name must be
        ``payee_real_name``; safe to repeat with the same ``payout_id``."""
        if amount_fen <= 0:
            raise AlipayError("a payout must be of a positive amount")
        biz = transfer_request(
            payout_id=payout_id,
            amount_fen=amount_fen,
            payee_account=payee_account,
            payee_real_name=payee_real_name,
            remark=remark,
        )
        try:
            answer = self._call("alipay.fund.trans.uni.transfer", biz)
        except AlipayUnavailable as unknown:
            return PayoutResult(payout_id, "pending", None, "unavailable", str(unknown))
        return transfer_result(payout_id, answer)

    def download_bill(self, *, day: date) -> list[AlipayBillLine]:
        """The payments and refunds of Alipay's trade bill of ``day`` (Beijing time)."""
        answer = self._call(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": day.isoformat()},
        )
        if answer.get("code") != OK:
            if answer.get("sub_code") == "isp.bill_not_exist":
                raise AlipayBillNotReady(f"Alipay has no trade bill of {day.isoformat()}")
            raise _refused("the bill download", answer)
        url = str(answer.get("bill_download_url") or "")
        if urlsplit(url).scheme not in ("https", "http"):
            raise AlipayError("Alipay answered no bill URL")
        try:
            with urlopen(url, timeout=self.config.timeout_seconds) as response:
                data = response.read(MAX_ZIP + 1)
        except (TimeoutError, URLError, OSError) as error:
            raise AlipayUnavailable(f"the bill could not be fetched: {error}") from None
        return parse_trade_bill(data)

    # -- the SDK's call ------------------------------------------------------------------------

    def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        """One signed request through the SDK; its verified ``…_response`` object."""
        try:
            answer = self.client.server_api(method, biz, timestamp=alipay_timestamp())
        except AliPayValidationError:
            raise AlipayUnavailable(f"{method}: the answer's signature does not match") from None
        except AliPayException as error:
            raise AlipayError(f"{method}: Alipay answered without a signature: {error}") from None
        except (TimeoutError, URLError, OSError) as error:
            raise AlipayUnavailable(f"{method}: Alipay could not be reached: {error}") from None
        except (ValueError, AttributeError, KeyError, TypeError):
            raise AlipayUnavailable(f"{method}: Alipay's answer could not be read") from None
        if not isinstance(answer, dict):
            raise AlipayUnavailable(f"{method}: Alipay's answer is not an object")
        return answer
