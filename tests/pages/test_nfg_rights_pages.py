"""The NFG rights' pages over real HTTP without JavaScript (SQLite and PostgreSQL), on the
demo's wine brand with its collections (``demo/nfg.py``): the consumer's collection with a
redeem button (no address: the message next to the field, nothing changed), cancelling it, the
console's entry scan (passed: recorded and shown; refused: the reason, nothing recorded) and
the console's redemptions delivered (the token burned)."""

from __future__ import annotations

from pages_helpers import Browser, Site, field_error

from tokenmall.demo import nfg as demo_nfg
from tokenmall.domain.nfg.records import TokenState

TENANT = demo_nfg.TENANT_ID
REDEEM = f"/{TENANT}/nfg/redeem"
SCAN = f"/{TENANT}/admin/nfg/scan"
REDEMPTIONS = f"/{TENANT}/admin/nfg/redemptions"
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
