"""The console's burn action over real HTTP without JavaScript (SQLite and PostgreSQL), on the
demo's wine brand (``demo/nfg.py``, its cellar the issuing merchant): a collection's tokens
listed from the collections page, a token's page with a burn form, a confirmation step (nothing
burned until it is confirmed), the burn itself (the token burned, a ``burn`` leaf with the
reason in the log, the public certificate showing it), a replayed confirmation changing
nothing, and refusals changing nothing: a locked (redeeming) token, a consumer."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from pages_helpers import Browser, Site, field_error, hidden_fields

from tokenmall.demo import nfg as demo_nfg
from tokenmall.domain.nfg.records import TokenState

TENANT = demo_nfg.TENANT_ID
VINTAGE = demo_nfg.VINTAGE_ID
COLLECTIONS = f"/{TENANT}/admin/nfg/collections"
REDEEM = f"/{TENANT}/nfg/redeem"


def _token_page(serial: int) -> str:
    return f"/{TENANT}/admin/nfg/tokens/{VINTAGE}/{serial}"


@dataclass(frozen=True)
class Snapshot:
    state: TokenState
    owner: str
    burned: int
    log_size: int


def _snapshot(site: Site, serial: int) -> Snapshot:
    with site.app.state.database.reading() as unit:
        token = unit.nfg.get_token(TENANT, VINTAGE, serial)
        collection = unit.nfg.get_collection(TENANT, VINTAGE)
        head = unit.log.peek(TENANT)
    assert token is not None
    assert collection is not None
    assert head is not None
    return Snapshot(token.state, token.owner_id, collection.burned, head.size)


def _seeded(site: Site) -> None:
    demo_nfg.seed(site.app.state.database, site.app.state.log_config, base_url=site.base_url)


def _leaf(browser: Browser, index: int) -> dict[str, object]:
    answer = browser.get(
        f"/api/v1/tenants/{TENANT}/log/entries", params={"start": index, "end": index + 1}
    )
    assert answer.status_code == 200
    (entry,) = answer.json()["entries"]
    assert entry["index"] == index
    found: dict[str, object] = json.loads(base64.b64decode(entry["leaf"]))
    return found


def test_the_issuing_merchant_burns_a_held_token_after_confirming(
    site: Site, browser: Browser
) -> None:
    _seeded(site)
    browser.login(TENANT, demo_nfg.CELLAR)
    listing = browser.get(COLLECTIONS).text
    tokens = f"{COLLECTIONS}/{VINTAGE}/tokens"
    assert f'href="{tokens}"' in listing
    assert f'href="{_token_page(5)}"' in browser.get(tokens).text
    page = _token_page(5)
    shown = browser.get(page)
    assert shown.status_code == 200
    assert 'data-testid="burn-form"' in shown.text
    assert "销毁此藏品" in shown.text
    assert "Burn this token" in browser.get(page, params={"lang": "en"}).text
    before = _snapshot(site, 5)
    assert before.state == TokenState.HELD
    # The first post only asks to confirm: nothing changes.
    asked = browser.submit(page, f"{page}/burn", {"reason": "酒瓶破损"})
    assert asked.status_code == 200
    assert 'data-testid="confirm-burn"' in asked.text
    assert "酒瓶破损" in asked.text
    assert _snapshot(site, 5) == before
    confirm = hidden_fields(asked.text, f"{page}/burn")
    assert confirm["confirm"] == "1"
    assert confirm["reason"] == "酒瓶破损"
    done = browser.post(f"{page}/burn", confirm)
    assert done.status_code == 303
    assert done.headers["location"] == f"{page}?done=burned"
    after = _snapshot(site, 5)
    assert after.state == TokenState.BURNED
    assert after.burned == before.burned + 1
    assert after.log_size == before.log_size + 1
    leaf = _leaf(browser, before.log_size)
    assert leaf["type"] == "burn"
    assert leaf["token"] == f"{VINTAGE}/5"
    assert leaf["reason"] == "酒瓶破损"
    assert leaf["owner"] == before.owner
    shown_after = browser.get(done.headers["location"]).text
    assert 'data-testid="token-burned"' in shown_after
    assert 'data-state="burned"' in shown_after
    assert 'data-testid="burn-form"' not in shown_after
    certificate = browser.get(f"/{TENANT}/c/{VINTAGE}/5", params={"lang": "zh_CN"})
    assert certificate.status_code == 200
    assert '<dd data-testid="state">已销毁</dd>' in certificate.text
    assert 'data-kind="burn"' in certificate.text
    # The same confirmation posted again (a double click, a resent form) changes nothing.
    again = browser.post(f"{page}/burn", confirm)
    assert again.status_code == 303
    assert again.headers["location"] == done.headers["location"]
    assert _snapshot(site, 5) == after


def test_a_locked_token_is_not_burned_and_nothing_changes(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    _seeded(site)
    browser.login(TENANT, demo_nfg.CELLAR)
    page = _token_page(3)
    asked = browser.submit(page, f"{page}/burn", {"reason": ""})
    assert asked.status_code == 200
    confirm = hidden_fields(asked.text, f"{page}/burn")
    # Its owner asks for the bottle meanwhile: the token is locked (redeeming).
    owner = "wang.wei@wine.demo"
    another_browser.login(TENANT, owner)
    with site.app.state.database.reading() as unit:
        token = unit.nfg.get_token(TENANT, VINTAGE, 3)
        assert token is not None
        address = unit.addresses.default_of(TENANT, token.owner_id)
    assert address is not None
    data = {"collection_id": VINTAGE, "serial": "3", "address_id": address.address_id}
    assert another_browser.submit(REDEEM, REDEEM, data).status_code == 303
    before = _snapshot(site, 3)
    assert before.state == TokenState.REDEEMING
    refused = browser.post(f"{page}/burn", confirm)
    assert refused.status_code == 409
    assert 'data-testid="burn-refused"' in refused.text
    assert field_error(refused.text, "burn")
    assert _snapshot(site, 3) == before
    # The page offers no burn for it, and a fresh first step is refused the same way.
    shown = browser.get(page).text
    assert 'data-testid="burn-form"' not in shown
    assert 'data-testid="burn-unavailable"' in shown
    first = browser.post(f"{page}/burn", hidden_fields(shown, None))
    assert first.status_code == 409
    assert 'data-testid="burn-refused"' in first.text
    assert _snapshot(site, 3) == before
    english = browser.post(f"{page}/burn?lang=en", hidden_fields(shown, None))
    assert "Only a held token can be burned" in english.text


def test_a_consumer_cannot_burn_and_a_long_reason_is_refused(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    _seeded(site)
    page = _token_page(2)
    before = _snapshot(site, 2)
    assert before.state == TokenState.HELD
    # The token's own holder, a consumer, never reaches the console nor burns.
    another_browser.login(TENANT, "chen.jing@wine.demo")
    assert another_browser.get(page).status_code in (303, 403, 404)
    form = another_browser.form(REDEEM)
    tried = another_browser.post(f"{page}/burn", {**form, "confirm": "1"})
    assert tried.status_code in (303, 403, 404)
    assert _snapshot(site, 2) == before
    # A reason over 200 characters: named next to its field, nothing changed.
    browser.login(TENANT, demo_nfg.CELLAR)
    long = browser.submit(page, f"{page}/burn", {"reason": "长" * 201, "confirm": "1"})
    assert long.status_code == 422
    assert field_error(long.text, "reason")
    assert _snapshot(site, 2) == before
    # A form without its CSRF token is refused too.
    forged = browser.post(f"{page}/burn", {"confirm": "1", "form_key": "k" * 32})
    assert forged.status_code in (400, 403)
    assert _snapshot(site, 2) == before
