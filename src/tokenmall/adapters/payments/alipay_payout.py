"""Payouts through Alipay's transfer to an account (单笔转账, ``alipay.fund.trans.uni.transfer``).

A payout is identified by our ``payout_id`` (Alipay's ``out_biz_no``): asking again with the same
id never pays twice, so a payout whose outcome is unknown (a timeout, Alipay's ``SYSTEM_ERROR``)
is ``pending`` and is asked again with the same id, never given up. The payee is an Alipay
account (a ``2088…`` user id, or the login: a phone number or an e-mail) and the real name the
person registered, which Alipay checks against the account's verified name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tokenmall.domain.money import format_money

PayoutStatus = Literal["succeeded", "failed", "pending"]
_USER_ID = re.compile(r"^2088[0-9]{12}$")
# Alipay's sub_codes that leave a transfer's outcome unknown (ask again with the same id); any
# other business refusal (code 40004) means nothing was paid.
UNKNOWN_OUTCOME = frozenset({"SYSTEM_ERROR", "ACQ.SYSTEM_ERROR", "aop.SYSTEM_ERROR"})


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """What Alipay says of a payout: paid (``channel_ref`` is Alipay's order id), failed
    (``reason_code`` and ``reason`` are Alipay's sub_code and message: the money goes back to
    the person), or pending (ask again with the same payout id)."""

    payout_id: str
    status: PayoutStatus
    channel_ref: str | None = None
    reason_code: str | None = None
    reason: str | None = None


def identity_type(account: str) -> str:
    """``ALIPAY_USER_ID`` for a 2088 user id, ``ALIPAY_LOGON_ID`` for a phone or e-mail."""
    return "ALIPAY_USER_ID" if _USER_ID.match(account) else "ALIPAY_LOGON_ID"


def transfer_request(
    *, payout_id: str, amount_fen: int, payee_account: str, payee_real_name: str, remark: str
) -> dict[str, Any]:
    """The ``biz_content`` of a transfer to an Alipay account, the real name to be checked."""
    title = remark.strip()[:64] or "提现"
    return {
        "out_biz_no": payout_id,
        "trans_amount": format_money(amount_fen),
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": title,
        "remark": title,
        "payee_info": {
            "identity": payee_account,
            "identity_type": identity_type(payee_account),
            "name": payee_real_name,
        },
    }


def transfer_result(payout_id: str, answer: dict[str, Any]) -> PayoutResult:
    """A transfer's answer (its ``..._response`` object, signature already checked) read."""
    code = str(answer.get("code", ""))
    sub_code = str(answer.get("sub_code") or "") or None
    message = str(answer.get("sub_msg") or answer.get("msg") or "")[:200] or None
    if code == "10000":
        status = str(answer.get("status", ""))
        ref = answer.get("order_id")
        channel_ref = str(ref) if ref else None
        if status == "SUCCESS":
            return PayoutResult(payout_id, "succeeded", channel_ref)
        if status in ("FAIL", "REFUND"):
            return PayoutResult(payout_id, "failed", channel_ref, status, message or status)
        return PayoutResult(payout_id, "pending", channel_ref, status or None, message)
    if code == "20000" or code.startswith("5") or (sub_code or "") in UNKNOWN_OUTCOME:
        return PayoutResult(payout_id, "pending", None, sub_code or code, message)
    return PayoutResult(payout_id, "failed", None, sub_code or code, message or sub_code or code)
