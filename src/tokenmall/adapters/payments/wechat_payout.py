"""Payouts through WeChat Pay's merchant transfer (商家转账到零钱), behind the ``Payouts`` port.

A transfer bill (``/v3/fund-app/mch-transfer/transfer-bills``, the SDK's
``mch_transfer_bills``) is identified by our payout id with its separator dropped (WeChat's
``out_bill_no`` takes only letters and digits), so it is the channel's idempotency key: a
payout is first asked for (``mch_transfer_bills_query``) and only created when WeChat Pay does
not know it, and creating it again answers the first bill. The payee is the openid the shop's
app knows the person by; the real name goes along (encrypted by the SDK with the platform key)
and WeChat Pay checks it. A bill waiting for the person's confirmation or still transferring is
``processing`` and asked again; a failed or cancelled one gives the money back with WeChat's
reason.
"""

from __future__ import annotations

import json
from typing import Any

from tokenmall.adapters.payments.wechat_keys import API_BASE, WechatKeys, client
from tokenmall.domain.mall.payouts import PayoutResult, PayoutStatus

# 佣金报酬: the scene a shop's members' earnings are paid under; WeChat Pay asks for its
# report fields with every transfer of the scene.
TRANSFER_SCENE = "1005"
SCENE_REPORT = [
    {"info_type": "岗位类型", "info_content": "会员"},
    {"info_type": "报酬说明", "info_content": "提现"},
]
_SUCCEEDED = ("SUCCESS",)
_FAILED = ("FAIL", "CANCELLED")
# answers that leave the outcome unknown: ask again with the same out_bill_no
_UNKNOWN_CODES = ("SYSTEM_ERROR", "FREQUENCY_LIMITED", "FREQUENCY_LIMIT_EXCEED")


def out_bill_no(payout_id: str) -> str:
    """A payout id as WeChat's ``out_bill_no`` (letters and digits only)."""
    return "".join(ch for ch in payout_id if ch.isalnum())[:32]


class WechatPayouts:
    """One tenant's merchant transfers (see the module's docstring)."""

    def __init__(self, keys: WechatKeys, *, api_base: str = API_BASE) -> None:
        self.keys = keys
        self._pay = client(keys, notify_url="", api_base=api_base)

    def _call(self, do: Any) -> tuple[int, dict[str, Any]]:
        code, text = do()
        try:
            data = json.loads(text) if text else {}
        except (ValueError, TypeError):
            data = {}
        return int(code), data if isinstance(data, dict) else {}

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
        number = out_bill_no(payout_id)
        try:
            code, data = self._call(lambda: self._pay.mch_transfer_bills_query(out_bill_no=number))
            if code == 404:
                code, data = self._call(
                    lambda: self._pay.mch_transfer_bills(
                        out_bill_no=number,
                        transfer_scene_id=TRANSFER_SCENE,
                        openid=payee_account,
                        transfer_amount=amount_fen,
                        transfer_remark=(remark.strip() or "提现")[:32],
                        user_name=payee_real_name,
                        transfer_scene_report_infos=SCENE_REPORT,
                    )
                )
        except Exception:  # not reachable, or an answer that does not verify: unknown outcome
            return PayoutResult(PayoutStatus.PROCESSING)
        return result_of(code, data)


def result_of(code: int, data: dict[str, Any]) -> PayoutResult:
    """A transfer bill's answer (created or queried) read as a payout's result."""
    ref = data.get("transfer_bill_no")
    channel_ref = str(ref) if ref else None
    if code in (200, 201, 202):
        state = str(data.get("state", ""))
        if state in _SUCCEEDED:
            return PayoutResult(PayoutStatus.SUCCEEDED, channel_ref)
        if state in _FAILED:
            why = data.get("fail_reason") or state
            return PayoutResult(PayoutStatus.FAILED, channel_ref, f"WeChat Pay: {why}"[:500])
        return PayoutResult(PayoutStatus.PROCESSING, channel_ref)
    wechat_code = str(data.get("code", ""))
    if code >= 500 or code == 429 or wechat_code in _UNKNOWN_CODES:
        return PayoutResult(PayoutStatus.PROCESSING, channel_ref)
    said = data.get("message") or wechat_code or f"HTTP {code}"
    return PayoutResult(PayoutStatus.FAILED, channel_ref, f"WeChat Pay: {wechat_code} {said}"[:500])
