"""The console's payment channels page and the order page's channels, over real HTTP against
the local fake of WeChat Pay (SQLite and PostgreSQL): an admin saves WeChat Pay's keys (bad
ones refused next to the field, nothing changed; good ones never shown again) and tests the
connection; a shopper chooses WeChat Pay on the order page, scans its QR code, and on coming
back sees the order paid (the page asked the channel)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from pages_helpers import Browser, Site, field_error
from test_consumer_pages import _add_to_cart
from test_pages import no_traceback, snapshot

from served import app_settings, served
from tokenmall.demo import living as demo
from wechat_fake import APIV3_KEY, FakeWechatPay, key_set, serve

TENANT = demo.TENANT_ID
PAGE = f"/{TENANT}/admin/payments"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechatPay]:
    with serve(FakeWechatPay(key_set())) as running:
        yield running


@pytest.fixture(scope="module")
def site(db_url: str, fake: FakeWechatPay) -> Iterator[Site]:
    with served(app_settings(db_url, wechatpay_api_base=fake.base_url)) as (base, app):
        demo.seed(app.state.database, base_url=base, days=2)
        yield Site(base, app)


def test_admin_saves_tests_and_never_sees_the_keys_then_a_shopper_pays_by_qr(
    site: Site, browser: Browser, another_browser: Browser, fake: FakeWechatPay
) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert "支付渠道" in page.text
    assert "微信支付" in page.text
    assert "Payment channels" in browser.get(PAGE + "?lang=en").text
    action = f"{PAGE}/wechat"
    good = fake.keys.fields()
    before = snapshot(site)
    for name, value in (("apiv3_key", "short"), ("mchid", "merchant"), ("private_key", "x")):
        answer = browser.submit(PAGE, action, {**good, name: value, "enabled": "on"})
        assert answer.status_code == 422, (name, answer.text[:500])
        assert field_error(answer.text, name), name
        no_traceback(answer)
    assert snapshot(site) == before
    saved = browser.submit(PAGE, action, {**good, "enabled": "on", "mode": "native"})
    assert saved.status_code == 303, saved.text[:500]
    shown = browser.get(PAGE).text
    assert "****" + APIV3_KEY[-4:] in shown
    assert APIV3_KEY not in shown
    assert good["private_key"].splitlines()[1] not in shown
    tested = browser.submit(PAGE, f"{action}/test", {})
    assert tested.status_code == 303
    assert 'data-testid="payments-tested"' in browser.get(tested.headers["location"]).text

    # A shopper checks out; the order page offers WeChat Pay and the sandbox.
    another_browser.login(TENANT, demo.CONSUMERS[0][0])
    assert _add_to_cart(another_browser).status_code == 303
    fields = another_browser.form(f"/{TENANT}/checkout", f"/{TENANT}/checkout")
    went = another_browser.post(f"/{TENANT}/checkout", {**fields, "payment_method": "money"})
    assert went.status_code == 303
    order_path = went.headers["location"].split("#")[0]
    assert order_path.startswith(f"/{TENANT}/orders/")
    unpaid = another_browser.get(order_path).text
    assert 'data-testid="wechat-qr"' in unpaid
    assert "<svg" in unpaid
    assert 'value="wechat"' in unpaid
    assert 'value="sandbox"' in unpaid
    # The shopper pays in WeChat and comes back before the callback: the page asks.
    (out_trade_no,) = list(fake.orders)[-1:]
    fake.pay(out_trade_no)
    back = another_browser.get(order_path).text
    status = re.search(r'data-testid="order-status">([^<]+)<', back)
    assert status is not None
    assert status.group(1) == "已付款"
