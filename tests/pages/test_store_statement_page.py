"""The merchant's store statement (店铺流水, SQLite and PostgreSQL): a trade of the store's
collection pays it a royalty, the payout shows as a 版税收入 line of the store's cash; the owner
asks to withdraw part of it from the page, an admin approves it, and the page shows the store's
cash, the withdrawal and its lines. Asking for more than the store holds is refused next to the
amount and changes nothing; a consumer has no store. Chinese first, English on ``?lang=en``."""

from __future__ import annotations

import re
import uuid

from pages_helpers import Browser, Site
from sqlalchemy import update

from nfg_tokens import make_collection
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.nfg.tables import nfg_collections
from tokenmall.demo import living as demo
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import journal, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.market import orders, royalties, trading
from tokenmall.services.market.state import business_day
from tokenmall.web.pages import statement as statement_page

T = demo.TENANT_ID
SELLER = "li.na@wine.demo"
BUYER = "wang.wei@wine.demo"
OWNER = demo.MERCHANTS[0][0]
PAGE = f"/{T}/store/statement"
WITHDRAW = f"/{T}/store/withdrawals"


def _user_id(site: Site, email: str) -> str:
    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, T, email)
    assert found is not None
    return str(found[0])


def _caller(user_id: str, role: Role = Role.CONSUMER) -> Principal:
    return Principal("session", "test", user_id, T, role)


def _store_cash(html: str) -> str:
    found = re.search(r'data-testid="store-cash">([^<]*)<', html)
    assert found is not None, "no store cash"
    return found.group(1)


def _royalty_paid_to_the_store(site: Site) -> str:
    """A trade of 100.00 of the store's collection (royalty 5%), paid out: the store's id."""
    app, now = site.app, utc_now()
    owner, seller, buyer = (_user_id(site, e) for e in (OWNER, SELLER, BUYER))
    with app.state.database.unit() as unit:
        found = unit.catalogue.merchant_of_owner(T, owner)
        assert found is not None
        store = str(found.merchant_id)
        people_repo.set_user_fields(unit.conn, T, owner, kyc_status="verified")
    col = make_collection(app.state.database, app.state.log_config, T, [seller])
    with app.state.database.unit() as unit:
        unit.conn.execute(
            update(nfg_collections)
            .where(nfg_collections.c.tenant_id == T,
                   nfg_collections.c.collection_id == col.collection_id)
            .values(issuer_merchant_id=store)
        )  # fmt: skip
    admin = Browser(site.base_url)
    try:
        admin.login(T, demo.ADMIN_EMAIL)
        settings = f"/{T}/admin/market/collections/{col.collection_id}"
        saved = admin.submit(settings, settings, {"which": "settings", "royalty_rate": "0.05"})
        assert saved.status_code == 303, saved.text[:800]
    finally:
        admin.close()
    config = app.state.log_config
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
    with app.state.database.unit() as unit:
        made = royalties.pay_out(unit, T, business_day(now), now)
    assert [(p.issuer_id, p.amount) for p in made if p.issuer_id == store] == [(store, 500)]
    return store


def test_the_store_withdraws_its_royalty_income_from_its_statement(site: Site) -> None:
    store = _royalty_paid_to_the_store(site)
    owner = Browser(site.base_url)
    try:
        owner.login(T, OWNER)
        assert f'href="{PAGE}"' in owner.get(f"/{T}/me").text
        shown = owner.get(PAGE)
        assert shown.status_code == 200, shown.text[:800]
        assert "店铺流水" in shown.text
        assert re.search(r'data-code="royalty_payout">.*?版税收入.*?\+¥5\.00', shown.text, re.S)
        cash = _store_cash(shown.text)
        assert "5.00" in cash
        refused = owner.submit(PAGE, WITHDRAW, {"amount": "999999.00"})
        assert refused.status_code == 409, refused.text[:800]
        assert _store_cash(owner.get(PAGE).text) == cash
        asked = owner.submit(PAGE, WITHDRAW, {"amount": "2.00"})
        assert asked.status_code == 303, asked.text[:800]
        after = owner.get(asked.headers["location"]).text
        assert 'data-testid="store-withdrawals"' in after
        assert "2.00" in re.sub(r"\s+", " ", after)
        english = owner.get(f"{PAGE}?lang=en").text
        assert "Royalty income" in english
        assert "Store statement" in english
    finally:
        owner.close()
    with site.app.state.database.unit() as unit:
        uow = MallUnitOfWork.joining(unit.conn)
        (pending,) = [
            w
            for w in uow.withdrawals.list(T, user_id=None, status="pending", after=None, limit=200)
            if w.merchant_id == store
        ]
        admin_id = _user_id(site, demo.ADMIN_EMAIL)
        paid = withdrawals.approve(uow, _caller(admin_id, Role.ADMIN), T, pending.withdrawal_id,
                                   utc_now())  # fmt: skip
        assert paid.status == "paid"
    admin = Browser(site.base_url)
    try:
        admin.login(T, demo.ADMIN_EMAIL)
        listed = admin.get(f"/{T}/admin/withdrawals?status=paid").text
        assert 'data-testid="store-withdrawal"' in listed
    finally:
        admin.close()
    consumer = Browser(site.base_url)
    try:
        consumer.login(T, SELLER)
        assert consumer.get(PAGE).status_code in (403, 404)
    finally:
        consumer.close()


