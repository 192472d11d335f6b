"""The NFG registry's pages over real HTTP without JavaScript (SQLite and PostgreSQL): the
console's collections (upload an image, create, publish, grant) and the consumer's "my
collection" linking each certificate; bad input is shown next to its field, nothing changed."""

from __future__ import annotations

import io
import re

from pages_helpers import Browser, Site, field_error
from PIL import Image

from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID
PAGE = f"/{TENANT}/admin/nfg/collections"
CONSUMER = "li.na@wine.demo"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (500, 400), "purple").save(out, "PNG")
    return out.getvalue()


def _upload(browser: Browser, data: bytes) -> object:
    action = f"/{TENANT}/admin/nfg/media"
    return browser.http.post(
        action, data=browser.form(PAGE, action), files={"file": ("label.png", data, "image/png")}
    )


def _rows(html: str) -> list[str]:
    return re.findall(r'data-testid="collection" data-collection-id="([^"]+)"', html)


def test_admin_uploads_creates_publishes_and_grants(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert "NFG 藏品系列" in page.text
    before = _rows(page.text)
    uploaded = _upload(browser, _png())
    assert uploaded.status_code == 303, uploaded.text[:500]  # type: ignore[attr-defined]
    location = uploaded.headers["location"]  # type: ignore[attr-defined]
    media_id = re.search(r"media=(med_[0-9a-z]+)", location).group(1)  # type: ignore[union-attr]
    shown = browser.get(location.split("#")[0])
    assert f'value="{media_id}"' in shown.text
    # A refused form: the message next to its field, nothing created.
    action = PAGE
    bad = browser.submit(PAGE, action, {"name": "2019 珍藏", "edition_size": "0"})
    assert bad.status_code == 422
    assert field_error(bad.text, "edition_size")
    assert _rows(browser.get(PAGE).text) == before
    made = browser.submit(
        PAGE,
        action,
        {
            "name": "2019 珍藏",
            "description": "编号酒",
            "edition_size": "3",
            "price": "199.00",
            "price_asset": "money",
            "media_id": media_id,
            "entry": "品鉴会",
        },
    )
    assert made.status_code == 303, made.text[:500]
    rows = _rows(browser.get(PAGE).text)
    (cid,) = set(rows) - set(before)
    published = browser.submit(PAGE, f"{PAGE}/{cid}/publish", {})
    assert published.status_code == 303
    mint = f"{PAGE}/{cid}/mint"
    too_many = browser.submit(PAGE, mint, {"row": cid, "email": CONSUMER, "count": "4"})
    assert too_many.status_code == 422
    assert field_error(too_many.text, "count")
    granted = browser.submit(PAGE, mint, {"row": cid, "email": CONSUMER, "count": "2"})
    assert granted.status_code == 303, granted.text[:500]
    listing = browser.get(PAGE).text
    assert re.search(rf'id="{cid}".*?data-testid="minted">2<', listing, re.S)
    # The consumer's collection links each certificate.
    consumer = Browser(site.base_url)
    try:
        consumer.login(TENANT, CONSUMER)
        mine = consumer.get(f"/{TENANT}/nfg/mine")
        assert mine.status_code == 200
        assert "我的藏品" in mine.text
        assert f'href="/{TENANT}/c/{cid}/1"' in mine.text
        assert f'href="/{TENANT}/c/{cid}/2"' in mine.text
        assert "#2/3" in mine.text
        assert f'href="/{TENANT}/nfg/mine"' in consumer.get(f"/{TENANT}/me").text
        assert consumer.get(PAGE).status_code == 403
    finally:
        consumer.close()


def test_an_upload_that_is_not_an_image_is_refused(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    answer = _upload(browser, b"%PDF-1.4 not an image")
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert field_error(answer.text, "file")  # type: ignore[attr-defined]
