"""Paying inside WeChat (JSAPI) over real HTTP against the local fake of WeChat Pay and of
WeChat's web OAuth (``tests/wechat_fake.py``), on SQLite and PostgreSQL: inside WeChat's
browser the order page first learns the shopper's openid by OAuth (stored once; a state from
another session or used already, and a code used already, are refused and change nothing),
then opens a JSAPI payment through the SDK and carries ``getBrandWCPayRequest``'s parameters,
whose ``paySign`` verifies with the merchant's public key; WeChat Pay's callback completes the
payment; the QR code is the fallback; outside WeChat the page is as it was."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from pages_helpers import Browser, Site
from sqlalchemy import select
from test_consumer_pages import _add_to_cart
from test_pages import no_traceback, snapshot

from served import app_settings, served
from tokenmall.adapters.db.mall.tables import users, wechat_openids
from tokenmall.demo import living as demo
from wechat_fake import APP_SECRET, APPID, OAUTH_AUTHORIZE, FakeWechatPay, key_set, serve

TENANT = demo.TENANT_ID
PAGE = f"/{TENANT}/admin/payments"
WEBHOOK = f"/api/v1/payments/webhooks/wechat/{TENANT}"
IN_WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI"
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechatPay]:
    with serve(FakeWechatPay(key_set())) as running:
        yield running


@pytest.fixture(scope="module")
def site(db_url: str, fake: FakeWechatPay) -> Iterator[Site]:
    settings = app_settings(
        db_url,
        wechatpay_api_base=fake.base_url,
        wechat_oauth_authorize_url=fake.base_url + OAUTH_AUTHORIZE,
        wechat_oauth_api_base=fake.base_url,
    )
    with served(settings) as (base, app):
        demo.seed(app.state.database, base_url=base, days=2)
        admin = Browser(base)
        admin.login(TENANT, demo.ADMIN_EMAIL)
        fields = {**fake.keys.fields(), "app_secret": APP_SECRET}
        saved = admin.submit(PAGE, f"{PAGE}/wechat", {**fields, "enabled": "on", "mode": "native"})
        assert saved.status_code == 303, saved.text[:500]
        admin.close()
        yield Site(base, app)


def _shopper(site: Site, email: str, *, wechat: bool = True) -> Browser:
    shopper = Browser(site.base_url)
    shopper.login(TENANT, email)
    if wechat:
        shopper.http.headers["User-Agent"] = IN_WECHAT
    return shopper


def _unpaid_order(shopper: Browser) -> str:
    assert _add_to_cart(shopper).status_code == 303
    fields = shopper.form(f"/{TENANT}/checkout", f"/{TENANT}/checkout")
    went = shopper.post(f"/{TENANT}/checkout", {**fields, "payment_method": "money"})
    assert went.status_code == 303, went.text[:500]
    order_path = went.headers["location"].split("#")[0]
    assert order_path.startswith(f"/{TENANT}/orders/ord_")
    return order_path


def _to_wechat(shopper: Browser, order_path: str) -> str:
    """The order page sends the shopper to OAuth; our start sends them to WeChat: its URL."""
    first = shopper.get(order_path)
    assert first.status_code == 303, first.text[:300]
    start = first.headers["location"]
    assert start == f"/{TENANT}/wechat/oauth?next={order_path}"
    return _authorize_url(shopper, order_path)


def _authorize_url(shopper: Browser, order_path: str) -> str:
    went = shopper.get(f"/{TENANT}/wechat/oauth", params={"next": order_path})
    assert went.status_code == 303
    target = went.headers["location"]
    assert urlsplit(target).path == OAUTH_AUTHORIZE
    return target


def _back_from_wechat(authorize: str) -> str:
    """WeChat (the fake) sends the browser back: the path and query it comes back to."""
    answer = httpx.get(authorize, follow_redirects=False)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["location"])
    return f"{back.path}?{back.query}"


def _openids(site: Site, email: str) -> list[tuple[str, str, str]]:
    with site.app.state.database.read() as conn:
        rows = conn.execute(
            select(wechat_openids.c.app_id, wechat_openids.c.openid, wechat_openids.c.created_at)
            .select_from(wechat_openids.join(users, users.c.user_id == wechat_openids.c.user_id))
            .where(users.c.tenant_id == TENANT, users.c.email == email)
        )
        return [(r.app_id, r.openid, str(r.created_at)) for r in rows]


def _status(html: str) -> str:
    found = re.search(r'data-testid="order-status">([^<]+)<', html)
    assert found is not None
    return found.group(1)


def _bridge(html: str) -> dict[str, str]:
    found = re.search(
        r'<script type="application/json" id="wechat-pay-request">(.*?)</script>', html
    )
    assert found is not None, html[:2000]
    data = json.loads(found.group(1))
    assert isinstance(data, dict)
    return data


def _jsapi_orders(fake: FakeWechatPay) -> dict[str, dict[str, object]]:
    return {no: o for no, o in fake.orders.items() if o.get("trade_type") == "JSAPI"}


def test_inside_wechat_the_openid_is_learnt_once_then_jsapi_pays_and_the_callback_completes_it(
    site: Site, fake: FakeWechatPay
) -> None:
    email = demo.CONSUMERS[0][0]
    outside = _shopper(site, email, wechat=False)
    order_path = _unpaid_order(outside)
    # Outside WeChat nothing changes: the QR code, no JSAPI, no OAuth.
    plain = outside.get(order_path)
    assert plain.status_code == 200
    assert 'data-testid="wechat-qr"' in plain.text
    assert 'data-testid="wechat-jsapi"' not in plain.text
    outside.close()

    shopper = _shopper(site, email)
    fake.oauth_openid = "o_jsapi_payer_li_na"
    authorize = _to_wechat(shopper, order_path)
    asked = parse_qs(urlsplit(authorize).query)
    assert authorize.endswith("#wechat_redirect")
    assert asked["appid"] == [APPID]
    assert asked["scope"] == ["snsapi_base"]
    assert asked["response_type"] == ["code"]
    assert asked["redirect_uri"] == [f"{site.base_url}/{TENANT}/wechat/oauth/back"]
    came = shopper.get(_back_from_wechat(authorize))
    assert came.status_code == 303, came.text[:500]
    assert came.headers["location"] == order_path
    stored = _openids(site, email)
    assert [(a, o) for a, o, _ in stored] == [(APPID, "o_jsapi_payer_li_na")]

    # A second round trip with the same WeChat account stores nothing new.
    again = shopper.get(_back_from_wechat(_authorize_url(shopper, order_path)))
    assert again.status_code == 303
    assert _openids(site, email) == stored

    # The page offers 微信支付 inside WeChat; the JSAPI order names the payer.
    page = shopper.get(order_path)
    assert page.status_code == 200
    assert 'data-testid="wechat-jsapi-start"' in page.text
    assert "微信内支付" in page.text
    assert "Pay in WeChat" in shopper.get(order_path + "?lang=en").text
    shopper.get(order_path + "?lang=zh_CN")
    before = set(_jsapi_orders(fake))
    action = f"{order_path}/pay/jsapi"
    opened = shopper.submit(order_path, action, {})
    assert opened.status_code == 303, opened.text[:500]
    assert opened.headers["location"] == f"{order_path}#jsapi"
    (out_trade_no,) = set(_jsapi_orders(fake)) - before
    made = fake.orders[out_trade_no]
    assert made["payer"] == {"openid": "o_jsapi_payer_li_na"}

    # The page carries the bridge's parameters, signed with the merchant's key.
    shown = shopper.get(order_path)
    request = _bridge(shown.text)
    assert set(request) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert request["appId"] == APPID
    assert request["package"] == f"prepay_id={made['prepay_id']}"
    assert request["signType"] == "RSA"
    assert request["timeStamp"].isdigit()
    assert abs(int(request["timeStamp"]) - int(time.time())) < 600
    assert re.fullmatch(r"[0-9a-f]{32}", request["nonceStr"])
    signed = "".join(
        f"{request[k]}\n" for k in ("appId", "timeStamp", "nonceStr", "package")
    ).encode()
    fake.keys.merchant.public_key().verify(
        base64.b64decode(request["paySign"]), signed, padding.PKCS1v15(), hashes.SHA256()
    )
    assert '<script src="/-/static/wechat_pay.js" defer></script>' in shown.text
    # Asking again (the page's form key is another) reuses the open JSAPI payment: no
    # second order at WeChat Pay.
    fields = shopper.form(order_path, f"{order_path}/pay/qr")
    assert shopper.post(action, fields).status_code == 303
    assert set(_jsapi_orders(fake)) - before == {out_trade_no}

    # The shopper pays in WeChat; WeChat Pay's callback completes the payment, once.
    headers, body = fake.callback(fake.pay(out_trade_no))
    assert fake.transaction(out_trade_no)["trade_type"] == "JSAPI"
    taken = httpx.post(site.base_url + WEBHOOK, content=body, headers=headers)
    assert taken.status_code == 204, taken.text
    paid = shopper.get(order_path)
    assert _status(paid.text) == "已付款"
    assert 'data-testid="wechat-jsapi"' not in paid.text
    replayed = httpx.post(site.base_url + WEBHOOK, content=body, headers=headers)
    assert replayed.status_code == 204
    assert _status(shopper.get(order_path).text) == "已付款"
    shopper.close()


def test_a_foreign_or_used_state_and_a_used_code_are_refused_and_change_nothing(
    site: Site, fake: FakeWechatPay
) -> None:
    email, other_email = demo.CONSUMERS[1][0], demo.CONSUMERS[2][0]
    shopper = _shopper(site, email)
    order_path = _unpaid_order(shopper)
    back = _back_from_wechat(_to_wechat(shopper, order_path))
    other = _shopper(site, other_email)
    before, exchanges = snapshot(site), list(fake.oauth_exchanges)

    # The same way back in another member's session: not its state.
    refused = other.get(back)
    assert refused.status_code == 403
    assert 'data-testid="wechat-oauth-failed"' in refused.text
    no_traceback(refused)
    # A state that is not the one given: refused before WeChat is asked, and used up.
    forged = back.replace("state=", "state=0")
    refused = shopper.get(forged)
    assert refused.status_code == 403
    assert "微信授权失败" in refused.text
    assert f'href="{order_path}?wx=skip#pay"' in refused.text
    assert shopper.get(back).status_code == 403  # the state was used up by the refusal
    assert snapshot(site) == before
    assert fake.oauth_exchanges == exchanges
    assert _openids(site, email) == []

    # A fresh round trip works; its way back replayed is refused (the state is used once).
    back = _back_from_wechat(_authorize_url(shopper, order_path))
    code = parse_qs(urlsplit(back).query)["code"][0]
    assert shopper.get(back).status_code == 303
    stored = _openids(site, email)
    assert len(stored) == 1
    before = snapshot(site)
    assert shopper.get(back).status_code == 403
    # The used code with a new, good state: WeChat refuses it (40163), nothing changes.
    fresh = parse_qs(urlsplit(_authorize_url(shopper, order_path)).query)["state"][0]
    used = shopper.get(f"/{TENANT}/wechat/oauth/back", params={"code": code, "state": fresh})
    assert used.status_code == 409
    assert 'data-field="code"' in used.text
    assert "授权码已被使用" in used.text
    english = shopper.get(f"/{TENANT}/wechat/oauth/back?lang=en&state=x&code=y")
    assert english.status_code == 403
    assert "WeChat sign-in failed" in english.text
    assert snapshot(site) == before
    assert _openids(site, email) == stored
    shopper.close()
    other.close()


def test_the_qr_code_is_the_fallback_when_the_bridge_is_missing_or_cancelled(
    site: Site, fake: FakeWechatPay
) -> None:
    email = demo.CONSUMERS[3][0]
    shopper = _shopper(site, email)
    natives = {no for no, o in fake.orders.items() if o.get("trade_type") == "NATIVE"}
    order_path = _unpaid_order(shopper)
    # WeChat did not say who the shopper is: with ?wx=skip the page offers the QR code only.
    skipped = shopper.get(order_path + "?wx=skip")
    assert skipped.status_code == 200
    assert 'data-testid="wechat-jsapi-unknown"' in skipped.text
    assert 'data-testid="wechat-jsapi-start"' not in skipped.text
    fake.oauth_openid = "o_jsapi_payer_liu_yang"
    assert shopper.get(_back_from_wechat(_to_wechat(shopper, order_path))).status_code == 303
    assert shopper.submit(order_path, f"{order_path}/pay/jsapi", {}).status_code == 303
    page = shopper.get(order_path).text
    # The fallback is on the page, hidden until the script shows it (no bridge, or cancelled).
    assert re.search(r'data-testid="wechat-fallback" hidden>', page)
    script = shopper.get("/-/static/wechat_pay.js")
    assert script.status_code == 200
    for word in ("getBrandWCPayRequest", "WeixinJSBridgeReady", "get_brand_wcpay_request:ok"):
        assert word in script.text
    went = shopper.submit(order_path, f"{order_path}/pay/qr", {})
    assert went.status_code == 303, went.text[:500]
    assert went.headers["location"] == f"{order_path}?wx=skip#pay"
    qr = shopper.get(order_path + "?wx=skip")
    assert 'data-testid="wechat-qr"' in qr.text
    assert "<svg" in qr.text
    # The checkout's Native payment is still open: its QR code is the one shown, not a second.
    (native,) = {no for no, o in fake.orders.items() if o.get("trade_type") == "NATIVE"} - natives
    # The shopper long-presses the QR code and pays: the order is paid.
    fake.pay(native)
    assert _status(shopper.get(order_path).text) == "已付款"
    shopper.close()


def test_without_the_app_secret_the_page_inside_wechat_is_as_outside(
    site: Site, fake: FakeWechatPay
) -> None:
    admin = Browser(site.base_url)
    admin.login(TENANT, demo.ADMIN_EMAIL)
    saved = admin.submit(
        PAGE, f"{PAGE}/wechat", {**fake.keys.fields(), "enabled": "on", "mode": "h5"}
    )
    assert saved.status_code == 303, saved.text[:500]
    admin.close()
    shopper = _shopper(site, demo.CONSUMERS[4][0])
    made = set(fake.orders)
    # Inside WeChat an H5 payment's page does not open: checkout lands on the order.
    order_path = _unpaid_order(shopper)
    (h5,) = set(fake.orders) - made
    assert fake.orders[h5]["trade_type"] == "H5"
    page = shopper.get(order_path)
    assert page.status_code == 200  # no OAuth round trip
    assert 'data-testid="wechat-jsapi"' not in page.text
    before = snapshot(site)
    fields = shopper.form(order_path, f"{order_path}/pay")
    for way in ("jsapi", "qr"):
        refused = shopper.post(f"{order_path}/pay/{way}", fields)
        assert refused.status_code == 409
        no_traceback(refused)
    assert snapshot(site) == before
    shopper.close()
