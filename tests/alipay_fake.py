"""A local fake of Alipay's open platform for tests: an in-process HTTP server at
``http://127.0.0.1:<port>/gateway.do`` that the SDK's requests are pointed at (the gateway URL
of ``AlipayConfig``).

It does what Alipay does with the keys a test generates (RSA 2048): it checks each request's
RSA2 signature with the application's public key (every parameter but ``sign``, sorted,
``k=v`` joined by ``&``), answers ``{"<method>_response": {...}, "sign": "..."}`` signed over
the response object's exact JSON text with its own private key, and signs notifies over every
field but ``sign`` and ``sign_type``. The signing uses ``cryptography``, not the SDK, so the
SDK's verification is checked against an independent signer.

Trades appear when a test opens the cashier URL the gateway made (``open_cashier``) and are
paid (``pay``) or left open; ``notify_body`` makes their signed notifies. Refunds, closes,
transfers to registered accounts (``accounts``: account -> real name) and trade bills
(``publish_bill``: a zip of GBK CSVs as Alipay writes them) follow Alipay's answers.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 5, 10, 0, 0, tzinfo=BEIJING)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_base64(key: rsa.RSAPrivateKey) -> str:
    """The public key as the open platform shows it: bare base64 of its DER, one line."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def rsa2_sign(key: rsa.RSAPrivateKey, text: str) -> str:
    signature = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa2_verify(key: rsa.RSAPublicKey, text: str, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def unsigned_text(fields: dict[str, str], *, skip: tuple[str, ...]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k not in skip)


def yuan(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def fen_of(text: str) -> int:
    return int(Decimal(text) * 100)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ant Financial"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certification Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def certificate(
    key: rsa.RSAPrivateKey, subject: str, issuer_key: rsa.RSAPrivateKey, issuer: str, serial: int
) -> x509.Certificate:
    start = datetime(2026, 1, 1, tzinfo=BEIJING)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .sign(issuer_key, hashes.SHA256())
    )


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_sn(cert: x509.Certificate) -> str:
    """Alipay's serial of a certificate: MD5 of its issuer's DN (most specific first) and its
    serial number in decimal."""
    return hashlib.md5(
        (cert.issuer.rfc4514_string() + str(cert.serial_number)).encode()
    ).hexdigest()


@dataclass
class Certificates:
    """The open platform's three certificates for an app key and Alipay's key (certificate
    mode), issued by a root made here."""

    app_cert: x509.Certificate
    alipay_cert: x509.Certificate
    root_cert: x509.Certificate

    @classmethod
    def issue(cls, app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey) -> Certificates:
        root_key = new_key()
        root = "Ant Financial Certification Authority R1"
        return cls(
            app_cert=certificate(app_key, "app 2021000123456789", root_key, root, 4001),
            alipay_cert=certificate(alipay_key, "alipay", root_key, root, 4002),
            root_cert=certificate(root_key, root, root_key, root, 4000),
        )


@dataclass
class Trade:
    out_trade_no: str
    trade_no: str
    total_fen: int
    subject: str
    passback: str | None
    status: str = "WAIT_BUYER_PAY"
    paid_at: datetime | None = None
    refunds: dict[str, int] = field(default_factory=dict)  # out_request_no -> fen

    @property
    def refunded_fen(self) -> int:
        return sum(self.refunds.values())


