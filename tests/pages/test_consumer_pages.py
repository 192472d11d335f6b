"""The consumer's pages over real HTTP, without JavaScript (SQLite and PostgreSQL): cart,
checkout through the sandbox gateway, orders, wallet, sell and convert with their preview,
leaderboard, referral and withdrawals. Each page renders for its user; every form's bad input
shows its message next to the field and changes nothing; another tenant's user sees nothing."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
from pages_helpers import Browser, Site, field_error, hidden_fields
from test_pages import no_traceback, snapshot

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.store import Store
from tokenmall.demo import living as demo
from tokenmall.services.ledger import report
from tokenmall.services.mall import addresses, people, wallet
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.schemas_wallet import WalletOut

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]  # 李娜: points, stable points and cash from the demo's history
OTHER_CONSUMER = demo.CONSUMERS[1][0]
UNVERIFIED = demo.CONSUMERS[2][0]  # 张敏: cash from dividends, no real-name verification yet


def _principal(site: Site, email: str) -> Principal:
    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, TENANT, email)
        assert found is not None
        user = people_repo.get_user(conn, TENANT, found[0])
        assert user is not None
    return Principal("session", "test", user.user_id, TENANT, user.role)


def _wallet(site: Site, email: str) -> dict[str, Any]:
    with site.app.state.database.reading() as uow:
        found = wallet.wallet(uow, _principal(site, email), TENANT, utc_now())
    return WalletOut.of(found).model_dump()


def _verify_kyc(site: Site, email: str) -> None:
    admin = _principal(site, demo.ADMIN_EMAIL)
    user = _principal(site, email)
    with site.app.state.database.unit() as uow:
        people.update_user(uow, admin, TENANT, user.subject_id, role=None, kyc_status="verified")


def _default_address(site: Site, email: str) -> str:
    """The id of the consumer's default address (the demo gives each consumer one)."""
    with site.app.state.database.reading() as uow:
        book = addresses.list_addresses(uow, _principal(site, email), TENANT)
    return next(a.address_id for a in book if a.is_default)


def _first_product(browser: Browser) -> str:
    home = browser.get(f"/{TENANT}/")
    found = re.search(rf'href="/{TENANT}/products/(prd_[0-9a-z]+)"', home.text)
    assert found is not None
    return f"/{TENANT}/products/{found.group(1)}"


def _add_to_cart(browser: Browser, quantity: str = "1") -> httpx.Response:
    product = _first_product(browser)
    return browser.submit(product, f"/{TENANT}/cart/add", {"quantity": quantity})


def _money(text: str) -> Decimal:
    return Decimal(text)


# --- each page renders for its user -------------------------------------------------------------


def test_each_consumer_page_renders_with_what_backs_it(site: Site, browser: Browser) -> None:
    browser.login(TENANT, CONSUMER)
    mine = _wallet(site, CONSUMER)
    with site.app.state.database.read() as conn:
        health = report.solvency(conn, TENANT, utc_now()).to_public()
    pages = {
        "cart": "购物车",
        "checkout": "结算",
        "orders": "我的订单",
        "wallet": "权益积分",
        "wallet/sell": "卖出积分",
        "wallet/convert": "兑换为恒定积分",
        "leaderboard": "排行榜",
        "referral": "邀请好友",
        "withdrawals": "提现",
    }
    for path, title in pages.items():
        answer = browser.get(f"/{TENANT}/{path}")
        assert answer.status_code == 200, (path, answer.text[:2000])
        assert title in answer.text, path
        no_traceback(answer)
    page = browser.get(f"/{TENANT}/wallet").text
    assert 'data-testid="points" title="' + mine["points"] + '"' in page
    assert "¥" + mine["price_display"] in page
    # The quota bar stands beside what backs it: the pools and the quota across the tenant.
    quota = page[page.index('data-testid="quota-box"') :]
    assert 'data-testid="quota-bar"' in quota
    assert 'data-testid="backed-by"' in quota
    pool = re.search(r'data-testid="b-pool">([^<]+)<', quota)
    assert pool is not None
    assert pool.group(1) == f"¥{Decimal(health['pool']):,.2f}"
    outstanding = re.search(r'data-testid="b-quota">([^<]+)<', quota)
    assert outstanding is not None
    assert outstanding.group(1) == f"¥{Decimal(health['quota_outstanding']):,.2f}"
    assert "是承诺，不是保障" in quota
    # The price chart's data and the dividends of the settled days.
    chart = re.search(r'id="wallet-chart-data">([^<]+)<', page)
    assert chart is not None
    assert '"prices": [' in chart.group(1)
    assert page.count("<tr><td>20") >= 1  # a dividend row per settled day
    # The referral page: the invite link and its QR code, drawn inline.
    referral = browser.get(f"/{TENANT}/referral").text
    assert "<svg" in referral
    assert 'class="qr"' in referral
    assert f"/{TENANT}/register?invite=" in referral
    # English on request.
    english = browser.get(f"/{TENANT}/wallet?lang=en").text
    assert "Equity points" in english
    assert "What backs it" in english
    browser.get(f"/{TENANT}/wallet?lang=zh_CN")


