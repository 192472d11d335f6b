"""The market's money forms over real HTTP without JavaScript, on SQLite and PostgreSQL: a
deposit of market cash through the sandbox gateway, a bid (resting, then filling), buying a
listing, an agreement offered to a named user and accepted or declined, and the console's
trades (filters, pages, CSV). Each form works, and each refusal is shown next to the action it
refused with its market.md code's sentence (Chinese first, English with ``?lang=en``) while
nothing changed: the tokens, the orders and the users' cash."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
from pages_helpers import Browser, Site, field_error
from sqlalchemy import func, select

from nfg_tokens import make_collection
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.market.tables import market_deposits, market_orders
from tokenmall.adapters.db.market.trades import TradeRow
from tokenmall.adapters.db.nfg.tables import nfg_tokens
from tokenmall.demo import living as demo
from tokenmall.domain.nfg.records import Collection
from tokenmall.services.mall.uow import utc_now
from tokenmall.services.writers.units import writers_for

T = demo.TENANT_ID
SELLER = "li.na@wine.demo"  # 李娜
BUYER = "wang.wei@wine.demo"  # 王伟, invited by 李娜: their trades are flagged
_trade_ids = iter(range(800_000_001, 800_100_000))


def _user_id(site: Site, email: str) -> str:
    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, T, email)
    assert found is not None
    return str(found[0])


def _collection(site: Site, *owners: str, name: str = "醇香 2020 编号酒") -> Collection:
    app = site.app
    ids = [_user_id(site, email) for email in owners]
    return make_collection(app.state.database, app.state.log_config, T, ids, name=name)


def _cash(site: Site, email: str) -> int:
    with site.app.state.database.reading() as unit:
        return unit.cash.cash_of(T, _user_id(site, email))


def _snapshot(site: Site) -> tuple[Any, ...]:
    """Tokens (owner, state), orders (status, reason), deposits and both users' cash."""
    with site.app.state.database.read() as conn:
        tokens = conn.execute(
            select(nfg_tokens.c.collection_id, nfg_tokens.c.serial, nfg_tokens.c.owner_id,
                   nfg_tokens.c.state)
            .where(nfg_tokens.c.tenant_id == T)
            .order_by(nfg_tokens.c.collection_id, nfg_tokens.c.serial)
        ).all()  # fmt: skip
        orders = conn.execute(
            select(market_orders.c.order_id, market_orders.c.status, market_orders.c.reason)
            .where(market_orders.c.tenant_id == T)
            .order_by(market_orders.c.order_id)
        ).all()
        deposits = conn.execute(
            select(func.count()).where(market_deposits.c.tenant_id == T)
        ).scalar_one()
    cash = (_cash(site, SELLER), _cash(site, BUYER))
    return [tuple(r) for r in tokens], [tuple(r) for r in orders], deposits, cash


def _row_error(html: str, row: str) -> str:
    """The message shown inside the form (or the row) of ``row``."""
    tag = rf'<(?:form|article)[^>]*data-row="{re.escape(row)}"[^>]*>(.*?)</(?:form|article)>'
    form = re.search(tag, html, re.S)
    assert form is not None, f"no form {row}"
    found = re.search(r'<p class="error[^"]*"[^>]*data-field="([^"]+)">([^<]*)</p>', form.group(1))
    assert found is not None, f"no message in the form {row}"
    return found.group(2)


def _admin(site: Site) -> Browser:
    b = Browser(site.base_url)
    b.login(T, demo.ADMIN_EMAIL)
    return b


def _settings(site: Site, c: Collection, **values: str) -> None:
    admin = _admin(site)
    try:
        page = f"/{T}/admin/market/collections/{c.collection_id}"
        answer = admin.submit(page, page, {"which": "settings", **values})
        assert answer.status_code == 303, answer.text[:800]
    finally:
        admin.close()


def _halt(site: Site, c: Collection, halted: bool) -> None:
    admin = _admin(site)
    try:
        page = f"/{T}/admin/market/collections/{c.collection_id}"
        done = admin.submit(page, f"{page}/halt", {"halted": "true" if halted else "false"})
        assert done.status_code == 303
    finally:
        admin.close()


