"""An Alipay merchant's configuration and the SDK client built from it.

``AlipayConfig`` is what a tenant enters (and what is stored encrypted for it): the app id of
its application on Alipay's open platform, the application's private key (it signs our
requests), Alipay's public key (it checks Alipay's answers and notifies), the seller id
(the merchant's ``2088…`` partner id: notifies for another seller are refused) and the gateway
URL (production, Alipay's sandbox environment, or a local fake in tests).

Keys are accepted as PEM or as the bare base64 the open platform's key tool shows (PKCS#1 or
PKCS#8 DER). ``alipay_client`` builds the ``python-alipay-sdk`` client that signs (RSA2,
SHA256withRSA) and verifies; a key that does not load is an ``AlipayConfigError`` naming the
field, raised at construction, never at checkout.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import OpenSSL
from alipay import AliPay, DCAliPay
from alipay.utils import AliPayConfig
from Cryptodome.PublicKey import RSA

from tokenmall.domain.errors import Invalid

PRODUCTION_GATEWAY = "https://openapi.alipay.com/gateway.do"
SANDBOX_GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
_APP_ID = re.compile(r"^[0-9]{6,32}$")
_SELLER_ID = re.compile(r"^2088[0-9]{12}$")
_TIMEOUT_EXPRESS = re.compile(r"^[1-9][0-9]{0,3}[mhd]$")


class AlipayConfigError(Invalid):
    """An Alipay configuration that cannot work; ``field`` names the value at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class AlipayConfig:
    """One merchant's Alipay settings (the keys are secrets: never shown back)."""

    app_id: str
    app_private_key: str
    alipay_public_key: str
    seller_id: str
    gateway_url: str = PRODUCTION_GATEWAY
    timeout_seconds: float = 15.0  # float-ok: time
    timeout_express: str = "30m"  # how long a payment stays payable at Alipay
    # Public-key certificate mode (公钥证书模式; Alipay requires it for transfers): the three
    # .crt files of the open platform, PEM. When set, Alipay's public key is the one in
    # ``alipay_cert`` and ``alipay_public_key`` may be left empty.
    app_cert: str = ""
    alipay_cert: str = ""
    alipay_root_cert: str = ""

    def __repr__(self) -> str:  # the keys stay out of logs and tracebacks
        return (
            f"AlipayConfig(app_id={self.app_id!r}, seller_id={self.seller_id!r}, "
            f"gateway_url={self.gateway_url!r})"
        )

    @property
    def cert_mode(self) -> bool:
        return bool(self.app_cert or self.alipay_cert or self.alipay_root_cert)

    @property
    def is_sandbox(self) -> bool:
        return self.gateway_url == SANDBOX_GATEWAY

    def check(self) -> None:
        """Refuse values that cannot work, naming the field (keys are checked by loading)."""
        if not _APP_ID.match(self.app_id):
            raise AlipayConfigError("app_id must be the application's digits", "app_id")
        if not _SELLER_ID.match(self.seller_id):
            raise AlipayConfigError(
                "seller_id must be the merchant's 16-digit partner id starting 2088", "seller_id"
            )
        url = urlsplit(self.gateway_url)
        if url.scheme not in ("https", "http") or not url.netloc:
            raise AlipayConfigError("gateway_url must be an https URL", "gateway_url")
        if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise AlipayConfigError("gateway_url must use https", "gateway_url")
        if not _TIMEOUT_EXPRESS.match(self.timeout_express):
            raise AlipayConfigError(
                "timeout_express must be minutes, hours or days such as 30m", "timeout_express"
            )
        if not 0 < self.timeout_seconds <= 120:
            raise AlipayConfigError("timeout_seconds must be in (0, 120]", "timeout_seconds")
        if self.cert_mode:
            for field in ("app_cert", "alipay_cert", "alipay_root_cert"):
                if "-----BEGIN CERTIFICATE-----" not in getattr(self, field):
                    raise AlipayConfigError(
                        f"{field} must be the PEM certificate (.crt) of the open platform; "
                        "certificate mode needs all three",
                        field,
                    )


