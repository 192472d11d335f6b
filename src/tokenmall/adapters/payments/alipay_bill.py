"""Alipay's daily trade bill (交易账单), read into typed lines.

``alipay.data.dataservice.bill.downloadurl.query`` (``bill_type=trade``) answers a short-lived
URL of a zip holding two GBK-encoded CSV files: the details (``…_业务明细.csv``) and a summary
(``…_业务明细(汇总).csv``). The details file opens and closes with ``#`` comment lines (the
account, the period, the totals), then a header row and one row per payment (业务类型 ``交易``)
or refund (``退款``); Alipay pads every field with a tab so spreadsheets keep the long numbers.
The summary file and the comment lines are skipped; the columns are found by their header
names, not their positions. A refund row's amount is negative in the bill: the line keeps its
size in fen with ``kind`` saying which way it went.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tokenmall.adapters.payments.alipay_notify import beijing_time
from tokenmall.domain.errors import DomainError, Invalid
from tokenmall.domain.money import parse_money
from tokenmall.domain.payments.reconcile import ChannelEntry

BillKind = Literal["payment", "refund"]
MAX_ZIP = 64 * 1024 * 1024
MAX_MEMBER = 256 * 1024 * 1024
_KINDS: dict[str, BillKind] = {"交易": "payment", "退款": "refund"}
COL_TRADE_NO = "支付宝交易号"
COL_OUT_TRADE_NO = "商户订单号"
COL_KIND = "业务类型"
COL_FINISHED = "完成时间"
COL_CREATED = "创建时间"
COL_AMOUNT = "订单金额（元）"
COL_REFUND_NO = "退款批次号/请求号"
REQUIRED = (COL_TRADE_NO, COL_OUT_TRADE_NO, COL_KIND, COL_AMOUNT)


class AlipayBillError(Invalid):
    """A bill that cannot be read; the message names the file's line where it can."""


@dataclass(frozen=True, slots=True)
class AlipayBillLine:
    """One payment or refund of the bill: Alipay's trade number, our ``out_trade_no`` (the
    payment's reference), for a refund our refund id (``out_request_no``), the amount in fen
    (positive either way) and when it was completed (Beijing time)."""

    trade_no: str
    out_trade_no: str
    kind: BillKind
    amount_fen: int
    at: datetime | None
    refund_id: str | None = None

    def entry(self) -> ChannelEntry:
        """The line as reconciliation takes it: a payment by its ``out_trade_no``, a refund
        by our refund id (by trade number and amount when the bill names no request)."""
        if self.kind == "payment":
            return ChannelEntry("payment", self.out_trade_no, self.amount_fen)
        return ChannelEntry("refund", self.refund_id or self.out_trade_no, self.amount_fen)


def _details(data: bytes) -> list[str]:
    """The text of every CSV in the zip that holds the details' header (not the summary)."""
    if len(data) > MAX_ZIP:
        raise AlipayBillError("the bill is too large")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise AlipayBillError("the bill is not a zip file") from None
    found = []
    with archive:
        for info in archive.infolist():
            if info.is_dir() or info.file_size > MAX_MEMBER:
                continue
            raw = archive.read(info)
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                raise AlipayBillError(f"{info.filename!r} is not GBK text") from None
            if any(_is_header(line.split(",")) for line in text.splitlines()):
                found.append(text)
    if not found:
        raise AlipayBillError("the bill holds no details file (支付宝交易号 header)")
    return found


def _is_header(cells: list[str]) -> bool:
    return COL_TRADE_NO in (cell.strip() for cell in cells)


def parse_trade_bill(data: bytes) -> list[AlipayBillLine]:
    """The payments and refunds of a trade bill's zip, in the file's order."""
    lines: list[AlipayBillLine] = []
    for text in _details(data):
        lines.extend(parse_details_csv(text))
    return lines


def parse_details_csv(text: str) -> list[AlipayBillLine]:
    """The rows of one details file (already decoded); ``#`` lines and blank lines skipped."""
    header: list[str] | None = None
    lines: list[AlipayBillLine] = []
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        number = reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if header is None:
            if not _is_header(cells):
                raise AlipayBillError(f"line {number}: expected the 支付宝交易号 header")
            missing = [name for name in REQUIRED if name not in cells]
            if missing:
                raise AlipayBillError(f"line {number}: the header lacks {', '.join(missing)}")
            header = cells
            continue
        lines.append(_line(number, dict(zip(header, cells, strict=False))))
    return lines


def _line(number: int, row: dict[str, str]) -> AlipayBillLine:
    kind = _KINDS.get(row.get(COL_KIND, ""))
    if kind is None:
        raise AlipayBillError(f"line {number}: unknown 业务类型 {row.get(COL_KIND)!r}")
    trade_no, out_trade_no = row.get(COL_TRADE_NO, ""), row.get(COL_OUT_TRADE_NO, "")
    if not trade_no or not out_trade_no:
        raise AlipayBillError(f"line {number}: 支付宝交易号 and 商户订单号 are required")
    amount = row.get(COL_AMOUNT, "")
    try:
        fen = parse_money(amount.removeprefix("-"), COL_AMOUNT)
    except DomainError:
        raise AlipayBillError(f"line {number}: {COL_AMOUNT} {amount!r} is not an amount") from None
    when = row.get(COL_FINISHED) or row.get(COL_CREATED)
    refund_id = row.get(COL_REFUND_NO) or None if kind == "refund" else None
    return AlipayBillLine(trade_no, out_trade_no, kind, fen, beijing_time(when), refund_id)