def _deposit(browser: Browser, amount: str) -> None:
    went = browser.submit(f"/{T}/market/cash", f"/{T}/market/cash/deposit", {"amount": amount})
    assert went.status_code == 303, went.text[:800]
    pay_url = went.headers["location"]
    assert "/sandbox/pay/" in pay_url
    paid = httpx.post(pay_url, data={"outcome": "approve"})
    assert paid.status_code == 200, paid.text[:800]


def _listing_id(browser: Browser, page: str, price: str) -> str:
    shown = rf'data-testid="listing-price">¥{re.escape(price)}<'
    found = re.search(rf'data-testid="listing" data-order-id="(\d+)">[^¥]*{shown}',
                      browser.get(page).text)  # fmt: skip
    assert found is not None, f"no listing at {price}"
    return found.group(1)


def test_a_deposit_goes_through_the_gateway_and_shows_as_market_cash(
    site: Site, browser: Browser
) -> None:
    browser.login(T, BUYER)
    page = f"/{T}/market/cash"
    shown = browser.get(page)
    assert shown.status_code == 200
    assert "市场资金" in shown.text
    assert f'href="/{T}/withdrawals"' in shown.text  # the existing withdrawal flow
    before = _snapshot(site)
    for bad in ("1.234", "0", "abc"):
        refused = browser.submit(page, f"{page}/deposit", {"amount": bad})
        assert refused.status_code == 422
        assert (field_error(refused.text, "amount") or "").startswith("输入有误。"), bad
    english = browser.submit(page + "?lang=en", f"{page}/deposit", {"amount": "0"})
    assert (field_error(english.text, "amount") or "").startswith("invalid_input: The input")
    browser.get(page, params={"lang": "zh_CN"})
    assert _snapshot(site) == before

    cash = _cash(site, BUYER)
    _deposit(browser, "500.00")
    assert _cash(site, BUYER) == cash + 50_000
    shown = browser.get(page).text
    assert re.search(r'data-testid="deposit-row" data-status="paid"><span class="num">¥500\.00<',
                     shown)  # fmt: skip
    assert 'data-testid="cash">¥' in shown


