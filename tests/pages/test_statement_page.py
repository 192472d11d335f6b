"""The consumer's statement (流水) page without JavaScript: the demo consumer's movements newest
first in Chinese, a filter per holding, older pages, the CSV with the session cookie, and a bad
query answered with an HTML 422."""

from __future__ import annotations

import re

from pages_helpers import Browser

from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]


def _journals(html: str) -> list[int]:
    return [int(j) for j in re.findall(r'data-journal="(\d+)"', html)]


def test_the_statement_pages_through_every_movement(browser: Browser) -> None:
    assert browser.get(f"/{TENANT}/statement").status_code == 303  # log in first
    browser.login(TENANT, CONSUMER)
    wallet = browser.get(f"/{TENANT}/wallet")
    assert f'href="/{TENANT}/statement"' in wallet.text
    assert "强制出局：每日分红后" in wallet.text  # the rule said before it happens
    first = browser.get(f"/{TENANT}/statement")
    assert first.status_code == 200
    assert "购物奖励" in first.text
    ids = _journals(first.text)
    assert ids
    assert ids == sorted(ids, reverse=True)
    seen = list(ids)
    page = first
    while 'data-testid="older"' in page.text:
        older = re.search(r'data-testid="older" href="([^"]+)"', page.text)
        assert older is not None
        page = browser.get(older.group(1).replace("&amp;", "&"))
        more = _journals(page.text)
        assert more
        assert max(more) < min(seen)
        seen.extend(more)
    cash = browser.get(f"/{TENANT}/statement?holding=cash")
    assert cash.status_code == 200
    assert "· 增值积分" not in cash.text
    exported = browser.get(f"/api/v1/tenants/{TENANT}/me/statement.csv")
    assert exported.status_code == 200
    rows = exported.text.lstrip("\ufeff").strip().splitlines()
    assert len(rows) - 1 == len(seen)  # one CSV row a line, every page
    bad = browser.get(f"/{TENANT}/statement?holding=gold")
    assert bad.status_code == 422
    assert "Traceback" not in bad.text
