"""The consumer's address book and the checkout's address over real HTTP, without JavaScript
(SQLite and PostgreSQL): add, edit, set the default and delete, each bad input shown next to
its field with nothing changed; the checkout page refuses to place an order without an address;
the order (the consumer's page and the shop's) shows the address it was placed with, whatever
the address book says later; nobody else sees or changes a consumer's addresses."""

from __future__ import annotations

import re
import uuid

import httpx
from pages_helpers import PASSWORD, Browser, Site, field_error, hidden_fields
from test_pages import no_traceback, snapshot

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.demo import living as demo
from tokenmall.services.mall import addresses, people
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now

TENANT = demo.TENANT_ID
BOOK = f"/{TENANT}/addresses"
CHECKOUT = f"/{TENANT}/checkout"
HOME = {
    "recipient": "周杰",
    "phone": "13912345678",
    "region": "浙江省 杭州市 西湖区",
    "detail": "文一路 1 号 101 室",
    "postal_code": "310000",
}
OFFICE = {
    "recipient": "周杰（公司）",
    "phone": "0571-87654321",
    "region": "浙江省 杭州市 滨江区",
    "detail": "江南大道 3588 号",
    "postal_code": "",
}


def _new_consumer(site: Site) -> str:
    """A consumer of the demo's tenant with no address yet; their email."""
    email = f"c{uuid.uuid4().hex[:10]}@wine.demo"
    with site.app.state.database.unit() as uow:
        people.register(
            uow,
            TENANT,
            email=email,
            password=PASSWORD,
            display_name="周杰",
            invite_code=None,
            now=utc_now(),
        )
    return email


def _book(site: Site, email: str) -> list[addresses.Address]:
    with site.app.state.database.read() as conn:
        found = people_repo.login_row(conn, TENANT, email)
        assert found is not None
        user = people_repo.get_user(conn, TENANT, found[0])
        assert user is not None
        who = Principal("session", "test", user.user_id, TENANT, user.role)
        return addresses.list_addresses(MallUnitOfWork.joining(conn), who, TENANT)


def _add_to_cart(browser: Browser) -> None:
    home = browser.get(f"/{TENANT}/").text
    found = re.search(rf'href="(/{TENANT}/products/prd_[0-9a-z]+)"', home)
    assert found is not None
    added = browser.submit(found.group(1), f"/{TENANT}/cart/add", {"quantity": "1"})
    assert added.status_code == 303


def _ids(html: str) -> list[str]:
    return re.findall(r'data-address-id="(adr_[0-9a-z]+)"', html)