def test_pages_need_a_login_and_the_cart_is_for_consumers(site: Site, browser: Browser) -> None:
    for path in ("cart", "checkout", "orders", "wallet", "wallet/sell", "referral", "withdrawals"):
        answer = browser.get(f"/{TENANT}/{path}")
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith(f"/{TENANT}/login?next=")
    assert browser.get(f"/{TENANT}/wallet/nothing").status_code in (303, 404)
    browser.login(TENANT, demo.ADMIN_EMAIL)
    answer = browser.get(f"/{TENANT}/cart")
    assert answer.status_code == 403
    no_traceback(answer)
    assert browser.get(f"/{TENANT}/wallet/nothing").status_code == 404


# --- cart, checkout, the sandbox's page, the order ----------------------------------------------


def test_cart_checkout_on_the_sandbox_page_and_the_order(site: Site, browser: Browser) -> None:
    browser.login(TENANT, OTHER_CONSUMER)
    added = _add_to_cart(browser, "2")
    assert added.status_code == 303
    assert added.headers["location"] == f"/{TENANT}/cart?added=1"
    cart = browser.get(f"/{TENANT}/cart").text
    total = re.search(r'data-testid="cart-total">([^<]+)<', cart)
    assert total is not None
    assert total.group(1) == "¥200.00"
    # Change the quantity, then check out with money.
    sku = re.search(r'name="sku_id" value="(sku_[0-9a-z]+)"', cart)
    assert sku is not None
    browser.submit(
        f"/{TENANT}/cart", f"/{TENANT}/cart/set", {"sku_id": sku.group(1), "quantity": "1"}
    )
    assert "¥100.00" in browser.get(f"/{TENANT}/cart").text
    fields = browser.form(f"/{TENANT}/checkout", f"/{TENANT}/checkout")
    went = browser.post(f"/{TENANT}/checkout", {**fields, "payment_method": "money"})
    assert went.status_code == 303
    pay_url = went.headers["location"]
    assert "/sandbox/pay/" in pay_url
    # The same form again (a double submit) answers the same page and makes no second order.
    before = snapshot(site)
    again = browser.post(f"/{TENANT}/checkout", {**fields, "payment_method": "money"})
    assert again.status_code == 303
    assert again.headers["location"] == pay_url
    assert snapshot(site) == before
    # The sandbox's page: approve; it sends its signed webhook; the order is paid.
    sandbox = httpx.get(pay_url)
    assert sandbox.status_code == 200
    back = re.search(r'id="back" href="([^"]+)"', sandbox.text)
    assert back is not None
    order_path = back.group(1)
    unpaid = browser.get(order_path)
    assert unpaid.status_code == 200
    assert "待付款" in unpaid.text
    approved = httpx.post(pay_url, data={"outcome": "approve"})
    assert approved.status_code == 200, approved.text
    order = browser.get(order_path).text
    status = re.search(r'data-testid="order-status">([^<]+)<', order)
    assert status is not None
    assert status.group(1) == "已付款"
    # The demo's tenant books rewards at payment (grant_on = paid): the points are shown.
    assert "积分，每积分" in order
    assert "向积分背后的底池注入了 ¥30.00" in order
    listing = browser.get(f"/{TENANT}/orders").text
    assert order_path in listing
    # Ask for a refund: an empty reason is refused next to the field, nothing changed.
    before = snapshot(site)
    refused = browser.submit(order_path, order_path + "/refund", {"reason": ""})
    assert refused.status_code == 422
    assert field_error(refused.text, "reason")
    assert snapshot(site) == before
    asked = browser.submit(order_path, order_path + "/refund", {"reason": "不想要了"})
    assert asked.status_code == 303
    page = browser.get(order_path).text
    assert 'data-testid="refund-pending"' in page
    assert "不想要了" in page


