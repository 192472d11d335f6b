"""No page shows a human a raw internal id or a raw English status word (docs/pages.md, "Ids and
status words on the pages"): the demo (its mall history and NFG collections) served over real
HTTP, crawled in Chinese as a consumer, a merchant, the tenant's admin and the platform's
operator, following every same-site link with GET only (log-out, downloads, the API and the
language switch left alone), each page's visible text read (``visible_text.py``)."""

from __future__ import annotations

import re
from collections import Counter, deque
from html import unescape
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from pages_helpers import Browser, Site, hidden_fields
from visible_text import RAW_ID, RAW_WORD, raw_ids, raw_words, visible_text

from tokenmall.demo import living as demo
from tokenmall.demo import nfg as demo_nfg

TENANT = demo.TENANT_ID
MAX_PAGES = 160
PER_SHAPE = 3  # pages of one shape (another order, page or filter): a few are enough
SKIPPED = ("/logout", "/api/", "/-/static/", "/docs", "/openapi", "/media/", "/redoc")
DOWNLOADS = (".csv", ".png", ".jpg", ".svg", ".webp", ".json", ".txt")


def _get_forms(html: str) -> list[str]:
    """The GET forms' targets as a browser would send them untouched (a product's 立即购买, a
    search, a filter): the action with its inputs' values."""
    found = []
    for action, body in re.findall(
        r'<form\b[^>]*method="get"[^>]*action="([^"]+)"[^>]*>(.*?)</form>', html, re.S
    ):
        values = re.findall(r'<input\b[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body)
        found.append(f"{action}?{urlencode([(k, unescape(v)) for k, v in values])}")
    return found


def _links(html: str, here: str, base: str) -> list[str]:
    found = []
    hrefs = re.findall(r'<a\b[^>]*\bhref="([^"]+)"', html) + _get_forms(html)
    for href in hrefs:
        if "download" in href:
            continue
        target = urljoin(base + here, unescape(href))
        parts = urlsplit(target)
        if f"{parts.scheme}://{parts.netloc}" != base:
            continue
        path = parts.path
        if any(s in path for s in SKIPPED) or path.endswith(DOWNLOADS):
            continue
        if "lang=" in parts.query:
            continue  # the pages stay Chinese: the switch would remember English
        found.append(path + (f"?{parts.query}" if parts.query else ""))
    return found


def _shape(link: str) -> str:
    """The link's path with its ids and numbers as placeholders, without its query."""
    path = urlsplit(link).path
    return "/".join(
        "{id}" if RAW_ID.fullmatch(part) or part.isdigit() else part for part in path.split("/")
    )


def crawl(
    browser: Browser, base: str, starts: tuple[str, ...], lang: str = "zh"
) -> tuple[dict[str, list[str]], int]:
    """Every page reachable from ``starts``, bounded, in ``lang``; returns the findings by page
    (ids in any language, English status words on the Chinese pages) and the number of pages
    read."""
    findings: dict[str, list[str]] = {}
    seen: set[str] = set(starts)
    per_shape: Counter[str] = Counter()
    queue = deque(starts)
    read = 0
    while queue and read < MAX_PAGES:
        here = queue.popleft()
        answer = browser.get(here)
        if answer.status_code in (301, 302, 303, 307):
            target = answer.headers["location"]
            parts = urlsplit(urljoin(base + here, target))
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if f"{parts.scheme}://{parts.netloc}" == base and path not in seen:
                seen.add(path)
                queue.append(path)
            continue
        assert answer.status_code < 500, (here, answer.status_code)
        if "text/html" not in answer.headers.get("content-type", ""):
            continue
        read += 1
        assert f'<html lang="{lang}' in answer.text, f"{here} is not in {lang}"
        chunks = visible_text(answer.text)
        found = [f"id {i}" for i in raw_ids(chunks)]
        if lang == "zh":
            found += [f"word {w}" for w in raw_words(chunks)]
        if found:
            findings[here] = found
        for link in _links(answer.text, here, base):
            shape = _shape(link)
            if link in seen or per_shape[shape] >= PER_SHAPE:
                continue
            seen.add(link)
            per_shape[shape] += 1
            queue.append(link)
    return findings, read


def _report(findings: dict[str, list[str]]) -> str:
    lines = [f"{page}: {', '.join(sorted(set(found))[:6])}" for page, found in findings.items()]
    return "raw ids or status words shown:\n" + "\n".join(lines[:60])


@pytest.fixture(scope="module")
def with_collections(site: Site) -> Site:
    demo_nfg.seed(site.app.state.database, site.app.state.log_config, base_url=site.base_url)
    return site


def _an_unpaid_order(browser: Browser) -> str:
    """Set up, not crawled: the consumer buys a product now and is sent to the gateway's page
    (the sandbox's, on this site), leaving an unpaid order to crawl with its payment page."""
    home = browser.get(f"/{TENANT}/").text
    product = re.search(rf'href="(/{TENANT}/products/prd_[0-9a-z]+)"', home)
    assert product is not None
    forms = _get_forms(browser.get(product.group(1)).text)
    checkout = next(f for f in forms if "/checkout?" in f)
    page = browser.get(checkout)
    assert page.status_code == 200
    sent = {k: unescape(v) for k, v in hidden_fields(page.text, f"/{TENANT}/checkout").items()}
    answer = browser.post(f"/{TENANT}/checkout", {**sent, "payment_method": "money"})
    assert answer.status_code == 303, answer.text[:500]
    target = urlsplit(answer.headers["location"])
    assert target.path.startswith("/sandbox/pay/"), target
    return target.path + (f"?{target.query}" if target.query else "")


# Where each crawl starts: the home page of its console, and the pages no menu links to.
NFG_DESK = (f"/{TENANT}/admin/nfg/redemptions", f"/{TENANT}/admin/nfg/scan")


@pytest.mark.parametrize(
    ("who", "starts"),
    [
        ("li.na@wine.demo", (f"/{TENANT}/", f"/{TENANT}/checkout", f"/{TENANT}/nfg/drops")),
        ("cellar@wine.demo", (f"/{TENANT}/admin/orders", *NFG_DESK)),
        (demo.ADMIN_EMAIL, (f"/{TENANT}/admin/", *NFG_DESK)),
        ("operator", ("/-/platform/",)),
    ],
)
def test_no_page_shows_a_raw_id_or_status_word(
    with_collections: Site, browser: Browser, who: str, starts: tuple[str, ...]
) -> None:
    if who == "operator":
        browser.operator_login()
    else:
        browser.login(TENANT, who)
    if who == "li.na@wine.demo":
        starts = (*starts, _an_unpaid_order(browser))
    findings, read = crawl(browser, with_collections.base_url, starts)
    assert read >= (3 if who == "operator" else 30), f"only {read} pages reached from {starts}"
    assert not findings, _report(findings)


@pytest.mark.parametrize(
    ("who", "starts"),
    [
        ("li.na@wine.demo", (f"/{TENANT}/", f"/{TENANT}/checkout", f"/{TENANT}/nfg/drops")),
        (demo.ADMIN_EMAIL, (f"/{TENANT}/admin/", *NFG_DESK)),
    ],
)
def test_no_english_page_shows_a_raw_id(
    with_collections: Site, browser: Browser, who: str, starts: tuple[str, ...]
) -> None:
    browser.login(TENANT, who)
    assert browser.get(f"/{TENANT}/me?lang=en").status_code == 200  # remembered in a cookie
    findings, read = crawl(browser, with_collections.base_url, starts, lang="en")
    assert read >= 30, f"only {read} pages reached from {starts}"
    assert not findings, _report(findings)


def test_the_rule_catches_what_it_should() -> None:
    """The detectors themselves: ids and words outside ``.mono`` and attributes are caught."""
    page = (
        "<p>订单 ord_01jabcdefghjkmnpqrstvwxyz0 状态 paid</p>"
        '<p><small class="mono">ord_01jabcdefghjkmnpqrstvwxyz1</small></p>'
        '<a href="/wine/orders/ord_01jabcdefghjkmnpqrstvwxyz2" data-status="shipped">查看</a>'
        '<input type="hidden" name="status" value="cancelled">'
        '<input type="text" value="usr_01jabcdefghjkmnpqrstvwxyz3">'
        "<p>01jabcdefghjkmnpqrstvwxyz4 li.na@wine.demo 已支付</p>"
    )
    chunks = visible_text(page)
    assert raw_ids(chunks) == [
        "ord_01jabcdefghjkmnpqrstvwxyz0",
        "usr_01jabcdefghjkmnpqrstvwxyz3",
        "01jabcdefghjkmnpqrstvwxyz4",
    ]
    assert [w.split(" ", 1)[0] for w in raw_words(chunks)] == ["'paid'"]
    assert RAW_WORD.search("Shipped") is not None
    assert RAW_ID.search("col_demo_vintage_2015") is not None
    assert RAW_ID.search("第 12 号") is None


def test_every_status_the_pages_label_has_its_words() -> None:
    """The catalogue ids the templates build from a stored status (``_("order_" ~ status)``,
    ``_(token.state)``…): every value of those enums has its Chinese and its English, so a state
    the demo does not reach is not shown raw either."""
    from tokenmall.domain.mall.kyc import SubmissionStatus
    from tokenmall.domain.mall.orders import OrderStatus
    from tokenmall.domain.mall.payments import PaymentStatus
    from tokenmall.domain.mall.refunds import RefundStatus
    from tokenmall.domain.mall.withdrawals import WithdrawalStatus
    from tokenmall.domain.market.records import OrderKind
    from tokenmall.domain.nfg.records import CollectionStatus, ReservationStatus, TokenState
    from tokenmall.domain.nfg.redemptions import RedemptionStatus
    from tokenmall.web.pages.i18n import translations

    built = [
        ("order_", OrderStatus),
        ("order_", OrderKind),
        ("payment_", PaymentStatus),
        ("refund_", RefundStatus),
        ("withdrawal_", WithdrawalStatus),
        ("kyc_submission_", SubmissionStatus),
        ("reservation_", ReservationStatus),
        ("", TokenState),
        ("", CollectionStatus),
        ("", RedemptionStatus),
    ]
    zh, en = translations("zh_CN"), translations("en")
    keys = [prefix + member.value for prefix, kind in built for member in kind]
    assert [k for k in keys if zh.gettext(k) == k or RAW_WORD.search(zh.gettext(k))] == []
    assert [k for k in keys if prefix_left(en.gettext(k))] == []


def prefix_left(text: str) -> bool:
    """An English label still reading as a catalogue id (``order_paid``)."""
    return "_" in text


def test_a_refused_page_says_why_in_chinese_without_ids(site: Site, browser: Browser) -> None:
    """A 403 or 404 page in Chinese gives the plain reason, not the use case's English message
    with the caller's role or the id asked for; in English the message stays as it was."""
    browser.login(TENANT, "cellar@wine.demo")
    refused = browser.get(f"/{TENANT}/admin/")
    assert refused.status_code == 403
    assert "你的账号角色不能进行此操作。" in visible_text(refused.text)
    assert raw_words(visible_text(refused.text)) == []
    missing = browser.get(f"/{TENANT}/admin/orders/ord_01jabcdefghjkmnpqrstvwxyz0")
    assert missing.status_code == 404
    assert raw_ids(visible_text(missing.text)) == []
    assert "页面不存在" in missing.text
    english = browser.get(f"/{TENANT}/admin/?lang=en")
    assert english.status_code == 403
    assert "a merchant may not do this" in english.text