def test_the_address_book_adds_edits_chooses_the_default_and_deletes(
    site: Site, browser: Browser
) -> None:
    email = _new_consumer(site)
    browser.login(TENANT, email)
    me = browser.get(f"/{TENANT}/me").text
    assert f'href="{BOOK}"' in me
    assert "我的收货地址" in me
    page = browser.get(BOOK)
    assert page.status_code == 200
    assert 'data-testid="no-address"' in page.text
    assert "还没有收货地址" in page.text

    # Bad input on the add form: the message next to the field, nothing changed.
    before = snapshot(site)
    for name, value in (
        ("recipient", ""),
        ("recipient", "x" * 51),
        ("phone", "12345"),
        ("phone", "12800138000"),
        ("phone", "１３９１２３４５６７８"),
        ("region", "   "),
        ("detail", "y" * 201),
        ("postal_code", "31000"),
        ("postal_code", "abcdef"),
    ):
        answer = browser.submit(BOOK, BOOK, {**HOME, name: value})
        assert answer.status_code == 422, (name, value)
        assert field_error(answer.text, name), (name, value, answer.text[:2000])
        assert f'value="{HOME["detail"]}"' in answer.text or name == "detail"  # values kept
        no_traceback(answer)
    answer = browser.post(BOOK, HOME)  # no CSRF token
    assert answer.status_code == 403
    assert field_error(answer.text, "csrf_token")
    assert snapshot(site) == before

    # Add: the first address is the default; a double submit adds nothing more.
    fields = browser.form(BOOK, BOOK)
    added = browser.post(BOOK, {**fields, **HOME})
    assert added.status_code == 303
    assert added.headers["location"] == f"{BOOK}?done=saved"
    again = browser.post(BOOK, {**fields, **HOME})
    assert again.status_code == 303
    book = _book(site, email)
    assert len(book) == 1
    assert book[0].is_default
    assert book[0].postal_code == "310000"
    page = browser.get(f"{BOOK}?done=saved").text
    assert "地址已保存" in page
    assert "周杰" in page
    assert 'data-testid="default-address"' in page
    home_id = book[0].address_id

    # A second address asked to be the default.
    made = browser.submit(BOOK, BOOK, {**OFFICE, "is_default": "1"})
    assert made.status_code == 303
    book = _book(site, email)
    assert [a.is_default for a in book] == [True, False]
    office_id = book[0].address_id
    assert office_id != home_id
    assert book[0].postal_code is None
    # Set the first one as the default again, with its button.
    went = browser.submit(BOOK, f"{BOOK}/{home_id}/default", {})
    assert went.status_code == 303
    assert [a.address_id for a in _book(site, email) if a.is_default] == [home_id]
    assert _ids(browser.get(BOOK).text) == [home_id, office_id]

    # Edit: the form shows the address; bad input is refused next to the field.
    edit = f"{BOOK}/{office_id}/edit"
    form_page = browser.get(edit)
    assert form_page.status_code == 200
    assert 'value="江南大道 3588 号"' in form_page.text
    before = snapshot(site)
    refused = browser.submit(edit, edit, {**OFFICE, "phone": "abc"})
    assert refused.status_code == 422
    assert field_error(refused.text, "phone")
    assert snapshot(site) == before
    saved = browser.submit(
        edit, edit, {**OFFICE, "detail": "江南大道 3600 号", "postal_code": "310051"}
    )
    assert saved.status_code == 303
    office = next(a for a in _book(site, email) if a.address_id == office_id)
    assert office.detail == "江南大道 3600 号"
    assert office.postal_code == "310051"
    assert not office.is_default

    # Delete the default: the newest left becomes the default.
    gone = browser.submit(BOOK, f"{BOOK}/{home_id}/delete", {})
    assert gone.status_code == 303
    assert gone.headers["location"] == f"{BOOK}?done=deleted"
    book = _book(site, email)
    assert [(a.address_id, a.is_default) for a in book] == [(office_id, True)]
    # Deleting what is gone: a 404 on the page, nothing changed.
    before = snapshot(site)
    again = browser.post(f"{BOOK}/{home_id}/delete", browser.form(BOOK, BOOK))  # a stale page
    assert again.status_code == 404
    assert field_error(again.text, "_form")
    assert snapshot(site) == before
    # In English too.
    english = browser.get(f"{BOOK}?lang=en").text
    assert "My addresses" in english
    assert "Add an address" in english