def test_another_consumers_order_is_not_found(site: Site, browser: Browser) -> None:
    browser.login(TENANT, OTHER_CONSUMER)
    _add_to_cart(browser)
    fields = browser.form(f"/{TENANT}/checkout", f"/{TENANT}/checkout")
    assert browser.post(f"/{TENANT}/checkout", {**fields, "payment_method": "money"}).is_redirect
    listing = browser.get(f"/{TENANT}/orders").text
    order = re.search(rf'href="(/{TENANT}/orders/ord_[0-9a-z]+)"', listing)
    assert order is not None
    other = Browser(site.base_url)
    try:
        other.login(TENANT, CONSUMER)
        answer = other.get(order.group(1))
        assert answer.status_code == 404
        no_traceback(answer)
        # Nor may they pay or cancel it.
        before = snapshot(site)
        page = other.get(f"/{TENANT}/withdrawals")
        tokens = hidden_fields(page.text, f"/{TENANT}/withdrawals")
        for verb in ("pay", "cancel"):
            post = other.post(order.group(1) + "/" + verb, tokens)
            assert post.status_code == 404, verb
        assert snapshot(site) == before
    finally:
        other.close()


# --- bad input on every form changes nothing ----------------------------------------------------


def test_every_form_refuses_bad_input_next_to_the_field_and_changes_nothing(
    site: Site, browser: Browser
) -> None:
    _verify_kyc(site, CONSUMER)
    browser.login(TENANT, CONSUMER)
    product = _first_product(browser)
    mine = _wallet(site, CONSUMER)
    too_many = str(Decimal(mine["points"]) + 1)
    # Checkout with an empty cart (a stale page: its form is not shown on an empty cart).
    before = snapshot(site)
    checkout = f"/{TENANT}/checkout"
    tokens = browser.form(f"/{TENANT}/withdrawals", f"/{TENANT}/withdrawals")
    address = _default_address(site, CONSUMER)
    answer = browser.post(checkout, {**tokens, "payment_method": "money", "address_id": address})
    assert answer.status_code == 422
    assert field_error(answer.text, "_form")
    assert snapshot(site) == before
    assert _add_to_cart(browser, "1").status_code == 303
    before = snapshot(site)
    # Add to cart (on the product page).
    for quantity in ("abc", "0", "-1", "1.5", "１", "99999"):
        answer = browser.submit(product, f"/{TENANT}/cart/add", {"quantity": quantity})
        assert 400 <= answer.status_code < 500, quantity
        assert field_error(answer.text, "quantity"), quantity
        no_traceback(answer)
    answer = browser.submit(product, f"/{TENANT}/cart/add", {"quantity": "1", "sku_id": "sku_nope"})
    assert answer.status_code == 422
    assert field_error(answer.text, "sku_id")
    # The cart's own forms: a bad quantity, a line that is not there.
    cart = f"/{TENANT}/cart"
    line = re.search(r'name="sku_id" value="(sku_[0-9a-z]+)"', browser.get(cart).text)
    assert line is not None
    for quantity in ("abc", "0", "10000"):
        answer = browser.submit(
            cart, f"/{TENANT}/cart/set", {"sku_id": line.group(1), "quantity": quantity}
        )
        assert answer.status_code == 422, quantity
        assert field_error(answer.text, "quantity"), quantity
    answer = browser.submit(cart, f"/{TENANT}/cart/set", {"sku_id": "sku_nope", "quantity": "2"})
    assert answer.status_code == 404
    assert field_error(answer.text, "_form")
    answer = browser.submit(cart, f"/{TENANT}/cart/remove", {"sku_id": "sku_nope"})
    assert answer.status_code == 404
    assert field_error(answer.text, "_form")
    for data, name in (
        ({"payment_method": "bitcoin"}, "payment_method"),
        ({"payment_method": "stable"}, "_form"),  # 李娜 holds no stable points yet
        ({"payment_method": "mixed", "stable_amount": ""}, "stable_amount"),
        ({"payment_method": "mixed", "stable_amount": "abc"}, "stable_amount"),
        ({"payment_method": "mixed", "stable_amount": "1e2"}, "stable_amount"),
        ({"payment_method": "mixed", "stable_amount": "0.001"}, "stable_amount"),
        ({"payment_method": "mixed", "stable_amount": "100.00"}, "stable_amount"),
    ):
        answer = browser.submit(checkout, checkout, data)
        assert 400 <= answer.status_code < 500, data
        assert field_error(answer.text, name), (data, answer.text[:3000])
        no_traceback(answer)
    # Sell and convert: bad amounts, more than held; a preview changes nothing either.
    for kind in ("sell", "convert"):
        page = f"/{TENANT}/wallet/{kind}"
        for points in ("abc", "-1", "0", "1.123456789", "１", "1e3", "", too_many):
            answer = browser.submit(page, page, {"points": points, "do": "execute"})
            assert 400 <= answer.status_code < 500, (kind, points)
            assert field_error(answer.text, "points"), (kind, points, answer.text[:3000])
            no_traceback(answer)
        answer = browser.submit(page, page, {"points": "abc", "do": "preview"})
        assert answer.status_code == 422
        assert field_error(answer.text, "points")
        answer = browser.submit(page, page, {"points": "1", "do": "preview"})
        assert answer.status_code == 200
        assert 'data-testid="pv-receive"' in answer.text
    # Withdrawals: bad amounts, below the minimum, more than the cash.
    page = f"/{TENANT}/withdrawals"
    for amount in ("abc", "-1", "0", "0.001", "1e3", "", "0.50", "99999999.00"):
        answer = browser.submit(page, page, {"amount": amount})
        assert 400 <= answer.status_code < 500, amount
        assert field_error(answer.text, "amount"), (amount, answer.text[:3000])
        no_traceback(answer)
    # A form without its CSRF token.
    answer = browser.post(page, {"amount": "1.00"})
    assert answer.status_code == 403
    assert field_error(answer.text, "csrf_token")
    assert snapshot(site) == before