def test_a_bid_rests_then_a_higher_one_buys_the_cheapest_listing(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    c = _collection(site, SELLER, SELLER)
    _settings(site, c, fee_rate="0.02", royalty_rate="0.05")
    seller, buyer = another_browser, browser
    seller.login(T, SELLER)
    buyer.login(T, BUYER)
    page = f"/{T}/market/{c.collection_id}"
    listed = seller.submit(page, f"{page}/list", {"row": "list-1", "serial": "1", "price": "120"})
    assert listed.status_code == 303
    _deposit(buyer, "300.00")
    _deposit(seller, "200.00")

    # The preview of a bid, without JavaScript: the domain's split of the price typed.
    previewed = buyer.submit(page, f"{page}/bid", {"row": "bid", "price": "99.99", "do": "preview"})
    assert previewed.status_code == 200
    assert re.search(r'data-testid="pv-fee">¥1\.99<', previewed.text)  # floor(9999 × 2%)
    assert re.search(r'data-testid="pv-royalty">¥4\.99<', previewed.text)
    assert re.search(r'data-testid="pv-proceeds">¥93\.01<', previewed.text)

    before = _snapshot(site)
    too_much = buyer.submit(page, f"{page}/bid", {"row": "bid", "price": "9000000"})
    assert too_much.status_code == 409
    assert _row_error(too_much.text, "bid").startswith("可用余额不足。")
    english = buyer.submit(page + "?lang=en", f"{page}/bid", {"row": "bid", "price": "9000000"})
    assert _row_error(english.text, "bid").startswith("insufficient_funds: Your available cash")
    buyer.get(page, params={"lang": "zh_CN"})
    own = seller.submit(page, f"{page}/bid", {"row": "bid", "price": "150"})
    assert own.status_code == 409
    assert _row_error(own.text, "bid").startswith("不能与自己的订单成交。")
    assert _snapshot(site) == before

    cash = _cash(site, BUYER)
    rested = buyer.submit(page, f"{page}/bid", {"row": "bid", "price": "100"})
    assert rested.status_code == 303, rested.text[:800]
    assert rested.headers["location"] == f"{page}?done=bid"
    assert _cash(site, BUYER) == cash - 10_000  # reserved
    shown = buyer.get(page).text
    assert re.search(r'data-testid="highest-bid">¥100\.00<', shown)
    assert "求购已提交" in buyer.get(rested.headers["location"]).text
    assert re.search(r'data-testid="reserved">¥100\.00<', buyer.get(f"/{T}/market/cash").text)

    seller_cash = _cash(site, SELLER)
    filled = buyer.submit(page, f"{page}/bid", {"row": "bid", "price": "130"})
    assert filled.status_code == 303, filled.text[:800]
    assert filled.headers["location"] == f"{page}?done=bought"
    assert _cash(site, BUYER) == cash - 10_000 - 12_000  # at the listing's price
    assert _cash(site, SELLER) == seller_cash + 12_000 - 240 - 600
    tokens, _, _, _ = _snapshot(site)
    assert (c.collection_id, 1, _user_id(site, BUYER), "held") in tokens


def test_a_crossing_listing_posted_twice_fills_the_bid_once_through_the_writer(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    c = _collection(site, SELLER)
    _settings(site, c, fee_rate="0.02", royalty_rate="0.05")
    seller, buyer = another_browser, browser
    seller.login(T, SELLER)
    buyer.login(T, BUYER)
    page = f"/{T}/market/{c.collection_id}"
    _deposit(buyer, "200.00")
    rested = buyer.submit(page, f"{page}/bid", {"row": "bid", "price": "110"})
    assert rested.headers["location"] == f"{page}?done=bid"
    cash = (_cash(site, SELLER), _cash(site, BUYER))
    writers = writers_for(site.app.state.database.engine)
    units = getattr(writers.writer(T), "units", 0)
    fields = {**seller.form(page, f"{page}/list"), "row": "list-1", "serial": "1", "price": "100"}
    first = seller.post(f"{page}/list", fields)
    assert first.status_code == 303, first.text[:800]
    assert first.headers["location"] == f"{page}?done=listed"
    assert getattr(writers.writer(T), "units", 0) > units  # placed in the tenant's writer
    after = _snapshot(site)
    again = seller.post(f"{page}/list", fields)  # the same form key: the first answer
    assert (again.status_code, again.headers["location"]) == (303, first.headers["location"])
    assert _snapshot(site) == after
    # at the bid's price, 110.00: the seller gets it less 2.20 fee and 5.50 royalty
    assert (_cash(site, SELLER), _cash(site, BUYER)) == (cash[0] + 11_000 - 220 - 550, cash[1])
    tokens, _, _, _ = after
    assert (c.collection_id, 1, _user_id(site, BUYER), "held") in tokens


def test_buying_a_listing_shows_its_split_and_a_halt_refuses_it(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    c = _collection(site, SELLER)
    _settings(site, c, fee_rate="0.025", royalty_rate="0.05")
    seller, buyer = another_browser, browser
    seller.login(T, SELLER)
    buyer.login(T, BUYER)
    page = f"/{T}/market/{c.collection_id}"
    listed = seller.submit(page, f"{page}/list", {"row": "list-1", "serial": "1", "price": "88.88"})
    assert listed.status_code == 303
    # The seller sees their own listing, without a buy form.
    mine = seller.get(page).text
    assert 'data-testid="listing-mine"' in mine
    assert 'data-testid="act-take"' not in mine
    _deposit(buyer, "100.00")
    order_id = _listing_id(buyer, page, "88.88")
    row = f"take-{order_id}"
    shown = buyer.get(page).text
    form = re.search(rf'data-row="{row}".*?</form>', shown, re.S)
    assert form is not None
    assert re.search(r'data-testid="pv-fee">¥2\.22<', form.group(0))  # floor(8888 × 2.5%)
    assert re.search(r'data-testid="pv-royalty">¥4\.44<', form.group(0))
    assert re.search(r'data-testid="pv-proceeds">¥82\.22<', form.group(0))

    _halt(site, c, True)
    try:
        before = _snapshot(site)
        refused = buyer.submit(page, f"{page}/take", {"row": row, "order": order_id})
        assert refused.status_code == 409
        assert _row_error(refused.text, row).startswith("该藏品已停牌。")
        assert _snapshot(site) == before
    finally:
        _halt(site, c, False)

    cash = _cash(site, BUYER)
    bought = buyer.submit(page, f"{page}/take", {"row": row, "order": order_id})
    assert bought.status_code == 303, bought.text[:800]
    assert bought.headers["location"] == f"{page}?done=bought"
    assert _cash(site, BUYER) == cash - 8_888
    tokens, _, _, _ = _snapshot(site)
    assert (c.collection_id, 1, _user_id(site, BUYER), "held") in tokens
    # Taking it again (a new form key): it is gone; refused with the rules, nothing changed.
    before = _snapshot(site)
    fields = {**buyer.form(page), "row": row, "order": order_id}
    again = buyer.post(f"{page}/take", {**fields, "form_key": "b" * 32})
    assert again.status_code == 404
    unoffered = re.search(r'data-testid="unoffered">([^<]*)<', again.text)
    assert unoffered is not None
    assert unoffered.group(1).startswith("未找到该藏品、订单或协议。")
    assert _snapshot(site) == before


def test_an_agreement_offered_to_me_is_declined_or_accepted(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    c = _collection(site, SELLER, SELLER)
    _settings(site, c, fee_rate="0.02", royalty_rate="0.05")
    seller, buyer = another_browser, browser
    seller.login(T, SELLER)
    buyer.login(T, BUYER)
    page = f"/{T}/market/{c.collection_id}"
    for serial in ("1", "2"):
        offer = {"row": f"offer-{serial}", "serial": serial, "to": BUYER, "price": "50"}
        offered = seller.submit(page, f"{page}/offer", offer)
        assert offered.status_code == 303, offered.text[:800]
    orders = f"/{T}/market/orders"
    mine = seller.get(orders).text
    assert "王伟" in mine  # the buyer by name, not by id
    shown = buyer.get(orders).text
    ids = re.findall(r'data-testid="offer-to-me" data-order-id="(\d+)"', shown)
    assert len(ids) >= 2
    first, second = ids[-2], ids[-1]
    box = re.search(rf'data-order-id="{first}" data-row=.*?</article>', shown, re.S)
    assert box is not None
    assert "李娜" in box.group(0)
    assert re.search(r'data-testid="pv-fee">¥1\.00<', box.group(0))
    assert re.search(r'data-testid="pv-royalty">¥2\.50<', box.group(0))
    assert re.search(r'data-testid="pv-proceeds">¥46\.50<', box.group(0))

    # Refusals: the seller cannot accept their own offer (it names someone else); a halt.
    before = _snapshot(site)
    fields = {**seller.form(orders), "row": f"to-{first}"}
    not_named = seller.post(f"/{T}/market/orders/{first}/accept", fields)
    assert not_named.status_code == 404
    unplaced = re.search(r'data-testid="unplaced">([^<]*)<', not_named.text)
    assert unplaced is not None
    assert unplaced.group(1).startswith("未找到该藏品、订单或协议。")
    _halt(site, c, True)
    try:
        halted = buyer.submit(orders, f"/{T}/market/orders/{first}/accept", {"row": f"to-{first}"})
        assert halted.status_code == 409
        assert _row_error(halted.text, f"to-{first}").startswith("该藏品已停牌。")
    finally:
        _halt(site, c, False)
    assert _snapshot(site) == before

    declined = buyer.submit(orders, f"/{T}/market/orders/{second}/decline",
                            {"row": f"to-{second}"})  # fmt: skip
    assert declined.status_code == 303, declined.text[:800]
    assert declined.headers["location"] == f"{orders}?done=declined"
    assert f'data-order-id="{second}"' not in buyer.get(orders).text
    assert re.search(rf'data-order-id="{second}" data-status="cancelled"', seller.get(orders).text)

    _deposit(buyer, "50.00")
    cash, seller_cash = _cash(site, BUYER), _cash(site, SELLER)
    accepted = buyer.submit(orders, f"/{T}/market/orders/{first}/accept", {"row": f"to-{first}"})
    assert accepted.status_code == 303, accepted.text[:800]
    assert accepted.headers["location"] == f"{orders}?done=accepted"
    assert _cash(site, BUYER) == cash - 5_000
    assert _cash(site, SELLER) == seller_cash + 4_650
    tokens, _, _, _ = _snapshot(site)
    assert (c.collection_id, 1, _user_id(site, BUYER), "held") in tokens
    assert (c.collection_id, 2, _user_id(site, SELLER), "held") in tokens


def _trade(site: Site, c: Collection, price: int, seller: str, buyer: str, flagged: bool) -> None:
    now = utc_now()
    with site.app.state.database.unit() as unit:
        unit.market.add_trade(
            TradeRow(
                T, next(_trade_ids), 0, None, "take", c.collection_id, 1, _user_id(site, seller),
                _user_id(site, buyer), c.issuer_merchant_id or "platform", price, 0, 0,
                now.date(), 0, None, flagged, "referral_link" if flagged else None,
                datetime(now.year, now.month, now.day, 1, 0, tzinfo=now.tzinfo),
            )
        )  # fmt: skip


def test_the_console_lists_trades_by_collection_and_flag_a_page_at_a_time(site: Site) -> None:
    c = _collection(site, SELLER, name="对账用藏品")
    other = _collection(site, SELLER, name="另一个藏品")
    for n in range(52):
        _trade(site, c, 1_000 + n, SELLER, BUYER, flagged=n % 2 == 0)
    _trade(site, other, 7_777, BUYER, SELLER, flagged=False)
    admin = _admin(site)
    try:
        market = admin.get(f"/{T}/admin/market").text
        assert f'href="/{T}/admin/market/trades"' in market
        page = f"/{T}/admin/market/trades"
        first = admin.get(page, params={"collection": c.collection_id})
        assert first.status_code == 200
        rows = re.findall(r'data-testid="trade" data-trade-id="(\d+)"', first.text)
        assert len(rows) == 50
        assert re.search(r'data-testid="count">52<', first.text)
        assert re.search(r'data-testid="flagged-count">26<', first.text)
        cells = re.findall(r'data-testid="trade-seller">([^<]*)<', first.text)
        assert set(cells) == {"李娜"}  # by name; the user id is not the label
        assert _user_id(site, SELLER) not in first.text
        assert "对账用藏品" in first.text
        assert "另一个藏品" not in re.search(r"<tbody>.*</tbody>", first.text, re.S).group(0)  # type: ignore[union-attr]
        link = re.search(r'href="([^"]+)" data-testid="next-page"', first.text)
        assert link is not None
        second = admin.get(link.group(1).replace("&amp;", "&"))
        rest = re.findall(r'data-testid="trade" data-trade-id="(\d+)"', second.text)
        assert len(rest) == 2
        assert not set(rest) & set(rows)
        assert 'data-testid="next-page"' not in second.text

        flagged = admin.get(page, params={"collection": c.collection_id, "flagged": "1"}).text
        marks = re.findall(r'data-trade-id="\d+" data-flagged="(\w+)"', flagged)
        assert len(marks) == 26
        assert set(marks) == {"true"}
        assert "推荐关系相关" in flagged

        csv = admin.get(f"{page}.csv")
        assert csv.status_code == 200
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.startswith("trade_id,created_at,")
        assert "77.77" in csv.text
    finally:
        admin.close()
    consumer = Browser(site.base_url)
    try:
        consumer.login(T, SELLER)
        assert consumer.get(f"/{T}/admin/market/trades").status_code == 403
        assert consumer.get(f"/{T}/admin/market/trades.csv").status_code == 403
    finally:
        consumer.close()
