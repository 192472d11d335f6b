"""The OAuth adapter (``adapters/payments/wechat_oauth.py``) against the local fake of WeChat's
web OAuth: the authorize address as WeChat documents it, a code exchanged once for the openid,
and each of WeChat's refusals read into a ``ChannelError`` naming the field to fix."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tokenmall.adapters.payments.wechat_oauth import WechatOauth
from tokenmall.domain.mall.gateway import ChannelError
from wechat_fake import APP_SECRET, APPID, OAUTH_AUTHORIZE, FakeWechatPay, key_set, serve

BACK = "https://mall.example.com/wine/wechat/oauth/back"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechatPay]:
    with serve(FakeWechatPay(key_set())) as running:
        yield running


def _code(fake: FakeWechatPay, oauth: WechatOauth, state: str = "s0") -> str:
    went = httpx.get(
        oauth.authorize_url(app_id=APPID, redirect_uri=BACK, state=state), follow_redirects=False
    )
    assert went.status_code == 302
    back = parse_qs(urlsplit(went.headers["location"]).query)
    assert back["state"] == [state]
    return back["code"][0]


def test_the_authorize_address_is_as_wechat_documents_it() -> None:
    url = WechatOauth().authorize_url(app_id=APPID, redirect_uri=BACK, state="abc123")
    assert url == (
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wxd678efh567hg6787"
        "&redirect_uri=https%3A%2F%2Fmall.example.com%2Fwine%2Fwechat%2Foauth%2Fback"
        "&response_type=code&scope=snsapi_base&state=abc123#wechat_redirect"
    )


def test_a_code_gives_the_openid_once_and_refusals_name_the_field(fake: FakeWechatPay) -> None:
    oauth = WechatOauth(fake.base_url + OAUTH_AUTHORIZE, fake.base_url)
    fake.oauth_openid = "o_adapter_payer_01"
    code = _code(fake, oauth)
    assert oauth.openid_of(app_id=APPID, app_secret=APP_SECRET, code=code) == "o_adapter_payer_01"
    cases = [
        (code, APP_SECRET, "code", "used already"),
        ("0" * 32, APP_SECRET, "code", "not valid"),
        (_code(fake, oauth), "b" * 32, "app_secret", "app_secret"),
        ("bad code!", APP_SECRET, "code", "malformed"),
    ]
    for given, secret, field, said in cases:
        with pytest.raises(ChannelError) as refused:
            oauth.openid_of(app_id=APPID, app_secret=secret, code=given)
        assert refused.value.field == field
        assert said in str(refused.value)
    fake.oauth_snapshot = True
    try:
        with pytest.raises(ChannelError) as refused:
            oauth.openid_of(app_id=APPID, app_secret=APP_SECRET, code=_code(fake, oauth))
        assert "snapshot" in str(refused.value)
    finally:
        fake.oauth_snapshot = False
    down = WechatOauth(api_base="http://127.0.0.1:9")
    with pytest.raises(ChannelError) as refused:
        down.openid_of(app_id=APPID, app_secret=APP_SECRET, code="081abc")
    assert "cannot be reached" in str(refused.value)
