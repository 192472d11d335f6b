"""A tenant's WeChat Pay v3 key set: read, checked and turned into the SDK's client.

A key set is what the merchant platform (商户平台) gives a merchant: the merchant id (mchid),
the app id bound to it, the API v3 key (32 characters, the AES-256-GCM key of callbacks), the
merchant's API private key (PEM) and its certificate's serial number, and how WeChat Pay
signs its answers: the platform public key (微信支付公钥) with its id, or a platform
certificate (平台证书); optionally the app's AppSecret (``app_secret``, for the shopper's
openid by OAuth inside WeChat), sealed and masked like the keys. ``check`` refuses a set whose
parts do not fit, naming the field, before anything is stored; the SDK client is made only
from a checked set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from tokenmall.domain.mall.gateway import ChannelError

API_BASE = "https://api.mch.weixin.qq.com"
TIMEOUT_SECONDS = (5, 15)  # connect, read

_MCHID = re.compile(r"^[0-9]{8,12}$")
_APPID = re.compile(r"^[A-Za-z0-9_]{6,32}$")
_SERIAL = re.compile(r"^[0-9A-Fa-f]{8,64}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_]{4,64}$")
_APP_SECRET = re.compile(r"^[A-Za-z0-9]{16,64}$")

SECRET_FIELDS = ("apiv3_key", "private_key", "app_secret")


@dataclass(frozen=True, slots=True)
class WechatKeys:
    mchid: str
    appid: str
    apiv3_key: str
    private_key: str  # PEM
    cert_serial: str  # the merchant API certificate's serial number
    platform_public_key: str | None = None  # PEM
    platform_public_key_id: str | None = None
    platform_certificate: str | None = None  # PEM
    app_secret: str | None = None  # the app's AppSecret (OAuth), never shown

    def public(self) -> dict[str, Any]:
        """What may be shown back: ids and serials, never a key."""
        return {
            "mchid": self.mchid,
            "appid": self.appid,
            "cert_serial": self.cert_serial,
            "platform_public_key_id": self.platform_public_key_id,
            "platform_certificate_serial": self.platform_serial()
            if self.platform_certificate
            else None,
            "apiv3_key": mask(self.apiv3_key),
            "private_key": "****",
            "app_secret": None if self.app_secret is None else mask(self.app_secret),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "mchid": self.mchid,
            "appid": self.appid,
            "apiv3_key": self.apiv3_key,
            "private_key": self.private_key,
            "cert_serial": self.cert_serial,
            "platform_public_key": self.platform_public_key,
            "platform_public_key_id": self.platform_public_key_id,
            "platform_certificate": self.platform_certificate,
            "app_secret": self.app_secret,
        }

    def platform_serial(self) -> str:
        """The id WeChat Pay names in ``Wechatpay-Serial`` when it signs with this set's
        platform key: the public key's id, or the certificate's serial in upper-case hex."""
        if self.platform_public_key_id:
            return self.platform_public_key_id
        assert self.platform_certificate is not None
        cert = x509.load_pem_x509_certificate(self.platform_certificate.encode())
        return format(cert.serial_number, "X")

    def platform_public_pem(self) -> str:
        if self.platform_public_key:
            return self.platform_public_key
        assert self.platform_certificate is not None
        cert = x509.load_pem_x509_certificate(self.platform_certificate.encode())
        return (
            cert.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


def mask(text: str) -> str:
    return "****" + text[-4:] if len(text) > 8 else "****"


def _text(data: dict[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ChannelError(f"{name} is required", name)
    value = value.strip()
    if pattern is not None and not pattern.match(value):
        raise ChannelError(f"{name} is malformed", name)
    return value


def _optional(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ChannelError(f"{name} must be a string", name)
    return value.strip()


def check(data: dict[str, Any]) -> WechatKeys:
    """A key set from its fields, every part checked (the PEMs parsed, the key sizes and the
    API v3 key's length); ``ChannelError`` naming the first field at fault."""
    apiv3 = _text(data, "apiv3_key")
    if len(apiv3.encode()) != 32:
        raise ChannelError("apiv3_key must be the 32-character API v3 key", "apiv3_key")
    private_pem = _text(data, "private_key")
    try:
        private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ChannelError(
            "private_key is not a PEM private key without a password (apiclient_key.pem)",
            "private_key",
        ) from None
    if not isinstance(private, RSAPrivateKey) or private.key_size < 2048:
        raise ChannelError("private_key must be an RSA key of 2048 bits or more", "private_key")
    public_pem = _optional(data, "platform_public_key")
    public_id = _optional(data, "platform_public_key_id")
    certificate = _optional(data, "platform_certificate")
    if public_pem is None and certificate is None:
        raise ChannelError(
            "give the platform public key (platform_public_key and platform_public_key_id) "
            "or the platform certificate",
            "platform_public_key",
        )
    if public_pem is not None:
        if public_id is None or not _KEY_ID.match(public_id):
            raise ChannelError(
                "platform_public_key_id is required with the platform public key (PUB_KEY_ID_…)",
                "platform_public_key_id",
            )
        try:
            public = serialization.load_pem_public_key(public_pem.encode())
        except (ValueError, TypeError):
            raise ChannelError(
                "platform_public_key is not a PEM public key", "platform_public_key"
            ) from None
        if not isinstance(public, RSAPublicKey):
            raise ChannelError("platform_public_key must be an RSA key", "platform_public_key")
    elif certificate is not None:
        try:
            x509.load_pem_x509_certificate(certificate.encode())
        except ValueError:
            raise ChannelError(
                "platform_certificate is not a PEM certificate", "platform_certificate"
            ) from None
    app_secret = _optional(data, "app_secret")
    if app_secret is not None and not _APP_SECRET.match(app_secret):
        raise ChannelError("app_secret is malformed (the app's AppSecret)", "app_secret")
    return WechatKeys(
        mchid=_text(data, "mchid", _MCHID),
        appid=_text(data, "appid", _APPID),
        apiv3_key=apiv3,
        private_key=private_pem,
        cert_serial=_text(data, "cert_serial", _SERIAL).upper(),
        platform_public_key=public_pem,
        platform_public_key_id=public_id if public_pem is not None else None,
        platform_certificate=certificate if public_pem is None else None,
        app_secret=app_secret,
    )


def client(keys: WechatKeys, *, notify_url: str, api_base: str = API_BASE) -> Any:
    """The SDK's client for ``keys``, its requests sent to ``api_base``.

    The platform's key is always handed over as a public key with its id (a certificate's
    public key under the certificate's serial), so the client never downloads certificates
    when it is made. The SDK keeps its host in ``_core._gate_way`` and offers no argument for
    it: it is set there so the tests' local fake (or a proxy) can stand in for WeChat Pay."""
    from wechatpayv3 import WeChatPay, WeChatPayType

    try:
        pay = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=keys.mchid,
            private_key=keys.private_key,
            cert_serial_no=keys.cert_serial,
            appid=keys.appid,
            apiv3_key=keys.apiv3_key,
            notify_url=notify_url,
            timeout=TIMEOUT_SECONDS,
            public_key=keys.platform_public_pem(),
            public_key_id=keys.platform_serial(),
        )
    except Exception as exc:  # the SDK raises bare Exceptions for unreadable keys
        raise ChannelError(f"the WeChat Pay keys cannot be loaded: {exc}") from None
    pay._core._gate_way = api_base.rstrip("/")
    return pay