def test_checkout_page_needs_an_address_and_the_order_keeps_it(
    site: Site, browser: Browser
) -> None:
    email = _new_consumer(site)
    browser.login(TENANT, email)
    _add_to_cart(browser)
    page = browser.get(CHECKOUT).text
    assert 'data-testid="no-address"' in page
    assert "下单前请先添加收货地址" in page
    assert f'href="{BOOK}?back=checkout"' in page
    # Placing the order without an address is refused, next to the address; nothing changed.
    before = snapshot(site)
    refused = browser.submit(CHECKOUT, CHECKOUT, {"payment_method": "money"})
    assert refused.status_code == 422
    assert field_error(refused.text, "address_id") == "请选择收货地址。"
    no_traceback(refused)
    # Nor with someone else's address (the demo's first consumer's).
    theirs = next(a.address_id for a in _book(site, demo.CONSUMERS[0][0]) if a.is_default)
    stolen = browser.submit(CHECKOUT, CHECKOUT, {"payment_method": "money", "address_id": theirs})
    assert stolen.status_code == 404
    assert field_error(stolen.text, "address_id")
    english = browser.submit(
        f"{CHECKOUT}?lang=en", CHECKOUT, {"payment_method": "money", "address_id": ""}
    )
    assert field_error(english.text, "address_id") == "Choose a shipping address."
    assert snapshot(site) == before

    # Add one from the checkout: back to the checkout with it chosen.
    form_page = f"{BOOK}?back=checkout"
    assert hidden_fields(browser.get(form_page).text, BOOK)["back"] == "checkout"
    added = browser.submit(form_page, BOOK, HOME)
    assert added.status_code == 303
    address_id = _book(site, email)[0].address_id
    assert added.headers["location"] == f"{CHECKOUT}?address={address_id}"
    page = browser.get(added.headers["location"]).text
    assert f'name="address_id" value="{address_id}" checked' in page
    assert "周杰" in page
    went = browser.submit(CHECKOUT, CHECKOUT, {"payment_method": "money"})
    assert went.status_code == 303
    assert "/sandbox/pay/" in went.headers["location"]
    back = re.search(r'id="back" href="([^"]+)"', httpx.get(went.headers["location"]).text)
    assert back is not None
    order_path = back.group(1)
    shown = "浙江省 杭州市 西湖区 文一路 1 号 101 室 310000"
    order = browser.get(order_path).text
    assert shown in order
    assert "13912345678" in order

    # Edit the address, then delete it: the order still shows what it was placed with.
    edit = f"{BOOK}/{address_id}/edit"
    assert browser.submit(edit, edit, {**HOME, "detail": "别的地方 9 号"}).status_code == 303
    assert shown in browser.get(order_path).text
    assert browser.submit(BOOK, f"{BOOK}/{address_id}/delete", {}).status_code == 303
    assert shown in browser.get(order_path).text
    # The shop's order page (the merchant who sells it, and the admin) shows it too.
    order_id = order_path.rsplit("/", 1)[1]
    for staff in (demo.ADMIN_EMAIL, *(m[0] for m in demo.MERCHANTS)):
        console = Browser(site.base_url)
        try:
            console.login(TENANT, staff)
            answer = console.get(f"/{TENANT}/admin/orders/{order_id}")
            if answer.status_code == 404:  # another merchant's order
                continue
            assert answer.status_code == 200, staff
            text = answer.text
            assert 'data-testid="order-address"' in text, staff
            assert shown in text, staff
            assert "周杰" in text
            assert "13912345678" in text
        finally:
            console.close()


def test_nobody_else_sees_or_changes_a_consumers_addresses(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    owner = demo.CONSUMERS[0][0]
    theirs = _book(site, owner)[0].address_id
    browser.login(TENANT, demo.CONSUMERS[1][0])
    assert theirs not in browser.get(BOOK).text
    before = snapshot(site)
    assert browser.get(f"{BOOK}/{theirs}/edit").status_code == 404
    tokens = browser.form(BOOK, BOOK)
    for action, data in (
        (f"{BOOK}/{theirs}/edit", HOME),
        (f"{BOOK}/{theirs}/delete", {}),
        (f"{BOOK}/{theirs}/default", {}),
    ):
        answer = browser.post(action, {**tokens, **data})
        assert answer.status_code == 404, action
        no_traceback(answer)
    assert snapshot(site) == before
    # A merchant has no address book; someone logged out is sent to log in.
    another_browser.login(TENANT, demo.MERCHANTS[0][0])
    assert another_browser.get(BOOK).status_code == 403
    anonymous = Browser(site.base_url)
    try:
        answer = anonymous.get(BOOK)
        assert answer.status_code == 303
        assert "/login" in answer.headers["location"]
    finally:
        anonymous.close()