def key_material(text: str, field: str) -> str | bytes:
    """A key as the SDK's loader takes it: PEM text as is, bare base64 as its DER bytes."""
    stripped = text.strip()
    if not stripped:
        raise AlipayConfigError(f"{field} is empty", field)
    if stripped.startswith("-----BEGIN"):
        return stripped
    try:
        return base64.b64decode("".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        raise AlipayConfigError(f"{field} is neither PEM nor base64", field) from None


def _public_key(text: str, field: str) -> str | bytes:
    material = key_material(text, field)
    try:
        key = RSA.import_key(material)
    except (ValueError, IndexError, TypeError):
        raise AlipayConfigError(f"{field} is not an RSA key (PEM or base64 DER)", field) from None
    if key.has_private():
        raise AlipayConfigError(f"{field} must be Alipay's public key, not a private key", field)
    if key.size_in_bits() < 2048:
        raise AlipayConfigError(f"{field} must be an RSA key of at least 2048 bits", field)
    return material


def _cert_key(config: AlipayConfig, field: str) -> Any:
    try:
        key = RSA.import_key(_public_key_pem(getattr(config, field)))
    except (ValueError, IndexError, TypeError, OpenSSL.crypto.Error):
        raise AlipayConfigError(f"{field} is not a certificate of an RSA key", field) from None
    if key.size_in_bits() < 2048:
        raise AlipayConfigError(f"{field} must hold an RSA key of at least 2048 bits", field)
    return key


def alipay_client(config: AlipayConfig) -> Any:
    """The SDK client for ``config`` (``AliPay``, or ``DCAliPay`` in certificate mode), pointed
    at its gateway URL; keys and certificates checked now. Loading the private key (its
    consistency check) takes a good part of a second: build a tenant's gateway once and keep
    it while its configuration is unchanged."""
    config.check()
    private = key_material(config.app_private_key, "app_private_key")
    if config.cert_mode:
        app_key = _cert_key(config, "app_cert")
        _cert_key(config, "alipay_cert")
    else:
        public = _public_key(config.alipay_public_key, "alipay_public_key")
    # Alipay's key is good by now: a failure to build the client is the private key's.
    try:
        if config.cert_mode:
            client = DCAliPay(
                appid=config.app_id,
                app_private_key_string=private,
                app_public_key_cert_string=config.app_cert.strip(),
                alipay_public_key_cert_string=config.alipay_cert.strip(),
                alipay_root_cert_string=config.alipay_root_cert.strip(),
                sign_type="RSA2",
            )
        else:
            client = AliPay(
                appid=config.app_id,
                app_private_key_string=private,
                alipay_public_key_string=public,
                sign_type="RSA2",
            )
    except (ValueError, IndexError, TypeError):
        client = None
    if client is None or not client.app_private_key.has_private():
        raise AlipayConfigError(
            "app_private_key must be the application's RSA private key (PEM or base64)",
            "app_private_key",
        )
    if client.app_private_key.size_in_bits() < 2048:
        raise AlipayConfigError(
            "app_private_key must be an RSA key of at least 2048 bits", "app_private_key"
        )
    if config.cert_mode:
        if app_key != client.app_private_key.public_key():
            raise AlipayConfigError(
                "app_cert is not the certificate of app_private_key", "app_cert"
            )
        try:
            sn = client.alipay_root_cert_sn if client.app_cert_sn else None
        except (ValueError, OpenSSL.crypto.Error):
            sn = None
        if not sn:
            raise AlipayConfigError(
                "alipay_root_cert holds no RSA certificate of Alipay's root chain",
                "alipay_root_cert",
            )
    client._config = AliPayConfig(timeout=config.timeout_seconds)
    # The SDK knows only its two built-in gateways (its ``debug`` flag); every request it
    # sends goes to ``_gateway``, so the configured URL (the sandbox, a fake) is set there.
    client._gateway = config.gateway_url
    return client


def _public_key_pem(cert: str) -> str:
    loaded = OpenSSL.crypto.load_certificate(OpenSSL.crypto.FILETYPE_PEM, cert.strip().encode())
    pem: bytes = OpenSSL.crypto.dump_publickey(OpenSSL.crypto.FILETYPE_PEM, loaded.get_pubkey())
    return pem.decode()
