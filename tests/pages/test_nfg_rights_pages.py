"""The NFG rights' pages over real HTTP without JavaScript (SQLite and PostgreSQL), on the
demo's wine brand with its collections (``demo/nfg.py``): the consumer's collection with a
redeem button (no address: the message next to the field, nothing changed), cancelling it, the
console's entry scan (passed: recorded and shown; refused: the reason, nothing recorded) and
the console's redemptions delivered (the token burned); a redemption as a mall order: in the
consumer's orders and collection, in the console's orders list named as a redemption, shipped
with the order page's ship form, received by its owner (burned) or cancelled from the console
before shipping (held again), with no refund offered."""

from __future__ import annotations

from pages_helpers import Browser, Site, field_error

from tokenmall.demo import nfg as demo_nfg
from tokenmall.domain.nfg.records import TokenState

TENANT = demo_nfg.TENANT_ID
REDEEM = f"/{TENANT}/nfg/redeem"
SCAN = f"/{TENANT}/admin/nfg/scan"
REDEMPTIONS = f"/{TENANT}/admin/nfg/redemptions"
MINE = f"/{TENANT}/nfg/mine"
VINTAGE = demo_nfg.VINTAGE_ID
CARD = demo_nfg.BLACK_CARD_ID


def _seeded(site: Site) -> None:
    demo_nfg.seed(site.app.state.database, site.app.state.log_config, base_url=site.base_url)


def _state(site: Site, collection_id: str, serial: int) -> TokenState:
    with site.app.state.database.reading() as unit:
        token = unit.nfg.get_token(TENANT, collection_id, serial)
    assert token is not None
    return token.state


def _uses(site: Site, collection_id: str, serial: int) -> int:
    with site.app.state.database.reading() as unit:
        return len(unit.nfg.right_uses(TENANT, collection_id, serial))


def test_the_consumer_redeems_from_their_collection_and_cancels(
    site: Site, browser: Browser
) -> None:
    _seeded(site)
    browser.login(TENANT, "li.na@wine.demo")
    shown = browser.get(REDEEM)
    assert shown.status_code == 200
    assert "醇香 2015 珍藏赤霞珠" in shown.text
    assert f'data-token="{VINTAGE}/1"' in shown.text
    assert 'data-testid="redeem"' in shown.text
    me = browser.get(f"/{TENANT}/me").text
    assert f'href="{REDEEM}"' in me
    data = {"collection_id": VINTAGE, "serial": "1"}
    refused = browser.submit(REDEEM, REDEEM, {**data, "address_id": ""})
    assert refused.status_code == 422
    assert field_error(refused.text, "address_id")
    assert _state(site, VINTAGE, 1) == TokenState.HELD
    with site.app.state.database.reading() as unit:
        owner = unit.nfg.get_token(TENANT, VINTAGE, 1)
        assert owner is not None
        address = unit.addresses.default_of(TENANT, owner.owner_id)
    assert address is not None
    done = browser.submit(REDEEM, REDEEM, {**data, "address_id": address.address_id})
    assert done.status_code == 303
    assert _state(site, VINTAGE, 1) == TokenState.REDEEMING
    page = browser.get(done.headers["location"]).text
    assert 'data-testid="redeemed"' in page
    assert 'data-testid="cancel-redemption"' in page
    rid = page.split('data-redemption-id="', 1)[1].split('"', 1)[0]
    cancel = f"/{TENANT}/nfg/redemptions/{rid}/cancel"
    assert browser.submit(REDEEM, cancel, {}).status_code == 303
    assert _state(site, VINTAGE, 1) == TokenState.HELD


