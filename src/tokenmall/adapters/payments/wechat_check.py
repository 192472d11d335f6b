"""WeChat Pay's "test connection": one signed query that proves a key set works both ways.

It asks WeChat Pay for an order that cannot exist. WeChat Pay answers ``404 ORDER_NOT_EXIST``
only to a request it could verify (the mchid, the merchant's private key and its serial), and
signs that answer with its platform key; the answer's signature is checked here with the SDK's
own ``rsa_verify`` against the configured platform key. Each way it can fail says which of the
fields to look at.
"""

from __future__ import annotations

import secrets

import requests
from wechatpayv3.utils import build_authorization, load_private_key, load_public_key, rsa_verify

from tokenmall.adapters.payments.wechat_keys import API_BASE, TIMEOUT_SECONDS, WechatKeys
from tokenmall.domain.mall.gateway import ChannelError

_SIGN_FIELDS = "mchid, cert_serial and private_key"


def check_connection(keys: WechatKeys, *, api_base: str = API_BASE) -> str:
    """What the check found when it all works; ``ChannelError`` naming the field otherwise."""
    probe = f"tmcheck{secrets.token_hex(8)}"
    path = f"/v3/pay/transactions/out-trade-no/{probe}?mchid={keys.mchid}"
    try:
        authorization = build_authorization(
            path, "GET", keys.mchid, keys.cert_serial, load_private_key(keys.private_key)
        )
        public_key = load_public_key(keys.platform_public_pem())
    except Exception:
        raise ChannelError("the keys cannot be loaded: check private_key", "private_key") from None
    try:
        answer = requests.get(
            api_base.rstrip("/") + path,
            headers={
                "Authorization": authorization,
                "Accept": "application/json",
                "Wechatpay-Serial": keys.platform_serial(),
            },
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise ChannelError(
            f"WeChat Pay is not reachable at {api_base} ({type(exc).__name__})", None
        ) from None
    try:
        said = answer.json()
    except ValueError:
        said = {}
    code = str(said.get("code", "")) if isinstance(said, dict) else ""
    if answer.status_code == 401 or code == "SIGN_ERROR":
        raise ChannelError(
            f"WeChat Pay refused the request's signature: check {_SIGN_FIELDS}", "private_key"
        )
    if code in ("MCH_NOT_EXISTS", "INVALID_REQUEST", "PARAM_ERROR") or answer.status_code == 403:
        raise ChannelError(
            f"WeChat Pay refused the merchant: {code or answer.status_code}", "mchid"
        )
    serial = answer.headers.get("Wechatpay-Serial", "")
    if serial != keys.platform_serial():
        raise ChannelError(
            f"WeChat Pay signed its answer with {serial or 'no key'}, not with the configured "
            f"platform key {keys.platform_serial()}: check platform_public_key_id",
            "platform_public_key_id",
        )
    if not rsa_verify(
        answer.headers.get("Wechatpay-Timestamp", ""),
        answer.headers.get("Wechatpay-Nonce", ""),
        answer.text,
        answer.headers.get("Wechatpay-Signature", ""),
        public_key,
    ):
        raise ChannelError(
            "WeChat Pay's answer does not verify with the configured platform key: check "
            "platform_public_key or platform_certificate",
            "platform_public_key",
        )
    if answer.status_code != 404 or code != "ORDER_NOT_EXIST":
        raise ChannelError(f"WeChat Pay answered unexpectedly: HTTP {answer.status_code} {code}")
    # The AppSecret is WeChat's (not WeChat Pay's): only whether it is there is said.
    secret = "app_secret present" if keys.app_secret else "no app_secret"
    return (
        f"WeChat Pay accepted merchant {keys.mchid}'s signature and its answer verified; {secret}"
    )
