"""The market's pages (文交所) over real HTTP without JavaScript, on SQLite and PostgreSQL: the
market's index, a collection's page (market data, the K-line's table, depth, the forms the
profile offers with their preview), one's orders with cancel, and the console's profile (with
its confirmation), collection settings, halt and holidays. Every refusal is shown next to the
action it refused, with the market's sentence, and nothing changed.

Trades are written straight into ``market_trades`` (taking a listing is the next slice), so
the K-line and the last price have something to show."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from pages_helpers import Browser, Site, field_error
from sqlalchemy import select

from nfg_tokens import make_collection
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.market.tables import market_orders
from tokenmall.adapters.db.market.trades import TradeRow
from tokenmall.adapters.db.nfg.tables import nfg_tokens
from tokenmall.demo import living as demo
from tokenmall.domain.nfg.records import Collection
from tokenmall.services.mall.uow import utc_now

T = demo.TENANT_ID
SELLER = "li.na@wine.demo"
BUYER = "wang.wei@wine.demo"
_trade_ids = iter(range(900_000_001, 900_100_000))


def _user_id(site: Site, email: str) -> str:
    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, T, email)
    assert found is not None
    return str(found[0])


def _collection(site: Site, *owners: str, name: str = "醇香 2019 编号酒") -> Collection:
    app = site.app
    ids = [_user_id(site, email) for email in owners]
    return make_collection(app.state.database, app.state.log_config, T, ids, name=name)


def _trade(site: Site, c: Collection, price: int, day: date, seller: str, buyer: str) -> None:
    when = datetime(day.year, day.month, day.day, 2, 0, tzinfo=utc_now().tzinfo)
    with site.app.state.database.unit() as unit:
        unit.market.add_trade(
            TradeRow(
                T, next(_trade_ids), 0, None, "take", c.collection_id, 1, _user_id(site, seller),
                _user_id(site, buyer), c.issuer_merchant_id or "platform", price, 0, 0, day, 0,
                None, False, None, when,
            )
        )  # fmt: skip


def _snapshot(site: Site) -> tuple[list[Any], list[Any]]:
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
    return [tuple(r) for r in tokens], [tuple(r) for r in orders]


def _row_error(html: str, row: str) -> str:
    """The message shown inside the form of ``row`` (its field or the form's own)."""
    form = re.search(rf'<form[^>]*data-row="{re.escape(row)}"[^>]*>(.*?)</form>', html, re.S)
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
        answer = admin.submit(page, page, values)
        assert answer.status_code == 303, answer.text[:800]
    finally:
        admin.close()


def test_index_and_collection_show_market_data_candles_and_depth(
    site: Site, browser: Browser
) -> None:
    c = _collection(site, SELLER, SELLER, BUYER)
    today = utc_now().date()
    _trade(site, c, 10_000, today - timedelta(days=3), SELLER, BUYER)
    _trade(site, c, 11_000, today - timedelta(days=3), BUYER, SELLER)
    _trade(site, c, 10_500, today - timedelta(days=1), SELLER, BUYER)
    browser.login(T, SELLER)
    page = f"/{T}/market/{c.collection_id}"
    listed = browser.submit(page, f"{page}/list", {"row": "list-2", "serial": "2", "price": "120"})
    assert listed.status_code == 303, listed.text[:800]
    assert listed.headers["location"] == f"{page}?done=listed"

    index = browser.get(f"/{T}/market")
    assert index.status_code == 200
    row = re.search(rf'data-collection-id="{c.collection_id}".*?</li>', index.text, re.S)
    assert row is not None
    assert "地板价" in row.group(0)
    assert re.search(r'data-testid="floor">¥120\.00<', row.group(0))
    assert re.search(r'data-testid="last-price">¥105\.00<', row.group(0))
    assert re.search(r'data-testid="holders">2<', row.group(0))
    assert "不承诺任何收益" in index.text

    shown = browser.get(page).text
    assert "日K线" in shown
    assert re.search(r'data-testid="floor">¥120\.00<', shown)
    assert re.search(r'data-testid="highest-bid">—<', shown)
    assert re.search(r'data-testid="last-price">¥105\.00<', shown)
    candles = re.findall(r'data-testid="candle" data-day="([0-9-]+)"><td>[^<]*</td>'
                         r'<td class="num">([^<]*)</td><td class="num">([^<]*)</td>'
                         r'<td class="num">([^<]*)</td><td class="num">([^<]*)</td>'
                         r'<td class="num">(\d+)</td>', shown)  # fmt: skip
    old, recent = (today - timedelta(days=3)).isoformat(), (today - timedelta(days=1)).isoformat()
    assert candles == [
        (recent, "105.00", "105.00", "105.00", "105.00", "1"),
        (old, "100.00", "110.00", "100.00", "110.00", "2"),
    ]
    assert 'id="kline-chart" data-kline' in shown
    assert f'"day": "{old}", "open": "100.00"' in shown  # the chart's JSON block
    asks = re.search(r'data-testid="asks">.*?</table>', shown, re.S)
    assert asks is not None
    assert "¥120.00" in asks.group(0)
    # The listed token offers no form; the held one offers the open profile's three.
    assert 'data-row="list-1"' in shown
    assert 'data-row="offer-1"' in shown
    assert 'data-row="gift-1"' in shown
    assert 'data-row="list-2"' not in shown
    english = browser.get(page, params={"lang": "en"}).text
    assert "Floor price" in english
    assert "Daily K-line" in english
    browser.get(page, params={"lang": "zh_CN"})


def test_list_preview_refusals_and_cancel(site: Site, browser: Browser) -> None:
    c = _collection(site, SELLER)
    _settings(site, c, fee_rate="0.025", royalty_rate="0.05")
    browser.login(T, SELLER)
    page = f"/{T}/market/{c.collection_id}"
    action = f"{page}/list"
    before = _snapshot(site)
    # The preview, without JavaScript (the form's preview button) and as HTMX's partial.
    previewed = browser.submit(page, action, {"row": "list-1", "serial": "1", "price": "99.99",
                                              "do": "preview"})  # fmt: skip
    assert previewed.status_code == 200
    assert re.search(r'data-testid="pv-fee">¥2\.49<', previewed.text)  # floor(9999 × 0.025)
    assert re.search(r'data-testid="pv-royalty">¥4\.99<', previewed.text)
    assert re.search(r'data-testid="pv-proceeds">¥92\.51<', previewed.text)
    partial = browser.get(f"{page}/preview", params={"row": "list-1", "price": "200"})
    assert partial.status_code == 200
    assert re.search(r'data-testid="pv-proceeds">¥185\.00<', partial.text)
    assert "<html" not in partial.text
    bad_partial = browser.get(f"{page}/preview", params={"row": "list-1", "price": "1.234"},
                              headers={"HX-Request": "true"})  # fmt: skip
    assert field_error(bad_partial.text, "price")
    assert _snapshot(site) == before

    # Refusals, each next to the form it refused, nothing changed.
    bad = browser.submit(page, action, {"row": "list-1", "serial": "1", "price": "1.234"})
    assert bad.status_code == 422
    assert _row_error(bad.text, "list-1").startswith("输入有误")
    halt = f"/{T}/admin/market/collections/{c.collection_id}/halt"
    admin = _admin(site)
    try:
        halted = admin.submit(halt.rsplit("/", 1)[0], halt, {"halted": "true"})
        assert halted.status_code == 303
        refused = browser.submit(page, action, {"row": "list-1", "serial": "1", "price": "120"})
        assert refused.status_code == 409
        assert _row_error(refused.text, "list-1").startswith("该藏品已停牌。")
        assert 'data-testid="halted"' in refused.text
        assert _snapshot(site) == before
        english = browser.submit(page + "?lang=en", action,
                                 {"row": "list-1", "serial": "1", "price": "120"})  # fmt: skip
        assert _row_error(english.text, "list-1").startswith("halted: Trading")
        browser.get(page, params={"lang": "zh_CN"})
        resumed = admin.submit(halt.rsplit("/", 1)[0], halt, {"halted": "false"})
        assert resumed.status_code == 303
    finally:
        admin.close()

    fields = {**browser.form(page, action), "row": "list-1", "serial": "1", "price": "120"}
    listed = browser.post(action, fields)
    assert listed.status_code == 303
    again = browser.post(action, fields)  # a double submit replays the first answer
    assert again.status_code == 303
    assert again.headers["location"] == listed.headers["location"]
    orders = browser.get(f"/{T}/market/orders").text
    mine = rf'data-order-id="(\d+)" data-status="open" data-collection-id="{c.collection_id}"'
    (order_id,) = re.findall(mine, orders)
    assert "挂单" in orders
    cancel = f"/{T}/market/orders/{order_id}/cancel"
    done = browser.submit(f"/{T}/market/orders", cancel, {"row": order_id})
    assert done.status_code == 303
    assert re.search(rf'data-order-id="{order_id}" data-status="cancelled"',
                     browser.get(f"/{T}/market/orders").text)  # fmt: skip
    after = _snapshot(site)
    # Cancelling it again (a new form key): refused next to the order, nothing changed.
    fields = {**browser.form(page), "row": order_id}
    refused = browser.post(cancel, {**fields, "form_key": "a" * 32})
    assert refused.status_code == 404
    assert "未找到该藏品、订单或协议。" in refused.text
    assert _snapshot(site) == after


def test_offer_and_gift_name_the_other_user(site: Site, browser: Browser) -> None:
    c = _collection(site, SELLER, SELLER)
    browser.login(T, SELLER)
    page = f"/{T}/market/{c.collection_id}"
    before = _snapshot(site)
    unknown = browser.submit(page, f"{page}/offer",
                             {"row": "offer-1", "serial": "1", "to": "nobody@wine.demo",
                              "price": "88"})  # fmt: skip
    assert unknown.status_code == 404
    assert field_error(unknown.text, "to")
    assert _row_error(unknown.text, "offer-1").startswith("未找到")
    to_self = browser.submit(page, f"{page}/gift", {"row": "gift-2", "serial": "2", "to": SELLER})
    assert to_self.status_code == 422
    assert _row_error(to_self.text, "gift-2").startswith("输入有误")
    assert _snapshot(site) == before

    offer = {"row": "offer-1", "serial": "1", "to": BUYER, "price": "88"}
    offered = browser.submit(page, f"{page}/offer", offer)
    assert offered.status_code == 303, offered.text[:800]
    orders = browser.get(f"/{T}/market/orders").text
    assert "协议转让" in orders
    assert _user_id(site, BUYER) in orders
    given = browser.submit(page, f"{page}/gift", {"row": "gift-2", "serial": "2", "to": BUYER})
    assert given.status_code == 303, given.text[:800]
    tokens, _ = _snapshot(site)
    assert (c.collection_id, 2, _user_id(site, BUYER), "held") in tokens
    assert 'data-row="gift-2"' not in browser.get(page).text


def test_admin_settings_holidays_and_their_refusals(site: Site) -> None:
    c = _collection(site, SELLER)
    admin = _admin(site)
    try:
        home = admin.get(f"/{T}/admin/market")
        assert home.status_code == 200
        assert f'href="/{T}/admin/market"' in home.text  # the console's navigation
        assert "合规模式" in home.text
        page = f"/{T}/admin/market/collections/{c.collection_id}"
        before = admin.get(page).text
        bad = admin.submit(page, page, {"which": "settings", "fee_rate": "1.5"})
        assert bad.status_code == 422
        assert field_error(bad.text, "fee_rate")
        assert admin.get(page).text.count('value="0"') == before.count('value="0"')
        saved = admin.submit(page, page, {"which": "settings", "fee_rate": "0.02",
                                          "band": "0.1", "holder_limit": "50"})  # fmt: skip
        assert saved.status_code == 303
        shown = admin.get(saved.headers["location"]).text
        assert 'value="0.02"' in shown
        assert "50 人" in shown
        holidays = f"/{T}/admin/market/holidays"
        wrong = admin.submit(
            f"/{T}/admin/market", holidays, {"which": "holiday", "day": "2027-13-01"}
        )
        assert wrong.status_code == 422
        assert field_error(wrong.text, "day")
        day = {"which": "holiday", "day": "2027-02-10", "workday": "false"}
        added = admin.submit(f"/{T}/admin/market", holidays, day)
        assert added.status_code == 303
        assert 'data-day="2027-02-10"' in admin.get(f"/{T}/admin/market").text
    finally:
        admin.close()
    consumer = Browser(site.base_url)
    try:
        consumer.login(T, SELLER)
        assert consumer.get(f"/{T}/admin/market").status_code == 403
    finally:
        consumer.close()


def test_a_profile_change_asks_first_then_closes_open_orders(site: Site, browser: Browser) -> None:
    c = _collection(site, SELLER, SELLER)
    browser.login(T, SELLER)
    page = f"/{T}/market/{c.collection_id}"
    listed = browser.submit(page, f"{page}/list", {"row": "list-1", "serial": "1", "price": "50"})
    assert listed.status_code == 303
    admin = _admin(site)
    market = f"/{T}/admin/market"
    try:
        open_now = int(re.search(r'data-testid="open-orders">(\d+)<', admin.get(market).text)
                       .group(1))  # type: ignore[union-attr]  # fmt: skip
        assert open_now >= 1
        before = _snapshot(site)
        asked = admin.submit(market, f"{market}/profile",
                             {"which": "profile", "profile": "cn-gift-only"})  # fmt: skip
        assert asked.status_code == 200
        assert 'data-testid="confirm-profile"' in asked.text
        assert f"{open_now} 个未成交订单将被撤销" in asked.text
        assert _snapshot(site) == before
        fields = {k: v for k, v in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
            re.search(r'data-testid="confirm-profile">.*?</form>', asked.text, re.S).group(0),  # type: ignore[union-attr]
        )}  # fmt: skip
        assert fields["confirm"] == "1"
        done = admin.post(f"{market}/profile", fields)
        assert done.status_code == 303
        assert 'data-profile="cn-gift-only"' in admin.get(market).text
        tokens, orders = _snapshot(site)
        assert all(status != "open" for _, status, _ in orders)
        assert (c.collection_id, 1, _user_id(site, SELLER), "held") in tokens
        assert "profile_changed" in {r for _, _, r in orders}

        # Under cn-gift-only: only the gift form, the profile's sentence, KYC required.
        shown = browser.get(page).text
        assert "仅转赠模式" in shown
        assert 'data-row="gift-1"' in shown
        assert 'data-row="list-1"' not in shown
        assert 'data-row="offer-1"' not in shown
        before = _snapshot(site)
        forbidden = browser.post(f"{page}/list", {**browser.form(page), "row": "list-1",
                                                  "serial": "1", "price": "50"})  # fmt: skip
        assert forbidden.status_code == 403
        unoffered = re.search(r'data-testid="unoffered">([^<]*)<', forbidden.text)
        assert unoffered is not None  # shown with the rules of what the profile offers
        assert unoffered.group(1).startswith("本平台的合规模式不允许此操作。")
        refused = browser.submit(
            page, f"{page}/gift", {"row": "gift-1", "serial": "1", "to": BUYER}
        )
        assert refused.status_code == 403
        assert _row_error(refused.text, "gift-1").startswith("交易双方均须完成实名认证。")
        assert _snapshot(site) == before
    finally:
        back = admin.submit(market, f"{market}/profile",
                            {"which": "profile", "profile": "open", "confirm": "1"})  # fmt: skip
        assert back.status_code == 303
        admin.close()