def test_withdrawal_needs_real_name_verification_then_is_held(site: Site, browser: Browser) -> None:
    browser.login(TENANT, UNVERIFIED)
    page = f"/{TENANT}/withdrawals"
    before = snapshot(site)
    answer = browser.submit(page, page, {"amount": "1.00"})
    assert answer.status_code == 403, field_error(answer.text, "amount")
    assert field_error(answer.text, "amount") == "提现前需要先完成实名认证。"
    assert snapshot(site) == before
    _verify_kyc(site, UNVERIFIED)
    cash = Decimal(_wallet(site, UNVERIFIED)["cash"])
    assert cash >= 1
    done = browser.submit(page, page, {"amount": "1.00"})
    assert done.status_code == 303
    assert done.headers["location"] == f"{page}?requested=1"
    shown = browser.get(page).text
    assert "待审批" in shown
    assert "¥1.00" in shown
    after = _wallet(site, UNVERIFIED)
    assert Decimal(after["cash"]) == cash - 1
    assert after["cash_withdrawing"] == "1.00"


# --- sell and convert: the preview is what is received -------------------------------------------


def test_sell_and_convert_receive_exactly_the_preview(site: Site, browser: Browser) -> None:
    browser.login(TENANT, CONSUMER)
    for kind, balance in (("sell", "cash"), ("convert", "stable")):
        page = f"/{TENANT}/wallet/{kind}"
        preview = browser.get(f"{page}/preview?points=1.5").text
        receive = re.search(r'data-testid="pv-receive">([^<]+)<', preview)
        fee = re.search(r'data-testid="pv-fee">([^<]+)<', preview)
        assert receive is not None
        assert fee is not None
        plain = browser.submit(page, page, {"points": "1.5", "do": "preview"}).text
        assert f'data-testid="pv-receive">{receive.group(1)}<' in plain
        before = _wallet(site, CONSUMER)
        done = browser.submit(page, page, {"points": "1.5", "do": "execute"})
        assert done.status_code == 303, done.text[:2000]
        receipt = browser.get(done.headers["location"]).text
        got = re.search(r'data-testid="rc-receive">([^<]+)<', receipt)
        got_fee = re.search(r'data-testid="rc-fee">([^<]+)<', receipt)
        assert got is not None
        assert got_fee is not None
        assert (got.group(1), got_fee.group(1)) == (receive.group(1), fee.group(1))
        after = _wallet(site, CONSUMER)
        assert _money(after[balance]) - _money(before[balance]) == _money(receive.group(1))
        assert Decimal(before["points"]) - Decimal(after["points"]) == Decimal("1.5")
        # A forged receipt is not shown.
        forged = done.headers["location"].replace(f"receive={got.group(1)}", "receive=999.00")
        assert 'data-testid="receipt"' not in browser.get(forged).text


# --- another tenant's user sees nothing -----------------------------------------------------------


