"""A local fake of WeChat Pay API v3: an HTTP server on 127.0.0.1 that behaves as WeChat Pay.

It checks each request's ``Authorization`` (``WECHATPAY2-SHA256-RSA2048``, the merchant's
RSA-SHA256 signature over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``) with the merchant's
public key, and signs each answer and each callback with its platform key (RSA-2048 made in the
test) over ``TIMESTAMP\\nNONCE\\nBODY\\n``, the ``Wechatpay-*`` headers set, and a callback's
resource encrypted with AES-256-GCM under the API v3 key: so the SDK's real verification and
decryption run against it. Orders (Native, H5 and JSAPI), closes and refunds are kept in memory.

It also stands in for WeChat's web OAuth (``snsapi_base``): ``/connect/oauth2/authorize``
sends the browser straight back to ``redirect_uri`` with a new code and the state, as WeChat
does for a silent scope, and ``/sns/oauth2/access_token`` exchanges a code once for the openid
(``oauth_openid``) given the app id and its AppSecret (``APP_SECRET``), answering WeChat's
``errcode`` for a used (40163) or unknown (40029) code and a wrong secret (40125).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
CERT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
APIV3_KEY = "0123456789abcdef0123456789abcdef"
APP_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
OAUTH_AUTHORIZE = "/connect/oauth2/authorize"
OAUTH_TOKEN = "/sns/oauth2/access_token"
BILL_FILE = "/v3/billdownload/file"
TRADE_BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
)


def trade_bill(lines: list[tuple[str, str, int]]) -> str:
    """A trade bill's CSV as WeChat Pay writes it (every data field prefixed with a
    backtick, a summary at the end) of ``(kind, our reference, fen)`` lines, kind
    ``payment`` or ``refund``."""

    def yuan(fen: int) -> str:
        return f"{fen // 100}.{fen % 100:02d}"

    rows = [TRADE_BILL_HEADER]
    paid = refunded = 0
    for n, (kind, reference, fen) in enumerate(lines):
        wx = f"4200{n:024d}"
        if kind == "payment":
            paid += fen
            cells = [wx, reference, "oUser", "NATIVE", "SUCCESS", "OTHERS", "CNY", yuan(fen)]
            cells += ["0.00", "0", "0", "0.00", "0.00", "", "", "订单", "", "0.00", "0.60%"]
            cells += [yuan(fen), "0.00", ""]
        else:
            refunded += fen
            cells = [wx, f"pay_{n}", "oUser", "NATIVE", "REFUND", "OTHERS", "CNY", "0.00"]
            cells += ["0.00", f"5030{n:024d}", reference, yuan(fen), "0.00", "ORIGINAL"]
            cells += ["SUCCESS", "订单", "", "0.00", "0.60%", "0.00", yuan(fen), ""]
        stamp = "2026-12-05 10:00:00"
        rows.append(",".join("`" + c for c in [stamp, APPID, MCHID, "0", "", *cells]))
    rows.append(
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
    )
    rows.append(
        ",".join(
            "`" + c
            for c in [
                str(len(lines)),
                yuan(paid),
                yuan(refunded),
                "0.00",
                "0.00",
                yuan(paid),
                yuan(refunded),
            ]
        )
    )
    return "\r\n".join(rows) + "\r\n"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: rsa.RSAPrivateKey, text: str) -> str:
    raw = key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


@dataclass
class KeySet:
    """A merchant's keys as the merchant platform hands them out, and WeChat's own."""

    merchant: rsa.RSAPrivateKey
    platform: rsa.RSAPrivateKey
    platform_id: str
    apiv3_key: str = APIV3_KEY

    def fields(self) -> dict[str, str]:
        return {
            "mchid": MCHID,
            "appid": APPID,
            "apiv3_key": self.apiv3_key,
            "private_key": private_pem(self.merchant),
            "cert_serial": CERT_SERIAL,
            "platform_public_key": public_pem(self.platform),
            "platform_public_key_id": self.platform_id,
        }


def key_set(platform_id: str = "PUB_KEY_ID_0119000001") -> KeySet:
    return KeySet(new_key(), new_key(), platform_id)


@dataclass
class FakeWechatPay:
    keys: KeySet
    base_url: str = ""
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    refund_status: str = "SUCCESS"
    # (HTTP status, error code) the refund API answers instead of taking a refund
    refund_refusal: tuple[int, str] | None = None
    # merchant transfers (商家转账): bills by out_bill_no; the state a new bill to an openid
    # takes (default SUCCESS; WAIT_USER_CONFIRM or PROCESSING stay open, FAIL fails)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # trade bills by day (``bill_date``): the CSV WeChat Pay would give (see ``trade_bill``)
    bills: dict[str, str] = field(default_factory=dict)
    transfer_states: dict[str, str] = field(default_factory=dict)
    # WeChat's web OAuth: the openid the next authorization stands for; codes made (code ->
    # openid) and those exchanged already
    oauth_openid: str = "o_jsapi_payer_0001"
    oauth_codes: dict[str, str] = field(default_factory=dict)
    oauth_used: set[str] = field(default_factory=set)
    oauth_exchanges: list[str] = field(default_factory=list)
    oauth_snapshot: bool = False  # WeChat opened the page in 快照页 mode (a virtual openid)

    # -- WeChat's web OAuth --------------------------------------------------------------------

    def authorize(self, query: str) -> tuple[int, str]:
        """The answer to the authorize address: (302, where to) or (400, why)."""
        asked = {k: v[0] for k, v in parse_qs(query).items()}
        if asked.get("appid") != APPID or asked.get("scope") != "snsapi_base":
            return 400, "appid or scope"
        if asked.get("response_type") != "code" or not asked.get("redirect_uri"):
            return 400, "response_type or redirect_uri"
        code = "081" + secrets.token_hex(14)
        self.oauth_codes[code] = self.oauth_openid
        back = urlencode({"code": code, "state": asked.get("state", "")})
        return 302, f"{asked['redirect_uri']}?{back}"

    def access_token(self, query: str) -> dict[str, Any]:
        asked = {k: v[0] for k, v in parse_qs(query).items()}
        code = asked.get("code", "")
        self.oauth_exchanges.append(code)
        if asked.get("appid") != APPID:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if asked.get("secret") != APP_SECRET:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if asked.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if code in self.oauth_used:
            return {"errcode": 40163, "errmsg": "code been used"}
        openid = self.oauth_codes.get(code)
        if openid is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self.oauth_used.add(code)
        return {
            "access_token": secrets.token_hex(20),
            "expires_in": 7200,
            "refresh_token": secrets.token_hex(20),
            "openid": openid,
            "scope": "snsapi_base",
            "is_snapshotuser": 1 if self.oauth_snapshot else 0,
        }

    # -- what WeChat Pay signs -----------------------------------------------------------------

    def signed_headers(self, body: str, *, keys: KeySet | None = None) -> dict[str, str]:
        keys = keys or self.keys
        stamp, nonce = str(int(time.time())), secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sign(keys.platform, f"{stamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": keys.platform_id,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def callback(
        self,
        resource: dict[str, Any],
        *,
        event_type: str = "TRANSACTION.SUCCESS",
        keys: KeySet | None = None,
        stamp: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A callback as WeChat Pay posts it: the resource encrypted, the whole signed."""
        keys = keys or self.keys
        nonce = secrets.token_hex(6)  # 12 characters, used as bytes, as WeChat Pay does
        associated = "transaction" if event_type.startswith("TRANSACTION") else "refund"
        sealed = AESGCM(keys.apiv3_key.encode()).encrypt(
            nonce.encode(), json.dumps(resource).encode(), associated.encode()
        )
        envelope = {
            "id": f"EV-{secrets.token_hex(8)}",
            "create_time": datetime.now(UTC).isoformat(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": associated,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(sealed).decode(),
                "associated_data": associated,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False)
        headers = self.signed_headers(body, keys=keys)
        if stamp is not None:
            headers["Wechatpay-Timestamp"] = str(stamp)
            headers["Wechatpay-Signature"] = sign(
                keys.platform, f"{stamp}\n{headers['Wechatpay-Nonce']}\n{body}\n"
            )
        return headers, body.encode()

    def pay(
        self, out_trade_no: str, *, total: int | None = None, currency: str = "CNY"
    ) -> dict[str, Any]:
        """The payer pays: the order is SUCCESS; the transaction as a callback carries it."""
        order = self.orders[out_trade_no]
        order["trade_state"] = "SUCCESS"
        order["transaction_id"] = "4200" + secrets.token_hex(12)
        order["success_time"] = datetime.now(UTC).isoformat(timespec="seconds")
        return self.transaction(out_trade_no, total=total, currency=currency)

    def transaction(
        self, out_trade_no: str, *, total: int | None = None, currency: str = "CNY"
    ) -> dict[str, Any]:
        order = self.orders[out_trade_no]
        amount = order["amount"]["total"] if total is None else total
        found = {
            "mchid": MCHID,
            "appid": APPID,
            "out_trade_no": out_trade_no,
            "trade_state": order["trade_state"],
            "trade_state_desc": order["trade_state"],
            "trade_type": order.get("trade_type", "NATIVE"),
            "amount": {"total": amount, "payer_total": amount, "currency": currency},
        }
        if order.get("payer"):
            found["payer"] = order["payer"]
        if order.get("transaction_id"):
            found["transaction_id"] = order["transaction_id"]
            found["success_time"] = order["success_time"]
        return found

    # -- the API -------------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, body: str, auth: str
    ) -> tuple[int, dict[str, Any] | None]:
        self.requests.append((method, path))
        if not self._authorized(method, path, body, auth):
            return 401, {"code": "SIGN_ERROR", "message": "签名错误"}
        data = json.loads(body) if body else {}
        kinds = ("/v3/pay/transactions/native", "/v3/pay/transactions/h5")
        if method == "POST" and path in (*kinds, "/v3/pay/transactions/jsapi"):
            if data.get("mchid") != MCHID or data.get("appid") != APPID:
                return 400, {"code": "PARAM_ERROR", "message": "mchid与appid不匹配"}
            no = data["out_trade_no"]
            kind = path.rsplit("/", 1)[-1].upper()
            if kind == "JSAPI":
                openid = (data.get("payer") or {}).get("openid")
                if not isinstance(openid, str) or not openid:
                    return 400, {"code": "PARAM_ERROR", "message": "缺少参数payer.openid"}
            self.orders.setdefault(
                no,
                {
                    "amount": data["amount"],
                    "trade_state": "NOTPAY",
                    "trade_type": kind,
                    "payer": data.get("payer"),
                },
            )
            if kind == "JSAPI":
                order = self.orders[no]
                order.setdefault("prepay_id", "wx" + secrets.token_hex(15))
                return 200, {"prepay_id": order["prepay_id"]}
            if path.endswith("native"):
                return 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={no[-8:]}"}
            return 200, {"h5_url": f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?p={no}"}
        found = re.match(r"^/v3/pay/transactions/out-trade-no/([^/?]+)(/close)?(\?.*)?$", path)
        if found:
            no, close = found.group(1), found.group(2)
            order = self.orders.get(no)
            if order is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            if close:
                if order["trade_state"] == "SUCCESS":
                    return 400, {"code": "ORDERPAID", "message": "订单已支付"}
                order["trade_state"] = "CLOSED"
                return 204, None
            return 200, self.transaction(no)
        if method == "POST" and path == "/v3/refund/domestic/refunds":
            order = self.orders.get(data.get("out_trade_no", ""))
            if order is None or order["trade_state"] not in ("SUCCESS", "REFUND"):
                return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
            if self.refund_refusal is not None:
                status, code = self.refund_refusal
                return status, {"code": code, "message": "退款被拒绝"}
            amount = data["amount"]
            taken = sum(
                r["amount"]["refund"]
                for r in self.refunds.values()
                # a closed refund gives its amount back to what may still be refunded
                if r["out_trade_no"] == data["out_trade_no"] and r["status"] != "CLOSED"
            )
            if data["out_refund_no"] in self.refunds:
                return 200, self.refunds[data["out_refund_no"]]
            if (
                amount["total"] != order["amount"]["total"]
                or taken + amount["refund"] > amount["total"]
            ):
                return 400, {"code": "INVALID_REQUEST", "message": "退款金额超过订单金额"}
            refund = {
                "refund_id": "5030" + secrets.token_hex(12),
                "out_refund_no": data["out_refund_no"],
                "out_trade_no": data["out_trade_no"],
                "status": self.refund_status,
                "amount": {"refund": amount["refund"], "total": amount["total"], "currency": "CNY"},
            }
            self.refunds[data["out_refund_no"]] = refund
            order["trade_state"] = "REFUND"
            return 200, refund
        found = re.match(r"^/v3/bill/tradebill\?bill_date=([0-9-]+)&bill_type=ALL", path)
        if found:
            text = self.bills.get(found.group(1))
            if text is None:
                return 400, {"code": "NO_STATEMENT_EXIST", "message": "账单文件不存在"}
            return 200, {
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(text.encode()).hexdigest(),
                "download_url": f"{self.base_url}{BILL_FILE}?token={found.group(1)}",
            }
        if method == "POST" and path == "/v3/fund-app/mch-transfer/transfer-bills":
            return self._transfer(data)
        found = re.match(r"^/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/([^/?]+)$", path)
        if found:
            bill = self.transfers.get(found.group(1))
            if bill is None:
                return 404, {"code": "NOT_FOUND", "message": "记录不存在"}
            return 200, bill
        found = re.match(r"^/v3/refund/domestic/refunds/([^/?]+)$", path)
        if found and found.group(1) in self.refunds:
            return 200, self.refunds[found.group(1)]
        return 404, {"code": "NOT_FOUND", "message": "not found"}

    def bill_file(self, path: str, auth: str) -> tuple[int, bytes]:
        """A bill's file, gzipped, for a signed request of its download URL."""
        if not self._authorized("GET", path, "", auth):
            return 401, b""
        day = path.rsplit("token=", 1)[-1]
        text = self.bills.get(day)
        return (404, b"") if text is None else (200, gzip.compress(text.encode()))

    def _transfer(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A transfer bill made once per out_bill_no (asking again answers the first bill);
        the real name the SDK encrypted with the platform key is decrypted and kept."""
        no = data.get("out_bill_no", "")
        if no in self.transfers:
            return 200, self.transfers[no]
        if data.get("appid") != APPID or not re.match(r"^[A-Za-z0-9]{5,32}$", no):
            return 400, {"code": "PARAM_ERROR", "message": "参数错误"}
        name = None
        if data.get("user_name"):
            name = self.keys.platform.decrypt(
                base64.b64decode(data["user_name"]),
                padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None),
            ).decode()
        state = self.transfer_states.get(data["openid"], "SUCCESS")
        bill: dict[str, Any] = {
            "mch_id": MCHID,
            "out_bill_no": no,
            "transfer_bill_no": "1330000071100999991182020050700019480001"[:-6]
            + secrets.token_hex(3),
            "appid": APPID,
            "state": state,
            "transfer_amount": data["transfer_amount"],
            "openid": data["openid"],
            "user_name": name,
            "create_time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if state == "FAIL":
            bill["fail_reason"] = "PAYEE_ACCOUNT_ABNORMAL"
        if state == "WAIT_USER_CONFIRM":
            bill["package_info"] = "affffddafdfafddffda=="
        self.transfers[no] = bill
        return 200, bill

    def _authorized(self, method: str, path: str, body: str, auth: str) -> bool:
        if not auth.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return False
        parts = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        if parts.get("mchid") != MCHID or parts.get("serial_no") != CERT_SERIAL:
            return False
        text = f"{method}\n{path}\n{parts.get('timestamp')}\n{parts.get('nonce_str')}\n{body}\n"
        try:
            self.keys.merchant.public_key().verify(
                base64.b64decode(parts.get("signature", "")),
                text.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return False
        return True


@contextmanager
def serve(fake: FakeWechatPay) -> Iterator[FakeWechatPay]:
    class Handler(BaseHTTPRequestHandler):
        def _do(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            auth = self.headers.get("Authorization", "")
            where = urlsplit(self.path)
            if where.path == OAUTH_AUTHORIZE:  # WeChat's OAuth page: straight back, a code
                status, target = fake.authorize(where.query)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if where.path == OAUTH_TOKEN:  # the code's exchange: JSON, unsigned
                raw = json.dumps(fake.access_token(where.query)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                return
            if self.path.startswith(BILL_FILE):  # a bill's file: gzip, its answer unsigned
                code, raw = fake.bill_file(self.path, auth)
                self.send_response(code)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                return
            code, data = fake.answer(self.command, self.path, body, auth)
            text = "" if data is None else json.dumps(data, ensure_ascii=False)
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in fake.signed_headers(text).items():
                self.send_header(name, value)
            raw = text.encode()
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _do

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
