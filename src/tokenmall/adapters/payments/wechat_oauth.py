"""WeChat web OAuth (网页授权, ``snsapi_base``): the shopper's openid under the shop's app.

Inside WeChat's browser the page sends the shopper to ``open.weixin.qq.com``'s
``/connect/oauth2/authorize`` with the app id, the address to come back to, ``scope=
snsapi_base`` (silent: no consent screen) and our ``state``; WeChat sends them back with a
``code``, which is exchanged once, server to server, at ``api.weixin.qq.com``'s
``/sns/oauth2/access_token`` with the app id and its AppSecret for the openid. A code is good
for one exchange within five minutes; WeChat answers a used or unknown one with an ``errcode``
(40163, 40029), a wrong AppSecret with 40125: each is read here into a ``ChannelError`` naming
what to fix. The access token that comes with the openid is not kept: ``snsapi_base``
grants nothing else. An openid WeChat marks as a snapshot user (``is_snapshotuser``, the
page opened in 快照页 mode) is not a real one and is refused.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from tokenmall.domain.mall.gateway import ChannelError

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
API_BASE = "https://api.weixin.qq.com"
TIMEOUT_SECONDS = (5, 10)  # connect, read
OPENID = re.compile(r"^[A-Za-z0-9_-]{6,128}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_ERRORS = {
    40029: ("WeChat refused the code: it is not valid (too old, or not for this app)", "code"),
    40163: ("WeChat refused the code: it was used already", "code"),
    41008: ("WeChat sent no code back", "code"),
    40125: ("WeChat refused the app_secret: check it in the console", "app_secret"),
    40013: ("WeChat refused the appid: check it in the console", "appid"),
}


class WechatOauth:
    """The ``WechatOauth`` port (``services/mall/wechat_openids.py``) over WeChat's hosts."""

    def __init__(self, authorize_url: str = AUTHORIZE_URL, api_base: str = API_BASE) -> None:
        self.authorize = authorize_url
        self.api_base = api_base.rstrip("/")

    def authorize_url(self, *, app_id: str, redirect_uri: str, state: str) -> str:
        """Where to send the shopper: the parameters in the order WeChat's documentation gives
        them, ``#wechat_redirect`` at the end."""
        query = urlencode(
            [
                ("appid", app_id),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", "snsapi_base"),
                ("state", state),
            ],
            quote_via=quote,
        )
        return f"{self.authorize}?{query}#wechat_redirect"

    def openid_of(self, *, app_id: str, app_secret: str, code: str) -> str:
        """The openid the ``code`` stands for, asked once; ``ChannelError`` otherwise."""
        import requests

        if not _CODE.match(code):
            raise ChannelError("the code from WeChat is malformed", "code")
        try:
            answer = requests.get(
                f"{self.api_base}/sns/oauth2/access_token",
                params={
                    "appid": app_id,
                    "secret": app_secret,
                    "code": code,
                    "grant_type": "authorization_code",
                },
                timeout=TIMEOUT_SECONDS,
            )
            data: Any = answer.json()
        except (requests.RequestException, ValueError):
            raise ChannelError("WeChat's sign-in cannot be reached now: try again") from None
        if not isinstance(data, dict):
            raise ChannelError("WeChat's sign-in answered something unreadable")
        errcode = data.get("errcode")
        if errcode not in (None, 0):
            known = _ERRORS.get(errcode) if isinstance(errcode, int) else None
            if known is None:
                raise ChannelError(f"WeChat refused the sign-in (errcode {errcode})", "code")
            raise ChannelError(*known)
        openid = data.get("openid")
        if not isinstance(openid, str) or not OPENID.match(openid):
            raise ChannelError("WeChat's OAuth answer has no valid openid", "code")
        if data.get("is_snapshotuser") == 1:
            raise ChannelError("WeChat opened the page as a snapshot: open it fully to pay", "code")
        return openid