class FakeAlipay:
    def __init__(self, *, app_id: str, seller_id: str, app_public_key: rsa.RSAPublicKey) -> None:
        self.app_id, self.seller_id = app_id, seller_id
        self.app_public_key = app_public_key
        self.key = new_key()  # Alipay's own key pair: its public half goes to the config
        self.trades: dict[str, Trade] = {}
        self.accounts: dict[str, str] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.bills: dict[str, bytes] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.refund_pending = False  # refunds answer fund_change N and the query finds none
        self.refund_refusal: tuple[str, str] | None = None  # (sub_code, sub_msg) for refunds
        self.system_error = False  # refunds answer ACQ.SYSTEM_ERROR (transient)
        self.certificates: Certificates | None = None  # certificate mode when set
        self._numbers = 0
        self._server: ThreadingHTTPServer | None = None

    # -- the server ----------------------------------------------------------------------------

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def gateway_url(self) -> str:
        return f"{self.base}/gateway.do"

    def start(self) -> FakeAlipay:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, kind = fake.handle(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str) -> tuple[int, bytes, str]:
        url = urlsplit(path)
        if url.path.startswith("/bill/"):
            data = self.bills.get(url.path.removeprefix("/bill/").removesuffix(".zip"))
            if data is None:
                return 404, b"no such bill", "text/plain"
            return 200, data, "application/zip"
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        method = params.get("method", "")
        rtype = method.replace(".", "_") + "_response"
        if not self.request_signed(params):
            error = {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-signature",
                "sub_msg": "验签出错",
            }
            return 200, json.dumps({"error_response": error}).encode(), "application/json"
        biz = json.loads(params.get("biz_content") or "{}")
        self.requests.append((method, biz))
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        answer = (
            self.failed("isv.invalid-method", "不存在的方法名") if handler is None else handler(biz)
        )
        return 200, self.signed_answer(rtype, answer).encode(), "application/json;charset=utf-8"

    def request_signed(self, params: dict[str, str]) -> bool:
        if params.get("app_id") != self.app_id or params.get("sign_type") != "RSA2":
            return False
        if not self.timestamp_fresh(params.get("timestamp", "")):
            return False
        if self.certificates is not None and (
            params.get("app_cert_sn") != cert_sn(self.certificates.app_cert)
            or params.get("alipay_root_cert_sn") != cert_sn(self.certificates.root_cert)
        ):
            return False
        text = unsigned_text(params, skip=("sign",))
        return rsa2_verify(self.app_public_key, text, params.get("sign", ""))

    @staticmethod
    def timestamp_fresh(text: str) -> bool:
        """Alipay reads ``timestamp`` as Beijing time and refuses one far from its clock."""
        try:
            sent = datetime.strptime(text + " +0800", "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            return False
        return abs(datetime.now(BEIJING) - sent) <= timedelta(minutes=10)

    def signed_answer(self, rtype: str, answer: dict[str, Any]) -> str:
        inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        sign = rsa2_sign(self.key, inner)
        if self.certificates is not None:
            sn = cert_sn(self.certificates.alipay_cert)
            return f'{{"{rtype}":{inner},"alipay_cert_sn":"{sn}","sign":"{sign}"}}'
        return f'{{"{rtype}":{inner},"sign":"{sign}"}}'

    @staticmethod
    def ok(**fields: Any) -> dict[str, Any]:
        return {"code": "10000", "msg": "Success", **fields}

    @staticmethod
    def failed(sub_code: str, sub_msg: str) -> dict[str, Any]:
        return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def number(self, prefix: str = "2026120522001") -> str:
        self._numbers += 1
        return f"{prefix}{self._numbers:015d}"

    # -- the buyer's side ----------------------------------------------------------------------

    def open_cashier(self, url: str) -> Trade:
        """What Alipay's cashier does with a pay URL: check it, and open its trade."""
        params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        assert self.request_signed(params), "the pay URL's signature does not verify"
        assert params["method"] in ("alipay.trade.wap.pay", "alipay.trade.page.pay")
        biz = json.loads(params["biz_content"])
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None:
            trade = Trade(
                out_trade_no=biz["out_trade_no"],
                trade_no=self.number(),
                total_fen=fen_of(biz["total_amount"]),
                subject=biz["subject"],
                passback=biz.get("passback_params"),
            )
            self.trades[trade.out_trade_no] = trade
        return trade

    def pay(self, out_trade_no: str, at: datetime = NOW) -> bytes:
        trade = self.trades[out_trade_no]
        trade.status, trade.paid_at = "TRADE_SUCCESS", at
        return self.notify_body(trade)

    def notify_fields(self, trade: Trade, **overrides: str) -> dict[str, str]:
        at = trade.paid_at or NOW
        fields = {
            "notify_time": at.strftime("%Y-%m-%d %H:%M:%S"),
            "notify_type": "trade_status_sync",
            "notify_id": f"ac05099524730693a8b330c5ecf72da{self._numbers:04d}",
            "app_id": self.app_id,
            "auth_app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_id": "2088102122524333",
            "seller_id": self.seller_id,
            "trade_status": trade.status,
            "total_amount": yuan(trade.total_fen),
            "receipt_amount": yuan(trade.total_fen),
            "subject": trade.subject,
            "gmt_create": (at - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "gmt_payment": at.strftime("%Y-%m-%d %H:%M:%S"),
        }
        if trade.passback is not None:
            fields["passback_params"] = trade.passback
        fields.update(overrides)
        return {k: v for k, v in fields.items() if v is not None}

    def sign_notify(self, fields: dict[str, str]) -> bytes:
        text = unsigned_text(fields, skip=("sign", "sign_type"))
        signed = {**fields, "sign_type": "RSA2", "sign": rsa2_sign(self.key, text)}
        return urlencode(signed).encode("ascii")

    def notify_body(self, trade: Trade, **overrides: str) -> bytes:
        return self.sign_notify(self.notify_fields(trade, **overrides))

    # -- the APIs ------------------------------------------------------------------------------

    def api_alipay_trade_query(self, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self.failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        answer = self.ok(
            trade_no=trade.trade_no,
            out_trade_no=trade.out_trade_no,
            trade_status=trade.status,
            total_amount=yuan(trade.total_fen),
            buyer_logon_id="csq***@sandbox.com",
        )
        if trade.paid_at is not None:
            answer["send_pay_date"] = trade.paid_at.strftime("%Y-%m-%d %H:%M:%S")
        return answer

    def api_alipay_trade_close(self, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self.failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade.status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return self.failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = "TRADE_CLOSED"
        return self.ok(trade_no=trade.trade_no, out_trade_no=trade.out_trade_no)

    def api_alipay_trade_refund(self, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self.failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if self.system_error:
            return self.failed("ACQ.SYSTEM_ERROR", "系统错误")
        if self.refund_refusal is not None:
            return self.failed(*self.refund_refusal)
        request_no = biz.get("out_request_no") or trade.out_trade_no
        fen = fen_of(biz["refund_amount"])
        done = {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}
        if request_no in trade.refunds:
            if trade.refunds[request_no] != fen:
                return self.failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与原请求不一致")
            return self.ok(**done, fund_change="N", refund_fee=yuan(trade.refunded_fen))
        if trade.status != "TRADE_SUCCESS":
            return self.failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        if trade.refunded_fen + fen > trade.total_fen:
            return self.failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        trade.refunds[request_no] = fen
        if trade.refunded_fen == trade.total_fen:
            trade.status = "TRADE_CLOSED"
        change = "N" if self.refund_pending else "Y"
        return self.ok(**done, fund_change=change, refund_fee=yuan(trade.refunded_fen))

    def api_alipay_trade_fastpay_refund_query(self, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self.failed("ACQ.TRADE_NOT_EXIST", "交易不存在")
        request_no = biz.get("out_request_no", "")
        if request_no not in trade.refunds or self.refund_pending:
            return self.ok(trade_no=trade.trade_no, out_trade_no=trade.out_trade_no)
        return self.ok(
            trade_no=trade.trade_no,
            out_trade_no=trade.out_trade_no,
            out_request_no=request_no,
            total_amount=yuan(trade.total_fen),
            refund_amount=yuan(trade.refunds[request_no]),
            refund_status="REFUND_SUCCESS",
        )

    def api_alipay_fund_trans_uni_transfer(self, biz: dict[str, Any]) -> dict[str, Any]:
        out_biz_no = biz["out_biz_no"]
        if out_biz_no in self.transfers:
            return self.transfers[out_biz_no]
        payee = biz["payee_info"]
        name = self.accounts.get(payee["identity"])
        if name is None:
            answer = self.failed("PAYEE_NOT_EXIST", "收款账号不存在")
        elif payee.get("name") != name:
            answer = self.failed(
                "PAYEE_USERINFO_ERROR", "支付宝账号和姓名不匹配，请确认姓名是否正确"
            )
        else:
            answer = self.ok(
                out_biz_no=out_biz_no,
                order_id=self.number("20261205110070000006"),
                pay_fund_order_id=self.number("20261205110070001506"),
                status="SUCCESS",
                trans_date="2026-12-05 10:00:00",
            )
        self.transfers[out_biz_no] = answer
        return answer

    def api_alipay_data_dataservice_bill_downloadurl_query(
        self, biz: dict[str, Any]
    ) -> dict[str, Any]:
        if biz.get("bill_type") != "trade":
            return self.failed("isv.invalid-arguments", "账单类型不支持")
        day = biz.get("bill_date", "")
        if day not in self.bills:
            return self.failed("isp.bill_not_exist", "账单不存在")
        return self.ok(bill_download_url=f"{self.base}/bill/{day}.zip")

    # -- bills ---------------------------------------------------------------------------------

    def bill_rows(self) -> list[list[str]]:
        """The details rows of every paid trade and every refund, as Alipay writes them."""
        rows = []
        for trade in self.trades.values():
            if trade.paid_at is None:
                continue
            at = trade.paid_at.strftime("%Y-%m-%d %H:%M:%S")
            rows.append(bill_row(trade.trade_no, trade.out_trade_no, "交易", trade.total_fen, at))
            for request_no, fen in trade.refunds.items():
                rows.append(
                    bill_row(trade.trade_no, trade.out_trade_no, "退款", -fen, at, request_no)
                )
        return rows

    def publish_bill(self, day: date, rows: list[list[str]] | None = None) -> bytes:
        data = trade_bill_zip(self.seller_id, day, self.bill_rows() if rows is None else rows)
        self.bills[day.isoformat()] = data
        return data


HEADER = [
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号",
    "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）",
    "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）",
    "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号", "服务费（元）",
    "分润（元）", "备注",
]  # fmt: skip


def bill_row(
    trade_no: str, out_trade_no: str, kind: str, fen: int, at: str, request_no: str = ""
) -> list[str]:
    amount = yuan(fen) if fen >= 0 else "-" + yuan(-fen)
    values = [trade_no, out_trade_no, kind, "商品", at, at, "", "", "", "", "buyer@example.com",
              amount, amount, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
              request_no, "0.00", "0.00", ""]  # fmt: skip
    return [value + "\t" for value in values]  # Alipay pads every field with a tab


def trade_bill_zip(account: str, day: date, rows: list[list[str]]) -> bytes:
    """A trade bill's zip as Alipay makes it: the details and the summary, GBK CSVs."""
    stamp = day.strftime("%Y%m%d")
    end = day + timedelta(days=1)
    payments = sum(1 for row in rows if row[2].strip() == "交易")
    details = [
        "#支付宝业务明细查询",
        f"#账号：[{account}0156]",
        f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   终止日期：[{end:%Y年%m月%d日} 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ",".join(HEADER),
        *(",".join(row) for row in rows),
        "#-----------------------------------------业务明细列表结束------------------------------------",
        f"#交易合计：{payments}笔，退款合计：{len(rows) - payments}笔",
        f"#导出时间：[{end:%Y年%m月%d日} 09:12:34]",
    ]  # fmt: skip
    summary = [
        "#支付宝业务汇总查询",
        f"#账号：[{account}0156]",
        "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）",
        f",,{payments},{len(rows) - payments},0.00,0.00",
        "#-----------------------------------------业务汇总列表结束------------------------------------",
    ]  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{account}{stamp}_业务明细.csv", "\r\n".join(details).encode("gbk"))
        archive.writestr(f"{account}{stamp}_业务明细(汇总).csv", "\r\n".join(summary).encode("gbk"))
    return out.getvalue()
