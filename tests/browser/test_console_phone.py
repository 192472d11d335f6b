"""Every console page at 375 px in real Chromium, in Chinese: nothing wider than the phone,
and every button of the console's tables (批准, 驳回, …) within the screen."""

from __future__ import annotations

import re
from typing import Any

from browser_helpers import Site, shot

from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID


def test_no_console_page_overflows_a_phone(site: Site, phone: Any) -> None:
    phone.goto(f"{site.base_url}/{TENANT}/login")
    phone.fill("#f-email", demo.ADMIN_EMAIL)
    phone.fill("#f-password", demo.PASSWORD)
    phone.click("button[type=submit] >> nth=-1")
    phone.wait_for_url(re.compile(rf"/{TENANT}/admin/$"))
    links = phone.eval_on_selector_all(
        "aside nav a[href^='/'], .side nav a[href^='/']",
        "els => els.map(e => e.getAttribute('href'))",
    )
    pages = sorted({h for h in links if h.startswith(f"/{TENANT}/admin") and "?" not in h})
    assert len(pages) >= 10, pages
    for path in pages:
        phone.goto(site.base_url + path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
        outside = phone.evaluate(
            """() => [...document.querySelectorAll('.console-main table.list button')]
                 .map(b => b.getBoundingClientRect())
                 .filter(r => r.width > 0 && (r.right > window.innerWidth + 1 || r.left < 0))
                 .length"""
        )
        assert outside == 0, path
        shot(phone, "console-375" + path.removeprefix(f"/{TENANT}/admin").replace("/", "-"))
