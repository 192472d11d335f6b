"""The console's 版税收入 section of the market (SQLite and PostgreSQL): a trade's royalty shows as
accrued to the collection's issuer; the admin's payout moves it into the issuer's cash and
lists the payout; a second payout the same day pays nothing; a consumer's payout is refused and
changes nothing. Chinese first, English on ``?lang=en``."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pages_helpers import Browser, Site
from sqlalchemy import select

from nfg_tokens import make_collection
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.market.tables import market_royalty_payouts
from tokenmall.demo import living as demo
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import journal
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now
from tokenmall.services.market import orders, trading

T = demo.TENANT_ID
SELLER = "li.na@wine.demo"
BUYER = "wang.wei@wine.demo"
MARKET = f"/{T}/admin/market"
PAYOUT = f"/{T}/admin/market/royalties/payout"


def _user_id(site: Site, email: str) -> str:
    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, T, email)
    assert found is not None
    return str(found[0])


def _caller(user_id: str) -> Principal:
    return Principal("session", "test", user_id, T, Role.CONSUMER)


def _platform_accrued(html: str) -> str:
    row = re.search(
        r'data-issuer-id="platform".*?data-testid="royalty-accrued">([^<]*)<', html, re.S
    )
    assert row is not None, "no platform row"
    return row.group(1)


def _payouts(site: Site) -> list[Any]:
    p = market_royalty_payouts.c
    with site.app.state.database.read() as conn:
        found = conn.execute(select(p.payout_id, p.issuer_id, p.amount).where(p.tenant_id == T))
        return sorted(tuple(r) for r in found)


def _sell_one(site: Site) -> None:
    """A trade of 100.00 under a royalty of 5%: 5.00 accrues to the platform (the issuer)."""
    app = site.app
    seller, buyer = _user_id(site, SELLER), _user_id(site, BUYER)
    col = make_collection(app.state.database, app.state.log_config, T, [seller])
    admin = Browser(site.base_url)
    try:
        admin.login(T, demo.ADMIN_EMAIL)
        page = f"/{T}/admin/market/collections/{col.collection_id}"
        saved = admin.submit(page, page, {"which": "settings", "royalty_rate": "0.05"})
        assert saved.status_code == 303, saved.text[:800]
    finally:
        admin.close()
    now, config = utc_now(), app.state.log_config
    with app.state.database.unit() as unit:
        journal.run(
            unit.conn,
            c.MarketDeposit(
                tenant_id=T, idempotency_key=f"page-deposit:{uuid.uuid4().hex}", user=buyer,
                ref=f"dep_{uuid.uuid4().hex[:20]}", amount_fen=20_000,
            ),
        )  # fmt: skip
        listed = orders.list_token(
            unit, _caller(seller), T, col.collection_id, 1, 10_000, now=now, config=config
        ).order_id
        assert listed is not None
        trading.take(unit, _caller(buyer), T, listed, now=now, config=config)


def test_royalty_income_shows_accrued_and_paid_and_pays_out_once(site: Site) -> None:
    _sell_one(site)
    admin = Browser(site.base_url)
    try:
        admin.login(T, demo.ADMIN_EMAIL)
        home = admin.get(MARKET)
        assert home.status_code == 200
        assert "版税收入" in home.text
        assert "5.00" in _platform_accrued(home.text)
        before = _payouts(site)
        consumer = Browser(site.base_url)
        try:
            consumer.login(T, SELLER)
            assert consumer.get(MARKET).status_code == 403
            assert consumer.post(PAYOUT, {"which": "royalties"}).status_code == 403
        finally:
            consumer.close()
        assert _payouts(site) == before
        paid = admin.submit(MARKET, PAYOUT, {"which": "royalties"})
        assert paid.status_code == 303, paid.text[:800]
        assert paid.headers["location"].endswith("saved=royalties")
        shown = admin.get(paid.headers["location"]).text
        assert "版税已结算" in shown
        assert "0.00" in _platform_accrued(shown)
        made = [p for p in _payouts(site) if p not in before]
        assert [(issuer, fen) for _, issuer, fen in made if issuer == "platform"] == [
            ("platform", 500)
        ]
        assert f'data-payout-id="{made[0][0]}"' in shown or len(made) > 1
        again = admin.submit(MARKET, PAYOUT, {"which": "royalties"})
        assert again.status_code == 303
        assert len(_payouts(site)) == len(before) + len(made)
        english = admin.get(f"{MARKET}?lang=en").text
        assert "Royalty income" in english
    finally:
        admin.close()
