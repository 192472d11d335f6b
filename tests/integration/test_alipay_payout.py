"""How a transfer's answer is read: paid, failed with Alipay's reason, or unknown (pending)."""

from __future__ import annotations

from typing import Any

import pytest

from tokenmall.adapters.payments.alipay_payout import (
    identity_type,
    transfer_request,
    transfer_result,
)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"code": "10000", "status": "SUCCESS", "order_id": "o1"}, ("succeeded", "o1", None)),
        ({"code": "10000", "status": "DEALING", "order_id": "o1"}, ("pending", "o1", "DEALING")),
        ({"code": "10000", "status": "FAIL", "order_id": "o1"}, ("failed", "o1", "FAIL")),
        ({"code": "20000", "msg": "Service Currently Unavailable"}, ("pending", None, "20000")),
        ({"code": "40004", "sub_code": "SYSTEM_ERROR"}, ("pending", None, "SYSTEM_ERROR")),
        (
            {"code": "40004", "sub_code": "PAYEE_NOT_EXIST", "sub_msg": "收款账号不存在"},
            ("failed", None, "PAYEE_NOT_EXIST"),
        ),
        (
            {"code": "40002", "sub_code": "isv.invalid-app-id"},
            ("failed", None, "isv.invalid-app-id"),
        ),
    ],
)
def test_a_transfer_answer_is_read(answer: dict[str, Any], expected: tuple[Any, ...]) -> None:
    result = transfer_result("po_1", answer)
    assert (result.status, result.channel_ref, result.reason_code) == expected
    assert result.payout_id == "po_1"
    if result.status == "failed":
        assert result.reason


def test_the_request_names_the_payee_and_amount_in_yuan() -> None:
    biz = transfer_request(
        payout_id="po_1", amount_fen=1, payee_account="a@b.cn", payee_real_name="张三", remark=" "
    )
    assert biz["trans_amount"] == "0.01"
    assert biz["out_biz_no"] == "po_1"
    assert biz["payee_info"] == {
        "identity": "a@b.cn",
        "identity_type": "ALIPAY_LOGON_ID",
        "name": "张三",
    }
    assert biz["order_title"] == "提现"
    assert identity_type("2088102122524333") == "ALIPAY_USER_ID"
    assert identity_type("13800000000") == "ALIPAY_LOGON_ID"
