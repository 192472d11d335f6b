"""WeChat Pay's daily trade bill (交易账单) behind the ``Bills`` port.

``GET /v3/bill/tradebill?bill_date=…&bill_type=ALL&tar_type=GZIP`` (the SDK's ``trade_bill``)
answers a short-lived ``download_url`` and the SHA1 of the bill; the file (the SDK's
``download_bill``, signed as every request, its answer not signed) is a gzipped CSV: a header
row, one row per payment (交易状态 ``SUCCESS``) or refund (``REFUND``), then a summary header
and its row. WeChat Pay prefixes every field of the data rows with a backtick (`` ` ``) so
spreadsheets keep the long numbers; it is dropped. The columns are found by their header
names. A payment's line is keyed by 商户订单号 (our payment id) with the order's amount, a
refund's by 商户退款单号 (our refund id) with the amount asked to refund.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import date
from typing import Any

from tokenmall.adapters.payments.wechat_keys import API_BASE, WechatKeys, client
from tokenmall.domain.errors import Invalid
from tokenmall.domain.mall.gateway import ChannelError
from tokenmall.domain.mall.payouts import BillKind, BillLine
from tokenmall.domain.money import parse_money

MAX_BILL = 64 * 1024 * 1024
COL_STATE = "交易状态"
COL_TRADE_NO = "微信订单号"
COL_OUT_TRADE_NO = "商户订单号"
COL_REFUND_NO = "微信退款单号"
COL_OUT_REFUND_NO = "商户退款单号"
COL_TOTAL = "订单金额"
COL_SETTLED = "应结订单金额"
COL_REFUND_ASKED = "申请退款金额"
COL_REFUNDED = "退款金额"
REQUIRED = (COL_STATE, COL_TRADE_NO, COL_OUT_TRADE_NO, COL_SETTLED)
SUMMARY = "总交易单数"
NOT_READY = ("NO_STATEMENT_EXIST", "STATEMENT_CREATING")


class WechatBillError(Invalid):
    """A bill that cannot be read or fetched; the message names the line where it can."""


def _field(text: str) -> str:
    return text.strip().removeprefix("`").strip()


def parse_trade_bill(text: str) -> list[BillLine]:
    """The CSV of a trade bill (``bill_type=ALL``) read into bill lines."""
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: dict[str, int] | None = None
    out: list[BillLine] = []
    for number, row in enumerate(rows, start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = {_field(name): n for n, name in enumerate(row)}
            missing = [name for name in REQUIRED if name not in header]
            if missing:
                raise WechatBillError(f"line {number}: the bill has no column {missing[0]}")
            continue
        if _field(row[0]) == SUMMARY:
            break  # the summary's header and row: the details are over
        cells = [_field(text) for text in row]

        def cell(name: str, cells: list[str] = cells, header: dict[str, int] = header) -> str:
            at = header.get(name)
            return "" if at is None or at >= len(cells) else cells[at]

        try:
            state = cell(COL_STATE)
            if state == "SUCCESS":
                amount = cell(COL_TOTAL) or cell(COL_SETTLED)
                out.append(
                    BillLine(
                        BillKind.PAYMENT,
                        cell(COL_OUT_TRADE_NO),
                        parse_money(amount),
                        cell(COL_TRADE_NO) or None,
                    )
                )
            elif state == "REFUND":
                amount = cell(COL_REFUND_ASKED) or cell(COL_REFUNDED)
                out.append(
                    BillLine(
                        BillKind.REFUND,
                        cell(COL_OUT_REFUND_NO),
                        parse_money(amount),
                        cell(COL_REFUND_NO) or None,
                    )
                )
        except (ValueError, Invalid) as exc:
            raise WechatBillError(f"line {number}: {exc}") from None
    if header is None:
        raise WechatBillError("line 1: the bill is empty")
    return out


class WechatBills:
    """One tenant's WeChat Pay trade bills."""

    def __init__(self, keys: WechatKeys, *, api_base: str = API_BASE) -> None:
        self._pay = client(keys, notify_url="", api_base=api_base)

    def download_bill(self, *, channel: str, day: date) -> list[BillLine]:
        try:
            code, text = self._pay.trade_bill(bill_date=day.isoformat(), tar_type="GZIP")
        except Exception as exc:  # not reachable, or an answer that does not verify
            raise ChannelError(
                f"WeChat Pay did not answer the bill: {type(exc).__name__}"
            ) from None
        data = _json(text)
        if code != 200:
            what = str(data.get("code", ""))
            if what in NOT_READY:
                raise ChannelError(f"WeChat Pay has no trade bill of {day.isoformat()} yet")
            raise ChannelError(f"WeChat Pay refused the bill: HTTP {code} {what}".strip())
        url = str(data.get("download_url") or "")
        if not url:
            raise ChannelError("WeChat Pay answered no bill URL")
        try:
            code, body = self._pay.download_bill(url)
        except Exception as exc:
            raise ChannelError(f"the bill could not be fetched: {type(exc).__name__}") from None
        if code != 200 or not isinstance(body, bytes | str):
            raise ChannelError(f"the bill could not be fetched: HTTP {code}")
        raw = body.encode() if isinstance(body, str) else body
        try:
            plain = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        except (OSError, EOFError):
            raise WechatBillError("the bill's archive cannot be read") from None
        if len(plain) > MAX_BILL:
            raise WechatBillError("the bill is larger than any bill this shop takes")
        expected = str(data.get("hash_value") or "").lower()
        sha1 = str(data.get("hash_type", "SHA1")).upper() == "SHA1"
        if sha1 and expected and hashlib.sha1(plain).hexdigest() != expected:
            raise WechatBillError("the bill does not match the checksum WeChat Pay gave")
        return parse_trade_bill(plain.decode("utf-8"))


def _json(text: Any) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}
