"""A local fake of WeChat Pay API v3: an HTTP server on 127.0.0.1 that behaves as WeChat Pay.

It checks each request's ``Authorization`` (``WECHATPAY2-SHA256-RSA2048``, the merchant's
RSA-SHA256 signature over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``) with the merchant's
public key, and signs each answer and each callback with its platform key (RSA-2048 made in the
test) over ``TIMESTAMP\\nNONCE\\nBODY\\n``, the ``Wechatpay-*`` headers set, and a callback's
resource encrypted with AES-256-GCM under the API v3 key: so the SDK's real verification and
decryption run against it. Orders, closes and refunds are kept in memory.
"""

from __future__ import annotations

import base64
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

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
CERT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
APIV3_KEY = "0123456789abcdef0123456789abcdef"


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
            "trade_type": "NATIVE",
            "amount": {"total": amount, "payer_total": amount, "currency": currency},
        }
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
        if method == "POST" and path in ("/v3/pay/transactions/native", "/v3/pay/transactions/h5"):
            if data.get("mchid") != MCHID or data.get("appid") != APPID:
                return 400, {"code": "PARAM_ERROR", "message": "mchid与appid不匹配"}
            no = data["out_trade_no"]
            self.orders.setdefault(no, {"amount": data["amount"], "trade_state": "NOTPAY"})
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
            amount = data["amount"]
            taken = sum(
                r["amount"]["refund"]
                for r in self.refunds.values()
                if r["out_trade_no"] == data["out_trade_no"]
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
        found = re.match(r"^/v3/refund/domestic/refunds/([^/?]+)$", path)
        if found and found.group(1) in self.refunds:
            return 200, self.refunds[found.group(1)]
        return 404, {"code": "NOT_FOUND", "message": "not found"}

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
            code, data = fake.answer(
                self.command, self.path, body, self.headers.get("Authorization", "")
            )
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
