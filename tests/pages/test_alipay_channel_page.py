"""The console's payment channels page and the order page with Alipay, over real HTTP (no
JavaScript) against the local fake of Alipay's open platform (SQLite and PostgreSQL): an admin
saves Alipay's keys (bad ones refused next to the field, nothing changed; good ones never
shown again) and tests the connection; a shopper is sent to Alipay's cashier, pays, and on
coming back sees the order paid (the page asked Alipay)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pages_helpers import Browser, Site, field_error
from test_consumer_pages import _add_to_cart
from test_pages import no_traceback, snapshot

from alipay_fake import FakeAlipay, new_key, private_pem, public_base64
from served import app_settings, served
from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
PAGE = f"/{TENANT}/admin/payments"
APP_ID = "2021000123456789"
SELLER = "2088102177846880"


@pytest.fixture(scope="module")
def app_key() -> Any:
    return new_key()


@pytest.fixture(scope="module")
def fake(app_key: Any) -> Iterator[FakeAlipay]:
    server = FakeAlipay(app_id=APP_ID, seller_id=SELLER, app_public_key=app_key.public_key())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(db_url: str) -> Iterator[Site]:
    with served(app_settings(db_url)) as (base, app):
        demo.seed(app.state.database, base_url=base, days=2)
        yield Site(base, app)


def test_admin_switches_alipay_on_and_a_shopper_pays_through_its_cashier(
    site: Site, browser: Browser, another_browser: Browser, fake: FakeAlipay, app_key: Any
) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert "支付宝" in page.text
    assert 'data-testid="channel-form-alipay"' in page.text
    assert "Alipay" in browser.get(PAGE + "?lang=en").text
    action = f"{PAGE}/alipay"
    good = {
        "app_id": APP_ID,
        "seller_id": SELLER,
        "app_private_key": private_pem(app_key),
        "alipay_public_key": public_base64(fake.key),
        "gateway_url": fake.gateway_url,
    }
    before = snapshot(site)
    for name, value in (("app_id", "app"), ("seller_id", "1"), ("app_private_key", "x")):
        answer = browser.submit(PAGE, action, {**good, name: value, "enabled": "on"})
        assert answer.status_code == 422, (name, answer.text[:500])
        assert field_error(answer.text, name), name
        no_traceback(answer)
    assert snapshot(site) == before
    saved = browser.submit(PAGE, action, {**good, "enabled": "on", "mode": "wap"})
    assert saved.status_code == 303, saved.text[:500]
    shown = browser.get(PAGE).text
    assert APP_ID in shown
    assert good["app_private_key"].splitlines()[1] not in shown
    assert good["alipay_public_key"] not in shown
    tested = browser.submit(PAGE, f"{action}/test", {})
    assert tested.status_code == 303, tested.text[:500]
    assert 'data-testid="payments-tested"' in browser.get(tested.headers["location"]).text

    # A shopper checks out: sent straight to Alipay's cashier.
    another_browser.login(TENANT, demo.CONSUMERS[0][0])
    assert _add_to_cart(another_browser).status_code == 303
    fields = another_browser.form(f"/{TENANT}/checkout", f"/{TENANT}/checkout")
    went = another_browser.post(f"/{TENANT}/checkout", {**fields, "payment_method": "money"})
    assert went.status_code == 303
    cashier = went.headers["location"]
    assert cashier.startswith(fake.gateway_url + "?")
    trade = fake.open_cashier(cashier)
    order_path = f"/{TENANT}/orders/{trade.subject.split()[-1]}"
    unpaid = another_browser.get(order_path).text
    assert 'value="alipay"' in unpaid
    assert 'value="sandbox"' in unpaid
    # Paying again from the order page goes back to Alipay's cashier.
    pay = another_browser.submit(order_path, f"{order_path}/pay", {"channel": "alipay"})
    assert pay.status_code == 303
    assert pay.headers["location"].startswith(fake.gateway_url + "?")
    # The shopper pays at Alipay and comes back before the notify: the page asks Alipay.
    fake.pay(trade.out_trade_no)
    back = another_browser.get(order_path).text
    status = re.search(r'data-testid="order-status">([^<]+)<', back)
    assert status is not None
    assert status.group(1) == "已付款"
