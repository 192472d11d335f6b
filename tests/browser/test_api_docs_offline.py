"""In real headless Chromium with every request off this server refused (as offline): ``/docs``
draws Swagger UI with the API's operations, and the console shows no error (no blocked
script, no refused policy)."""

from __future__ import annotations

from typing import Any

from browser_helpers import Site, shot, wait_until


def test_the_api_documentation_draws_offline(site: Site, desk: Any) -> None:
    elsewhere: list[str] = []
    errors: list[str] = []

    def route(handled: Any) -> None:
        if handled.request.url.startswith(site.base_url):
            handled.continue_()
        else:
            elsewhere.append(handled.request.url)
            handled.abort()

    desk.route("**/*", route)
    desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desk.on("pageerror", lambda e: errors.append(str(e)))
    desk.goto(site.base_url + "/docs")
    wait_until(desk, "document.querySelectorAll('.opblock').length >= 5")
    assert "tokenmall" in desk.inner_text(".info")
    assert desk.locator(".opblock-summary-path", has_text="/integration/orders/").count() >= 1
    shot(desk, "api-docs")
    # The viewer draws the operations near the view as it scrolls: the market's are last.
    for _ in range(40):
        if desk.locator(".opblock-summary-path", has_text="/market/").count():
            break
        desk.mouse.wheel(0, 4000)
        desk.wait_for_timeout(100)
    assert desk.locator(".opblock-summary-path", has_text="/market/").count() >= 1
    assert elsewhere == []
    assert errors == []