def _store_withdrawals_shown(html: str) -> list[str]:
    section = html.split('data-testid="store-withdrawals"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-withdrawal="([^"]+)"', section)


def test_the_stores_withdrawals_are_paged_in_a_stable_order(site: Site) -> None:
    """More than two pages of the store's withdrawals: each page follows the one before in id
    order, the last has no "more" link, and a second walk shows the same pages."""
    app, now = site.app, utc_now()
    owner_id = _user_id(site, OWNER)
    with app.state.database.unit() as unit:
        found = unit.catalogue.merchant_of_owner(T, owner_id)
        assert found is not None
        store = str(found.merchant_id)
        people_repo.set_user_fields(unit.conn, T, owner_id, kyc_status="verified")
        journal.run(
            unit.conn,
            c.MarketDeposit(
                tenant_id=T, idempotency_key=f"page-store:{uuid.uuid4().hex}", user=store,
                ref=f"dep_{uuid.uuid4().hex[:20]}", amount_fen=100_000,
            ),
        )  # fmt: skip
    owner = _caller(owner_id, Role.MERCHANT)
    for _ in range(2 * statement_page.PAGE_WITHDRAWALS + 3):
        with app.state.database.unit() as unit:
            withdrawals.request(MallUnitOfWork.joining(unit.conn), owner, T, "1.00", now, store)
    with app.state.database.unit() as unit:
        every = withdrawals.list_withdrawals(
            MallUnitOfWork.joining(unit.conn), owner, T, status=None, user_id=None, after=None,
            limit=200, merchant_id=store,
        )  # fmt: skip
    expected = [w.withdrawal_id for w in every]
    browser = Browser(site.base_url)
    try:
        browser.login(T, OWNER)

        def walk() -> list[list[str]]:
            pages, path = [], PAGE
            while True:
                shown = browser.get(path)
                assert shown.status_code == 200, shown.text[:500]
                pages.append(_store_withdrawals_shown(shown.text))
                more = re.search(r'data-testid="withdrawals-more" href="([^"]+)"', shown.text)
                if more is None:
                    return pages
                path = more.group(1).replace("&amp;", "&")

        pages = walk()
        assert len(pages) >= 3
        assert all(len(p) == statement_page.PAGE_WITHDRAWALS for p in pages[:-1])
        assert [w for p in pages for w in p] == expected
        assert walk() == pages
        english = browser.get(f"{PAGE}?lang=en&withdrawals_after={pages[0][-1]}").text
        assert 'data-testid="withdrawals-first"' in english
        assert "First page" in english
        assert _store_withdrawals_shown(english) == pages[1]
    finally:
        browser.close()


def test_a_bad_withdrawals_page_parameter_is_a_422_naming_it(site: Site) -> None:
    browser = Browser(site.base_url)
    try:
        browser.login(T, OWNER)
        for bad in ("wdr_<b>", "x" * 41, "a b"):
            answer = browser.get(PAGE, params={"withdrawals_after": bad})
            assert answer.status_code == 422, answer.text[:300]
            assert "withdrawals_after" in answer.text
            assert "Traceback" not in answer.text
    finally:
        browser.close()