def test_another_tenants_user_sees_nothing_of_this_tenant(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    browser.operator_login()
    created = browser.submit(
        "/-/platform/",
        "/-/platform/tenants",
        {
            "tenant_id": "cider",
            "name": "果酒坊",
            "preset": "default",
            "admin_email": "boss@cider.demo",
            "admin_password": "a-good-password",
        },
    )
    assert created.status_code == 303
    registered = another_browser.submit(
        "/cider/register",
        "/cider/register",
        {
            "email": "eve@cider.demo",
            "display_name": "Eve",
            "password": "a-good-password",
            "password_again": "a-good-password",
            "invite_code": "",
        },
    )
    assert registered.status_code == 303, registered.text[:2000]
    another_browser.login("cider", "eve@cider.demo", "a-good-password")
    assert another_browser.get("/cider/wallet").status_code == 200
    assert another_browser.get("/cider/orders").status_code == 200
    # Wine's pages ask Eve to log in to wine; wine's orders are not found under cider.
    for path in ("cart", "orders", "wallet", "wallet/sell", "referral", "withdrawals"):
        answer = another_browser.get(f"/{TENANT}/{path}")
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith(f"/{TENANT}/login")
    with site.app.state.database.read() as conn:
        from sqlalchemy import select

        from tokenmall.adapters.db.mall.orders import orders as orders_table

        order_id = conn.execute(
            select(orders_table.c.order_id).where(orders_table.c.tenant_id == TENANT).limit(1)
        ).scalar()
    if order_id is not None:
        answer = another_browser.get(f"/cider/orders/{order_id}")
        assert answer.status_code == 404
        no_traceback(answer)
    # Nothing of wine on cider's leaderboard (nobody holds cider points yet).
    board = another_browser.get("/cider/leaderboard").text
    assert "李娜" not in board
    with site.app.state.database.read() as conn:
        assert Store(conn.engine).load_holders(conn, "cider", ["eve"]) == []


# --- stable points at checkout, and a cancelled order ---------------------------------------------


def test_stable_points_pay_part_of_an_order_and_a_cancel_returns_them(
    site: Site, browser: Browser
) -> None:
    browser.login(TENANT, demo.CONSUMERS[3][0])
    convert = f"/{TENANT}/wallet/convert"
    assert browser.submit(convert, convert, {"points": "2", "do": "execute"}).status_code == 303
    stable = Decimal(_wallet(site, demo.CONSUMERS[3][0])["stable"])
    assert stable > 1
    assert _add_to_cart(browser).status_code == 303
    checkout = f"/{TENANT}/checkout"
    page = browser.get(checkout).text
    assert f"您的恒定积分：¥{stable}" in page
    went = browser.submit(checkout, checkout, {"payment_method": "mixed", "stable_amount": "1.00"})
    assert went.status_code == 303
    assert "/sandbox/pay/" in went.headers["location"]
    assert Decimal(_wallet(site, demo.CONSUMERS[3][0])["stable"]) == stable - 1
    back = re.search(r'id="back" href="([^"]+)"', httpx.get(went.headers["location"]).text)
    assert back is not None
    order = browser.get(back.group(1)).text
    assert "¥1.00" in order
    assert "¥99.00" in order
    assert 'data-testid="pay"' in order
    cancelled = browser.submit(back.group(1), back.group(1) + "/cancel", {})
    assert cancelled.status_code == 303
    status = re.search(r'data-testid="order-status">([^<]+)<', browser.get(back.group(1)).text)
    assert status is not None
    assert status.group(1) == "已取消"
    assert Decimal(_wallet(site, demo.CONSUMERS[3][0])["stable"]) == stable
    # The sandbox's page no longer takes the payment.
    assert httpx.post(went.headers["location"], data={"outcome": "approve"}).status_code == 409


def test_the_orders_of_one_checkout_are_listed_by_the_database(
    site: Site, browser: Browser
) -> None:
    from tokenmall.services.mall import orders

    browser.login(TENANT, OTHER_CONSUMER)
    for _ in range(2):
        _add_to_cart(browser)
        fields = browser.form(f"/{TENANT}/checkout", f"/{TENANT}/checkout")
        went = browser.post(f"/{TENANT}/checkout", {**fields, "payment_method": "money"})
        assert went.status_code == 303
    with site.app.state.database.reading() as uow:
        newest, older = orders.list_orders(
            uow, _principal(site, OTHER_CONSUMER), TENANT, status=None, after=None, limit=2
        )
    # The filter is the query's (not a sieve over one page of the newest orders).
    page = browser.get(f"/{TENANT}/orders?checkout={older.checkout_id}").text
    assert f"/{TENANT}/orders/{older.order_id}" in page
    assert f"/{TENANT}/orders/{newest.order_id}" not in page
