"""In real headless Chromium on a 375-px phone, in Chinese: a consumer registers from an invite
link, is refused at checkout without a shipping address, adds one from the checkout and buys
with the sandbox gateway (approving on its payment page), the order is paid and its
points booked (the demo's tenant grants on payment), sees the points and the price chart, sells
and converts (the preview's figures are what is received), and asks for a withdrawal.
Screenshots of the cart, checkout, order, wallet, sell preview, referral and withdrawal pages
are saved to out/artifacts/screenshots/."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from browser_helpers import Site, shot, wait_until

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.demo import living as demo
from tokenmall.services.mall import orders, people, wallet
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.schemas_wallet import WalletOut

TENANT = demo.TENANT_ID
EMAIL = "flow.buyer@wine.demo"
LIVE_PREVIEW_READY = """() => {
  const live = document.querySelector('[hx-get$="/preview"]');
  return !!(live && live["htmx-internal-data"] && live["htmx-internal-data"].initHash);
}"""


def _principal(site: Site, email: str) -> Principal:
    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, TENANT, email)
        assert found is not None
        user = people_repo.get_user(conn, TENANT, found[0])
        assert user is not None
    return Principal("session", "test", user.user_id, TENANT, user.role)


def _wallet(site: Site) -> dict[str, Any]:
    with site.app.state.database.reading() as uow:
        found = wallet.wallet(uow, _principal(site, EMAIL), TENANT, utc_now())
    return WalletOut.of(found).model_dump()


def _orders(site: Site) -> list[Any]:
    with site.app.state.database.reading() as uow:
        return orders.list_orders(
            uow, _principal(site, EMAIL), TENANT, status=None, after=None, limit=10
        )


def _fits_the_phone(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, page.url


def _trade(page: Any, site: Site, kind: str, points: str, balance: str, name: str) -> None:
    """Type an amount, wait for the live preview, then do it: the receipt equals the preview
    and the balance moved by exactly that."""
    page.click(f'[data-testid="to-{kind}"]')
    page.wait_for_url(re.compile(rf"/{TENANT}/wallet/{kind}$"))
    # HTMX has taken the new page in (its listeners are on the amount) before the typing.
    wait_until(page, f"({LIVE_PREVIEW_READY})()")
    page.fill("#f-points", points)
    page.locator('[data-testid="pv-receive"]').wait_for()
    receive = page.locator('[data-testid="pv-receive"]').inner_text().strip()
    fee = page.locator('[data-testid="pv-fee"]').inner_text().strip()
    assert Decimal(receive) > 0
    assert Decimal(fee) >= 0
    _fits_the_phone(page)
    shot(page, name)
    before = _wallet(site)
    page.click('[data-testid="execute"]')
    page.locator('[data-testid="receipt"]').wait_for()
    assert page.locator('[data-testid="rc-receive"]').inner_text().strip() == receive
    assert page.locator('[data-testid="rc-fee"]').inner_text().strip() == fee
    after = _wallet(site)
    assert Decimal(after[balance]) - Decimal(before[balance]) == Decimal(receive)
    assert Decimal(before["points"]) - Decimal(after["points"]) == Decimal(points)
    page.click("nav.tabbar >> text=钱包")
    page.wait_for_url(re.compile(rf"/{TENANT}/wallet$"))


def test_a_consumer_buys_sees_points_and_the_chart_sells_and_converts(
    site: Site, phone: Any
) -> None:
    page = phone
    # Registers from an invite link.
    page.goto(demo.invite_link(site.app.state.database, site.base_url))
    page.fill("#f-email", EMAIL)
    page.fill("#f-display_name", "新买家")
    page.fill("#f-password", "a-good-password")
    page.fill("#f-password_again", "a-good-password")
    page.click("button[type=submit]")
    # Registering signs nobody in: sign in, then the welcome.
    page.wait_for_url(re.compile(rf"/{TENANT}/login\?registered=1"))
    page.fill("#f-email", EMAIL)
    page.fill("#f-password", "a-good-password")
    page.click("button[type=submit] >> nth=-1")
    page.wait_for_url(re.compile(rf"/{TENANT}/me\?welcome=1$"))
    # Puts the 100-yuan bottle in the cart.
    page.click("nav.tabbar >> text=首页")
    page.click("text=醇香干红葡萄酒 750ml")
    page.wait_for_url(re.compile(rf"/{TENANT}/products/prd_"))
    page.locator('[data-testid="add-to-cart"] button[type=submit]').first.click()
    page.wait_for_url(re.compile(rf"/{TENANT}/cart\?added=1$"))
    assert page.locator('[data-testid="cart-total"]').inner_text() == "¥100.00"
    _fits_the_phone(page)
    shot(page, "consumer-cart")
    # Checks out with money: the sandbox's payment page.
    page.click('[data-testid="to-checkout"]')
    page.wait_for_url(re.compile(rf"/{TENANT}/checkout$"))
    # No shipping address yet: placing the order is refused next to the address, no order made.
    assert page.locator('[data-testid="no-address"]').is_visible()
    page.click('[data-testid="place-order"]')
    refused = page.locator('[data-field="address_id"]')
    refused.wait_for()
    assert "请选择收货地址" in refused.inner_text()
    assert _orders(site) == []
    shot(page, "consumer-checkout-no-address")
    # Adds one from the checkout and comes back to it with the address chosen.
    page.click('[data-testid="add-address"]')
    page.wait_for_url(re.compile(rf"/{TENANT}/addresses\?back=checkout$"))
    page.fill("#f-recipient", "新买家")
    page.fill("#f-phone", "13812345678")
    page.fill("#f-region", "浙江省 杭州市 西湖区")
    page.fill("#f-detail", "文三路 100 号 301 室")
    _fits_the_phone(page)
    shot(page, "consumer-address-new")
    page.click('[data-testid="save-address"]')
    page.wait_for_url(re.compile(rf"/{TENANT}/checkout\?address=adr_[0-9a-z]+$"))
    assert page.is_checked('input[name="address_id"]')
    assert "文三路 100 号 301 室" in page.locator('[data-testid="checkout-address"]').inner_text()
    assert page.is_checked('input[name="payment_method"][value="money"]')
    _fits_the_phone(page)
    shot(page, "consumer-checkout")
    page.click('[data-testid="place-order"]')
    page.wait_for_url(re.compile(r"/sandbox/pay/"))
    assert "¥100.00" in page.content() or "100.00" in page.content()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.click("button:has-text('确认支付')")
    page.locator("text=已通知商城").wait_for()
    page.click("#back")
    page.wait_for_url(re.compile(rf"/{TENANT}/orders/ord_[0-9a-z]+$"))
    assert page.locator('[data-testid="order-status"]').inner_text() == "已付款"
    rewards = page.locator('[data-testid="rewards"]').inner_text()
    assert "已入账" in rewards
    assert "¥30.00" in rewards
    shipping = page.locator('[data-testid="order-address"]').inner_text()
    assert "新买家" in shipping
    assert "浙江省 杭州市 西湖区 文三路 100 号 301 室" in shipping
    _fits_the_phone(page)
    shot(page, "consumer-order")
    # The wallet: points, their price and the chart drawn; the quota beside what backs it.
    page.click("nav.tabbar >> text=钱包")
    page.wait_for_url(re.compile(rf"/{TENANT}/wallet$"))
    wait_until(page, "document.documentElement.dataset.chartsDrawn === '1'")
    ink = page.evaluate(
        """() => {
          const c = document.getElementById("wallet-chart");
          const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
          return n;
        }"""
    )
    assert ink > 500, ink
    points = Decimal(_wallet(site)["points"])
    assert points > 2
    assert page.locator('[data-testid="points"]').get_attribute("title") == _wallet(site)["points"]
    assert "底池" in page.locator('[data-testid="backed-by"]').inner_text()
    _fits_the_phone(page)
    shot(page, "consumer-wallet")
    # Sells one point and converts another, each exactly as previewed.
    _trade(page, site, "sell", "1", "cash", "consumer-sell-preview")
    _trade(page, site, "convert", "1", "stable", "consumer-convert-preview")
    # The referral page: the invite link and its QR code.
    page.goto(f"{site.base_url}/{TENANT}/referral")
    assert page.locator('[data-testid="qr"] svg').is_visible()
    assert "/register?invite=" in page.locator('[data-testid="invite-link"]').inner_text()
    _fits_the_phone(page)
    shot(page, "consumer-referral")
    # A withdrawal: refused until real-name verification, then held for approval.
    page.goto(f"{site.base_url}/{TENANT}/withdrawals")
    page.fill("#f-amount", "1.00")
    page.click('[data-testid="withdraw"]')
    error = page.locator('[data-field="amount"]')
    error.wait_for()
    assert "实名认证" in error.inner_text()
    shot(page, "consumer-withdrawal-refused")
    admin = _principal(site, demo.ADMIN_EMAIL)
    with site.app.state.database.unit() as uow:
        people.update_user(
            uow,
            admin,
            TENANT,
            _principal(site, EMAIL).subject_id,
            role=None,
            kyc_status="verified",
        )
    page.goto(f"{site.base_url}/{TENANT}/withdrawals")
    page.fill("#f-amount", "1.00")
    page.click('[data-testid="withdraw"]')
    page.wait_for_url(re.compile(rf"/{TENANT}/withdrawals\?requested=1$"))
    assert "待审批" in page.locator('[data-testid="withdrawals"]').inner_text()
    assert _wallet(site)["cash_withdrawing"] == "1.00"
    _fits_the_phone(page)
    shot(page, "consumer-withdrawal")