def test_the_console_scans_an_entry_right_and_delivers_a_redemption(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    _seeded(site)
    browser.login(TENANT, "cellar@wine.demo")
    certificate = f"{site.base_url}/{TENANT}/c/{CARD}/1"
    prefilled = browser.get(SCAN, params={"certificate": certificate})
    assert prefilled.status_code == 200
    assert f'value="{certificate}"' in prefilled.text
    before = _uses(site, CARD, 1)
    passed = browser.submit(SCAN, SCAN, {"certificate": certificate, "note": "品鉴会"})
    assert passed.status_code == 303
    shown = browser.get(passed.headers["location"]).text
    assert 'data-testid="entry-ok"' in shown
    assert _uses(site, CARD, 1) == before + 1
    wrong = browser.submit(SCAN, SCAN, {"certificate": f"/{TENANT}/c/{VINTAGE}/1"})
    assert wrong.status_code == 409
    assert field_error(wrong.text, "certificate")
    assert 'data-testid="entry-refused"' in wrong.text
    assert _uses(site, VINTAGE, 1) == 0
    # A consumer asks for a bottle; the cellar delivers it from the console: the token burns.
    another_browser.login(TENANT, "wang.wei@wine.demo")
    with site.app.state.database.reading() as unit:
        token = unit.nfg.get_token(TENANT, VINTAGE, 3)
        assert token is not None
        address = unit.addresses.default_of(TENANT, token.owner_id)
    assert address is not None
    asked = another_browser.submit(
        REDEEM,
        REDEEM,
        {"collection_id": VINTAGE, "serial": "3", "address_id": address.address_id},
    )
    assert asked.status_code == 303
    listed = browser.get(REDEMPTIONS).text
    rid = listed.split('data-redemption-id="', 1)[1].split('"', 1)[0]
    deliver = f"{REDEMPTIONS}/{rid}/deliver"
    assert browser.submit(REDEMPTIONS, deliver, {}).status_code == 303
    assert _state(site, VINTAGE, 3) == TokenState.REDEEMED
    # A consumer never opens the console's pages.
    assert another_browser.get(SCAN).status_code in (303, 403, 404)


def _redeem_vintage(site: Site, browser: Browser, serial: int) -> str:
    """The owner of the vintage bottle ``serial`` redeems it from their collection page; the
    order's id."""
    with site.app.state.database.reading() as unit:
        token = unit.nfg.get_token(TENANT, VINTAGE, serial)
        assert token is not None
        address = unit.addresses.default_of(TENANT, token.owner_id)
    assert address is not None
    data = {"collection_id": VINTAGE, "serial": str(serial), "address_id": address.address_id}
    asked = browser.submit(REDEEM, REDEEM, data)
    assert asked.status_code == 303
    page = browser.get(REDEEM).text
    return page.split(f'href="/{TENANT}/orders/', 1)[1].split('"', 1)[0]


def test_a_redemption_is_an_order_shipped_received_or_cancelled_from_the_pages(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    _seeded(site)
    another_browser.login(TENANT, "li.na@wine.demo")
    browser.login(TENANT, "cellar@wine.demo")
    # Redeemed, then cancelled from the console's order page before shipping: held again.
    first = _redeem_vintage(site, another_browser, 1)
    page = f"/{TENANT}/admin/orders/{first}"
    assert 'data-testid="cancel-redemption"' in browser.get(page).text
    cancelled = browser.submit(page, f"{page}/cancel", {})
    assert cancelled.status_code == 303
    assert 'data-testid="order-cancelled"' in browser.get(cancelled.headers["location"]).text
    assert _state(site, VINTAGE, 1) == TokenState.HELD
    assert 'data-testid="cancel-redemption"' not in browser.get(page).text
    # Redeemed again: the consumer's orders and collection show it.
    order_id = _redeem_vintage(site, another_browser, 1)
    mine = another_browser.get(f"/{TENANT}/orders").text
    assert f'href="/{TENANT}/orders/{order_id}"' in mine
    assert 'data-testid="order-redemption"' in mine
    own = f"/{TENANT}/orders/{order_id}"
    order_page = another_browser.get(own).text
    assert f"{VINTAGE}/1" in order_page
    assert 'data-testid="order-redemption"' in order_page
    assert "/refund" not in order_page  # a redemption is never refunded
    collection = another_browser.get(MINE, params={"lang": "en"}).text
    assert "redeeming" in collection
    # The merchant's console lists it as a redemption and ships it with a tracking number.
    listed = browser.get(f"/{TENANT}/admin/orders").text
    row = listed.split(f'data-order="{order_id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="order-redemption"' in row
    page = f"/{TENANT}/admin/orders/{order_id}"
    assert 'data-testid="ship-form"' in browser.get(page).text
    shipped = browser.submit(
        page, f"{page}/ship", {"carrier": "顺丰速运", "tracking_number": "SF9000000001"}
    )
    assert shipped.status_code == 303
    assert _state(site, VINTAGE, 1) == TokenState.REDEEMING
    # The owner confirms receipt on the order page: the token burns.
    assert "SF9000000001" in another_browser.get(own).text
    assert another_browser.submit(own, f"{own}/confirm", {}).status_code == 303
    assert _state(site, VINTAGE, 1) == TokenState.REDEEMED
