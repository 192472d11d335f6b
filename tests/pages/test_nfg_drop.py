"""The drop's pages without JavaScript: the drops (a countdown rendered by the server, a buy
form), buying (a 303 to the reservation), the reservation with its payment link, points paid
by a form, refusals shown next to the quantity, and the friendly busy page whose retry posts
the same form again."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from pages_helpers import Browser, Site, field_error, hidden_fields
from test_pages import no_traceback

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.store import Store
from tokenmall.demo import living as demo
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.nfg.records import Collection, CollectionStatus, PriceAsset
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.ledger.execute import execute
from tokenmall.services.mall.ids import new_id

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]
DROPS = f"/{TENANT}/nfg/drops"


def _collection(
    site: Site,
    *,
    name: str,
    starts: datetime,
    asset: PriceAsset = PriceAsset.MONEY,
    price: int = 9900,
    edition: int = 5,
    limit: int = 2,
) -> str:
    collection = Collection(
        tenant_id=TENANT,
        collection_id=new_id("col"),
        name=name,
        description="",
        issuer_merchant_id=None,
        edition_size=edition,
        price=price,
        price_asset=asset,
        per_user_limit=limit,
        rights=Rights(),
        status=CollectionStatus.PUBLISHED,
        created_at=datetime.now(UTC),
        sale_starts_at=starts,
    )
    with site.app.state.database.unit() as unit:
        unit.nfg.add_collection(collection)
    return collection.collection_id


def _give_stable(site: Site, email: str) -> None:
    """Stable points for the demo consumer: a purchase's points converted."""
    store = Store(site.app.state.database.engine)
    with store.read() as conn:
        found = people_repo.login_row(conn, TENANT, email)
    assert found is not None
    user, key = str(found[0]), uuid.uuid4().hex
    execute(store, c.Purchase(tenant_id=TENANT, idempotency_key=key, user=user, amount_fen=90_000))
    with store.read() as conn:
        state, _ = store.load_state(conn, TENANT)
        units = store.holder_loader(conn, TENANT)([user])
    points = next(iter(units)).points
    execute(store, c.Convert(tenant_id=TENANT, idempotency_key=key + "c", user=user, units=points))
    assert state is not None


def _buy(browser: Browser, col: str, quantity: str) -> tuple[str, dict[str, str], object]:
    action = f"/{TENANT}/nfg/drops/{col}/buy"
    fields = browser.form(DROPS, action)
    answer = browser.post(action, {**fields, "quantity": quantity})
    return action, fields, answer


def test_drops_show_a_countdown_and_a_buy_form(site: Site, browser: Browser) -> None:
    now = datetime.now(UTC)
    soon = _collection(site, name="2030 年份限量", starts=now + timedelta(hours=2))
    open_ = _collection(site, name="黑卡 首发", starts=now - timedelta(minutes=1))
    page = browser.get(DROPS)
    assert page.status_code == 200
    no_traceback(page)
    assert "首发" in page.text
    upcoming = page.text.split(f'data-collection-id="{soon}"', 1)[1].split("</li>", 1)[0]
    assert 'data-testid="countdown"' in upcoming
    seconds = int(re.search(r"data-seconds=\"(\d+)\"", upcoming).group(1))  # type: ignore[union-attr]
    assert 7000 < seconds <= 7200
    assert "buy-form" not in upcoming
    on_sale = page.text.split(f'data-collection-id="{open_}"', 1)[1].split("</li>", 1)[0]
    assert "登录后抢购" in on_sale  # not logged in: a link to log in
    browser.login(TENANT, CONSUMER)
    on_sale = browser.get(DROPS).text.split(f'data-collection-id="{open_}"', 1)[1]
    assert 'data-testid="buy-form"' in on_sale.split("</li>", 1)[0]
    assert "nfg_drop.js" in page.text


def test_buying_reserves_and_shows_the_payment_link(site: Site, browser: Browser) -> None:
    col = _collection(site, name="首发 A", starts=datetime.now(UTC) - timedelta(minutes=1))
    browser.login(TENANT, CONSUMER)
    _, fields, answer = _buy(browser, col, "1")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    location = answer.headers["location"]  # type: ignore[attr-defined]
    assert location.startswith(f"/{TENANT}/nfg/reservations/rsv_")
    # The same form posted twice (a double click) reserves once.
    again = browser.post(f"/{TENANT}/nfg/drops/{col}/buy", {**fields, "quantity": "1"})
    assert again.headers["location"] == location
    page = browser.get(location)
    assert page.status_code == 200
    assert 'data-status="reserved"' in page.text
    link = re.search(r'href="([^"]+)" data-testid="pay-link"', page.text)
    assert link is not None
    assert "/sandbox/pay/" in link.group(1)
    pay = browser.http.get(link.group(1))
    assert pay.status_code == 200
    approve = browser.http.post(link.group(1), data={"outcome": "approve"})
    assert approve.status_code == 200
    paid = browser.get(location)
    assert 'data-status="assigned"' in paid.text
    assert "#1/5" in paid.text


def test_refusals_name_the_quantity_and_change_nothing(site: Site, browser: Browser) -> None:
    col = _collection(site, name="首发 B", starts=datetime.now(UTC) - timedelta(minutes=1))
    browser.login(TENANT, CONSUMER)
    for quantity in ("0", "3", "x"):
        _, _, answer = _buy(browser, col, quantity)
        assert answer.status_code in (409, 422), quantity  # type: ignore[attr-defined]
        assert field_error(answer.text, "quantity"), quantity  # type: ignore[attr-defined]
    page = browser.get(DROPS).text.split(f'data-collection-id="{col}"', 1)[1].split("</li>")[0]
    assert "剩余 5 份" in page


def test_points_are_paid_by_a_form(site: Site, browser: Browser) -> None:
    col = _collection(
        site,
        name="首发 C",
        starts=datetime.now(UTC) - timedelta(minutes=1),
        asset=PriceAsset.STABLE,
        price=100,
    )
    browser.login(TENANT, CONSUMER)
    _, _, answer = _buy(browser, col, "1")
    location = answer.headers["location"]  # type: ignore[attr-defined]
    page = browser.get(location)
    assert 'data-testid="pay-points"' in page.text
    action = f"{location}/pay"
    short = browser.post(action, hidden_fields(page.text, action))
    assert short.status_code == 409  # no stable points yet: the message on the page
    assert "stable points" in short.text
    _give_stable(site, CONSUMER)
    paid = browser.post(action, hidden_fields(browser.get(location).text, action))
    assert paid.status_code == 303, re.findall(r"<p[^>]*>[^<]*</p>", paid.text)
    assert 'data-status="assigned"' in browser.get(location).text


def test_the_busy_page_retries_the_same_form(site: Site, browser: Browser) -> None:
    col = _collection(site, name="首发 D", starts=datetime.now(UTC) - timedelta(minutes=1))
    browser.login(TENANT, CONSUMER)
    action = f"/{TENANT}/nfg/drops/{col}/buy"
    fields = browser.form(DROPS, action)
    engine = site.app.state.database.engine
    real_connect = engine.connect

    def refuse() -> object:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT 1", {}, Exception("too many connections"))

    engine.connect = refuse  # the database refuses every connection for one press
    try:
        busy = browser.post(action, {**fields, "quantity": "1"})
    finally:
        engine.connect = real_connect
    assert busy.status_code == 503
    assert busy.headers["retry-after"]
    assert "抢购人数" in busy.text
    retry = hidden_fields(busy.text, action)
    assert retry["form_key"] == fields["form_key"]
    assert retry["quantity"] == "1"
    done = browser.post(action, retry)
    assert done.status_code == 303
