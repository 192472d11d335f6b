"""立即购买's checkout page leads back to the product it came from, without JavaScript: the
product's buy-now form sends its own path as ``back``, the checkout shows it as its back link
(through a login first, and after a refused order), and a ``back`` that is not a path of this
tenant's pages (another host, ``//``, a backslash, ``..``, another tenant, a script URL) gives
no back link at all: never an open redirect."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote, urlsplit

import pytest
from pages_helpers import PASSWORD, Browser, hidden_fields

from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]


def _buy_now_form(html: str) -> tuple[str, dict[str, str]]:
    """The first buy-now form of a product page: its action and the fields it sends."""
    found = re.search(r'<form method="get" action="([^"]+/checkout)"[^>]*>(.*?)</form>', html, re.S)
    assert found is not None, html[:2000]
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', found.group(2))
    )
    fields["quantity"] = "1"
    return found.group(1), {k: unescape(v) for k, v in fields.items()}


def _a_product(browser: Browser) -> str:
    found = re.search(
        rf'href="(/{TENANT}/products/prd_[0-9a-z]+)"', browser.get(f"/{TENANT}/").text
    )
    assert found is not None
    return found.group(1)


def _back_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]*)" data-testid="checkout-back">', html)
    return None if found is None else unescape(found.group(1))


def test_buy_now_checkout_goes_back_to_its_product(browser: Browser) -> None:
    product = _a_product(browser)
    # Not logged in: buying asks for a login, then comes straight back to the checkout.
    action, fields = _buy_now_form(browser.get(product).text)
    assert fields["back"] == product
    asked = browser.get(action, params=fields)
    assert asked.status_code == 303
    login = asked.headers["location"]
    assert urlsplit(login).path == f"/{TENANT}/login"
    answer = browser.post(
        f"/{TENANT}/login",
        {
            **{k: unescape(v) for k, v in browser.form(login).items()},  # as a browser reads them
            "email": CONSUMER,
            "password": PASSWORD,
        },
    )
    assert answer.status_code == 303
    checkout = answer.headers["location"]
    assert checkout.startswith(f"/{TENANT}/checkout?"), checkout
    page = browser.get(checkout)
    assert page.status_code == 200
    assert 'data-testid="buy-now-note"' in page.text
    assert _back_link(page.text) == product, checkout
    assert browser.get(product).status_code == 200
    # The order form carries it: a refused order (no address chosen) keeps the way back.
    shown = hidden_fields(page.text, f"/{TENANT}/checkout")
    sent = {**{k: unescape(v) for k, v in shown.items()}, "address_id": ""}
    assert sent["back"] == product
    refused = browser.post(f"/{TENANT}/checkout", {**sent, "payment_method": "money"})
    assert refused.status_code == 422
    assert _back_link(refused.text) == product
    # A plain checkout from the cart has no product to go back to.
    assert _back_link(browser.get(f"/{TENANT}/checkout").text) is None


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/wine/products/x",
        "//evil.example/wine/",
        "/wine//evil.example",
        "/\\evil.example",
        "/wine/\\evil.example",
        "/wine/../evil",
        "/other/products/x",
        "javascript:alert(1)",
        '/wine/products/x" onclick="alert(1)',
        "/wine/products/x\n",
    ],
)
def test_a_back_that_leaves_the_site_gives_no_back_link(browser: Browser, back: str) -> None:
    browser.login(TENANT, CONSUMER)
    product = _a_product(browser)
    _, fields = _buy_now_form(browser.get(product).text)
    page = browser.get(f"/{TENANT}/checkout?sku={fields['sku']}&quantity=1&back={quote(back)}")
    assert page.status_code == 200
    assert 'data-testid="buy-now-note"' in page.text  # the checkout itself still works
    assert _back_link(page.text) is None
    assert "evil" not in page.text
    assert 'name="back"' not in page.text
