"""A tenant's Alipay transfers (``AlipayGateway.transfer``) behind the ``Payouts`` port: Alipay's
answer read as a payout's result (its ``pending``: still processing, asked again with the same
payout id; a refusal: failed with Alipay's sub_code and message); and its trade bill
(``AlipayGateway.download_bill``) behind the ``Bills`` port, a payment's line keyed by our
payment id (``out_trade_no``), a refund's by our refund id (``out_request_no``)."""

from __future__ import annotations

from datetime import date

from tokenmall.adapters.payments.alipay_gateway import AlipayError, AlipayGateway
from tokenmall.domain.mall.payouts import BillKind, BillLine, PayoutResult, PayoutStatus


class AlipayPayouts:
    def __init__(self, gateway: AlipayGateway) -> None:
        self.gateway = gateway

    def transfer(
        self,
        *,
        payout_id: str,
        amount_fen: int,
        channel: str,
        payee_account: str,
        payee_real_name: str,
        remark: str,
    ) -> PayoutResult:
        try:
            said = self.gateway.transfer(
                payout_id=payout_id,
                amount_fen=amount_fen,
                payee_account=payee_account,
                payee_real_name=payee_real_name,
                remark=remark,
            )
        except AlipayError as exc:  # an answer that cannot be read: the outcome is unknown
            return PayoutResult(PayoutStatus.PROCESSING, reason=str(exc)[:500])
        if said.status == "succeeded":
            return PayoutResult(PayoutStatus.SUCCEEDED, said.channel_ref)
        if said.status == "failed":
            why = " ".join(x for x in (said.reason_code, said.reason) if x) or "refused"
            return PayoutResult(PayoutStatus.FAILED, said.channel_ref, f"Alipay: {why}"[:500])
        return PayoutResult(PayoutStatus.PROCESSING, said.channel_ref)


class AlipayBills:
    def __init__(self, gateway: AlipayGateway) -> None:
        self.gateway = gateway

    def download_bill(self, *, channel: str, day: date) -> list[BillLine]:
        out = []
        for line in self.gateway.download_bill(day=day):
            if line.kind == "payment":
                out.append(
                    BillLine(BillKind.PAYMENT, line.out_trade_no, line.amount_fen, line.trade_no)
                )
            else:
                reference = line.refund_id or line.out_trade_no
                out.append(BillLine(BillKind.REFUND, reference, line.amount_fen, line.trade_no))
        return out
