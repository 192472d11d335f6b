"""The password and sessions page: change one's password (the current one required; other
sessions signed out) and log out everywhere, as a browser without JavaScript would."""

from __future__ import annotations

import uuid

import pytest
from pages_helpers import Browser, field_error

from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
PAGE = f"/{TENANT}/account/password"


def _register(browser: Browser, password: str) -> str:
    email = f"acct-{uuid.uuid4().hex[:8]}@wine.demo"
    data = {"email": email, "password": password, "password_again": password}
    answer = browser.submit(f"/{TENANT}/register", f"/{TENANT}/register", data)
    assert answer.status_code == 303, answer.text[:500]
    browser.login(TENANT, email, password)  # registering signs nobody in
    return email


def _signed_in(browser: Browser) -> bool:
    return browser.get(f"/{TENANT}/me").status_code == 200


def test_changing_the_password_signs_out_the_other_sessions(
    browser: Browser, another_browser: Browser
) -> None:
    email = _register(browser, "first-secret-1")
    another_browser.login(TENANT, email, "first-secret-1")
    assert "password-and-sessions" in browser.get(f"/{TENANT}/me").text
    data = {
        "old_password": "first-secret-1",
        "new_password": "second-secret-2",
        "new_password_again": "second-secret-2",
    }
    answer = browser.submit(PAGE, PAGE, data)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PAGE}?changed=1"
    assert "password-changed" in browser.get(f"{PAGE}?changed=1").text
    assert _signed_in(browser)
    assert not _signed_in(another_browser)
    another_browser.login(TENANT, email, "second-secret-2")


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"old_password": "not-the-password"}, "old_password"),
        ({"new_password_again": "something-else"}, "new_password_again"),
        ({"new_password": "1234567890", "new_password_again": "1234567890"}, "new_password"),
    ],
)
def test_a_refused_change_says_why_and_keeps_the_password(
    browser: Browser, change: dict[str, str], name: str
) -> None:
    email = _register(browser, "first-secret-1")
    data = {
        "old_password": "first-secret-1",
        "new_password": "second-secret-2",
        "new_password_again": "second-secret-2",
        **change,
    }
    answer = browser.submit(PAGE, PAGE, data)
    assert 400 <= answer.status_code < 500
    assert field_error(answer.text, name)
    assert "first-secret-1" not in answer.text
    assert "second-secret-2" not in answer.text
    fresh = Browser(str(browser.http.base_url))
    try:
        fresh.login(TENANT, email, "first-secret-1")
    finally:
        fresh.close()


def test_log_out_everywhere(browser: Browser, another_browser: Browser) -> None:
    email = _register(browser, "first-secret-1")
    another_browser.login(TENANT, email, "first-secret-1")
    answer = browser.submit(PAGE, f"/{TENANT}/account/logout-everywhere", {})
    assert answer.status_code == 303
    assert not _signed_in(browser)
    assert not _signed_in(another_browser)


def test_a_control_character_in_a_form_is_refused_naming_the_field(browser: Browser) -> None:
    data = {"email": "nul\x00@wine.demo", "password": "first-secret-1"}
    answer = browser.submit(f"/{TENANT}/login", f"/{TENANT}/login", data)
    assert answer.status_code == 422
    assert "email" in answer.text
    assert "Traceback" not in answer.text
