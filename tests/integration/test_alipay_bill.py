"""Reading Alipay's trade bill: a zip of GBK CSVs, comment lines and the summary skipped."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest

from alipay_fake import bill_row, trade_bill_zip
from tokenmall.adapters.payments.alipay_bill import (
    AlipayBillError,
    parse_details_csv,
    parse_trade_bill,
)
from tokenmall.domain.payments.reconcile import ChannelEntry

DAY = date(2026, 12, 5)
AT = "2026-12-05 10:00:00"


def zip_of(**files: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_payments_and_refunds_are_read_in_fen_and_the_rest_skipped() -> None:
    rows = [
        bill_row("2026120522001000000000000000001", "pay_a", "交易", 99_999_999_99, AT),
        bill_row("2026120522001000000000000000001", "pay_a", "退款", -1, AT, "rf_1"),
        bill_row("2026120522001000000000000000002", "pay_b", "交易", 1, AT),
    ]
    data = trade_bill_zip("2088102177846880", DAY, rows)
    lines = parse_trade_bill(data)
    assert [(x.out_trade_no, x.kind, x.amount_fen, x.refund_id) for x in lines] == [
        ("pay_a", "payment", 99_999_999_99, None),
        ("pay_a", "refund", 1, "rf_1"),
        ("pay_b", "payment", 1, None),
    ]
    assert all(isinstance(x.amount_fen, int) for x in lines)
    assert lines[0].trade_no == "2026120522001000000000000000001"  # the tab padding is gone
    assert lines[1].entry() == ChannelEntry("refund", "rf_1", 1)
    assert lines[2].at is not None
    assert lines[2].at.utcoffset() is not None


def test_a_bill_without_rows_is_empty() -> None:
    assert parse_trade_bill(trade_bill_zip("2088102177846880", DAY, [])) == []


def test_the_summary_file_alone_is_not_a_bill() -> None:
    summary = "#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数\r\n,,1\r\n".encode("gbk")
    with pytest.raises(AlipayBillError, match="no details"):
        parse_trade_bill(zip_of(**{"x_业务明细(汇总).csv": summary}))


def test_a_refund_without_a_request_number_is_keyed_by_its_trade() -> None:
    row = bill_row("2026120522001000000000000000003", "pay_c", "退款", -500, AT)
    [line] = parse_trade_bill(trade_bill_zip("2088102177846880", DAY, [row]))
    assert line.refund_id is None
    assert line.entry() == ChannelEntry("refund", "pay_c", 500)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip", "not a zip"),
        (zip_of(**{"a.csv": "支付宝交易号,商户订单号\n".encode("utf-16")}), "not GBK|no details"),
    ],
)
def test_an_unreadable_file_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(AlipayBillError, match=message):
        parse_trade_bill(data)


HEADER = "支付宝交易号,商户订单号,业务类型,完成时间,订单金额（元）,退款批次号/请求号"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("t1,pay_a,转账,2026-12-05 10:00:00,1.00,", "line 3: unknown 业务类型"),
        ("t1,pay_a,交易,2026-12-05 10:00:00,1.001,", "line 3: 订单金额"),
        ("t1,pay_a,交易,2026-12-05 10:00:00,abc,", "line 3: 订单金额"),
        ("t1,,交易,2026-12-05 10:00:00,1.00,", "line 3: 支付宝交易号 and 商户订单号"),
    ],
)
def test_a_bad_row_names_its_line(body: str, message: str) -> None:
    with pytest.raises(AlipayBillError, match=message):
        parse_details_csv(f"#明细\n{HEADER}\n{body}\n#合计\n")


def test_the_columns_are_found_by_name_in_any_order() -> None:
    text = "#c\n业务类型,商户订单号,订单金额（元）,支付宝交易号\n交易\t,pay_z\t,3.50\t,t9\t\n"
    [line] = parse_details_csv(text)
    assert (line.trade_no, line.out_trade_no, line.amount_fen, line.at) == (
        "t9",
        "pay_z",
        350,
        None,
    )


def test_a_header_missing_a_column_is_refused() -> None:
    with pytest.raises(AlipayBillError, match="line 1: the header lacks 订单金额"):
        parse_details_csv("支付宝交易号,商户订单号,业务类型\n")
    with pytest.raises(AlipayBillError, match="line 2: expected the 支付宝交易号 header"):
        parse_details_csv("#c\n交易,x\n")
