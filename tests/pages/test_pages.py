"""The pages over real HTTP, without JavaScript: plain forms, 303 redirects, messages next to
the fields, nothing changed by a refused form, HTML error pages and never a traceback."""

from __future__ import annotations

import re
from typing import Any

import httpx
from pages_helpers import PASSWORD, Browser, Site, field_error, hidden_fields
from sqlalchemy import select

from tokenmall.adapters.db.mall.tables import metadata
from tokenmall.demo import living as demo
from tokenmall.web.pages.i18n import Fmt

TENANT = demo.TENANT_ID
CONSUMER = demo.CONSUMERS[0][0]


def snapshot(site: Site) -> dict[str, Any]:
    """Every row of every table (mall and ledger) but sessions and idempotency records."""
    with site.app.state.database.read() as conn:
        return {
            name: sorted(tuple(map(str, row)) for row in conn.execute(select(table)))
            for name, table in metadata.tables.items()
            if not name.endswith("sessions")
        }


def params_version(site: Site) -> int:
    from tokenmall.adapters.db.store import Store

    with site.app.state.database.read() as conn:
        return Store(conn.engine).load_params(conn, TENANT)[1]


def no_traceback(answer: httpx.Response) -> None:
    assert "Traceback" not in answer.text
    assert 'File "' not in answer.text


# --- public pages, static files, errors ---


def test_landing_static_files_and_security_headers(browser: Browser) -> None:
    landing = browser.get("/")
    assert landing.status_code == 200
    assert landing.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in landing.text
    assert "不承诺任何收益" in landing.text
    assert "frame-ancestors 'none'" in landing.headers["content-security-policy"]
    for path in ("/-/static/vendor/htmx.min.js", "/-/static/vendor/chart.umd.min.js"):
        script = browser.get(path)
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
    assert browser.get("/-/static/app.css").headers["content-type"].startswith("text/css")
    for sneaky in (
        "/-/static/../pages/rendering.py",
        "/-/static/%2e%2e/pages/rendering.py",
        "/-/static/",
    ):
        answer = browser.get(sneaky)
        assert answer.status_code == 404, sneaky
        no_traceback(answer)


def test_unknown_pages_answer_an_html_404_and_the_api_keeps_json(browser: Browser) -> None:
    for path in ("/no-such-tenant/", f"/{TENANT}/no/such/page", "/nothing-here"):
        answer = browser.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "404" in answer.text
        no_traceback(answer)
    api = browser.get("/api/v1/nowhere")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"
    assert browser.http.delete("/healthz").status_code == 405


def test_english_on_request_and_remembered(browser: Browser) -> None:
    chinese = browser.get(f"/{TENANT}/login")
    assert "登录" in chinese.text
    english = browser.get(f"/{TENANT}/login?lang=en")
    assert '<html lang="en">' in english.text
    assert "Log in" in english.text
    assert "tokenmall_lang" in english.headers.get("set-cookie", "")
    again = browser.get(f"/{TENANT}/login")
    assert '<html lang="en">' in again.text
    back = browser.get(f"/{TENANT}/login?lang=zh_CN")
    assert '<html lang="zh-CN">' in back.text


# --- login ---


def test_login_refuses_a_wrong_password_next_to_the_field(browser: Browser) -> None:
    answer = browser.submit(
        f"/{TENANT}/login", f"/{TENANT}/login", {"email": CONSUMER, "password": "wrong-one!"}
    )
    assert answer.status_code == 401
    assert field_error(answer.text, "password") == "邮箱或密码错误"
    assert "tokenmall_session" not in answer.headers.get("set-cookie", "")
    assert browser.get(f"/{TENANT}/me").status_code == 303  # still logged out


def test_login_logout_and_the_products_before_it(browser: Browser) -> None:
    home = browser.get(f"/{TENANT}/")
    assert home.status_code == 200
    assert "醇香干红葡萄酒 750ml" in home.text  # the shop window is public
    assert 'data-testid="visitor"' in home.text
    me = browser.get(f"/{TENANT}/me")
    assert me.status_code == 303
    assert me.headers["location"] == f"/{TENANT}/login?next=/{TENANT}/me"
    browser.login(TENANT, CONSUMER)
    home = browser.get(f"/{TENANT}/")
    assert 'data-testid="visitor"' not in home.text
    assert "醇香干红葡萄酒 750ml" in home.text
    assert "¥100.00" in home.text
    assert "其中 ¥30.00 进入底池" in home.text
    product = re.search(rf'href="/{TENANT}/products/(prd_[0-9a-z]+)"', home.text)
    assert product is not None
    page = browser.get(f"/{TENANT}/products/{product.group(1)}")
    assert page.status_code == 200
    assert "由 醇香酒庄 销售" in page.text
    assert browser.get(f"/{TENANT}/products/prd_nope").status_code == 404
    me = browser.get(f"/{TENANT}/me")
    assert me.status_code == 200
    assert "li.na@wine.demo" in me.text
    logout = browser.post(f"/{TENANT}/logout", hidden_fields(me.text))
    assert logout.status_code == 303
    assert browser.get(f"/{TENANT}/me").status_code == 303


def test_login_never_redirects_off_site(browser: Browser) -> None:
    for target in ("https://evil.example/", "//evil.example/", f"/{TENANT}/\\evil"):
        fields = browser.form(f"/{TENANT}/login")
        answer = browser.post(
            f"/{TENANT}/login",
            {**fields, "email": CONSUMER, "password": PASSWORD, "next": target},
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/{TENANT}/"


# --- registration from an invite link ---


def _invite_code(site: Site) -> str:
    link = demo.invite_link(site.app.state.database, site.base_url)
    return link.rsplit("=", 1)[1]


# Where every registration goes, whether the address was new or not: sign in, then the welcome.
REGISTERED = f"/{TENANT}/login?registered=1&next=/{TENANT}/me%3Fwelcome%3D1"


def test_register_from_an_invite_link(site: Site, browser: Browser) -> None:
    code = _invite_code(site)
    page = browser.get(f"/{TENANT}/register?invite={code}")
    assert page.status_code == 200
    assert f'value="{code}"' in page.text
    fields = hidden_fields(page.text)
    data = {
        **fields,
        "email": "new.friend@wine.demo",
        "display_name": "新朋友",
        "password": "a-good-password",
        "password_again": "a-good-password",
        "invite_code": code,
    }
    answer = browser.post(f"/{TENANT}/register", data)
    assert answer.status_code == 303
    # Registering signs nobody in: the same answer as for an address that has an account.
    assert answer.headers["location"] == REGISTERED
    assert "tokenmall_session" not in answer.headers.get("set-cookie", "")
    assert "注册已受理" in browser.get(answer.headers["location"]).text
    browser.login(TENANT, "new.friend@wine.demo", "a-good-password")
    me = browser.get(f"/{TENANT}/me")
    assert "新朋友" in me.text
    assert re.search(r"<dt>受邀注册</dt><dd>是</dd>", me.text)
    # The same form posted again (a double click): the first answer, no second account.
    before = snapshot(site)
    again = browser.post(f"/{TENANT}/register", data)
    assert again.status_code == 303
    assert snapshot(site)["mall_users"] == before["mall_users"]


def test_register_refuses_bad_input_next_to_the_field_and_changes_nothing(
    site: Site, browser: Browser
) -> None:
    code = _invite_code(site)
    good = {
        "email": "someone@wine.demo",
        "password": "a-good-password",
        "password_again": "a-good-password",
        "invite_code": code,
    }
    cases = [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short", "password_again": "short"}, "password"),
        ({"password_again": "different-one"}, "password_again"),
        ({"invite_code": "NOSUCHCODE"}, "invite_code"),
        ({"display_name": "x" * 101}, "display_name"),
    ]
    before = snapshot(site)
    for change, name in cases:
        page = browser.get(f"/{TENANT}/register?invite={code}")
        answer = browser.post(f"/{TENANT}/register", {**hidden_fields(page.text), **good, **change})
        assert 400 <= answer.status_code < 500, (change, answer.status_code)
        assert field_error(answer.text, name), (change, answer.text[:2000])
        assert 'value="someone@wine.demo"' in answer.text or name == "email"
        assert "a-good-password" not in answer.text  # passwords are never sent back
        no_traceback(answer)
    # An address that already has an account: not said (no enumeration), nothing made.
    page = browser.get(f"/{TENANT}/register?invite={code}")
    answer = browser.post(
        f"/{TENANT}/register", {**hidden_fields(page.text), **good, "email": CONSUMER}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == REGISTERED  # as for a new one
    assert "tokenmall_session" not in answer.headers.get("set-cookie", "")
    after = snapshot(site)
    # Only the form's idempotency record (its answer, for a replay) is new.
    assert {k: v for k, v in after.items() if k != "mall_idempotency"} == {
        k: v for k, v in before.items() if k != "mall_idempotency"
    }


def test_forms_without_a_valid_csrf_token_are_refused(site: Site, browser: Browser) -> None:
    before = snapshot(site)
    data = {
        "email": "csrf@wine.demo",
        "password": "a-good-password",
        "password_again": "a-good-password",
    }
    for token in (None, "forged"):
        sent = dict(data) if token is None else {**data, "csrf_token": token}
        answer = browser.post(f"/{TENANT}/register", sent)
        assert answer.status_code == 403
        assert "表单已过期" in answer.text
    # A logged-in user's token does not work for another session.
    other = Browser(site.base_url)
    try:
        other.login(TENANT, CONSUMER)
        stolen = other.form(f"/{TENANT}/me")
        browser.login(TENANT, demo.ADMIN_EMAIL)
        answer = browser.post(
            f"/{TENANT}/admin/users",
            {**stolen, "email": "x@wine.demo", "password": "a-good-password", "role": "admin"},
        )
        assert answer.status_code == 403
    finally:
        other.close()
    assert snapshot(site) == before


# --- the admin console ---


def test_dashboard_shows_the_health_figures_of_the_report(site: Site, browser: Browser) -> None:
    from tokenmall.services.ledger import report
    from tokenmall.services.mall.uow import utc_now

    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = browser.get(f"/{TENANT}/admin/")
    assert page.status_code == 200
    with site.app.state.database.read() as conn:
        figures = report.solvency(conn, TENANT, utc_now()).to_public()
    fmt = Fmt("zh_CN")
    assert f'data-testid="pool">{fmt.money(figures["pool"])}<' in page.text
    assert f'data-testid="quota">{fmt.money(figures["quota_outstanding"])}<' in page.text
    assert f'data-testid="dividend-pool">{fmt.money(figures["dividend_pool"])}<' in page.text
    assert f'data-testid="price">{fmt.price(figures["price"])}<' in page.text
    assert "是承诺，不是保障" in page.text  # the quota is shown with what (does not) back it
    chart = re.search(r'id="price-chart-data">([^<]*)<', page.text)
    assert chart is not None
    assert '"labels"' in chart.group(1)
    assert '"prices"' in chart.group(1)
    assert "保证" not in page.text
    assert "只涨不跌" not in page.text


def test_console_pages_need_the_right_role(site: Site, browser: Browser) -> None:
    assert browser.get(f"/{TENANT}/admin/").headers["location"].startswith(f"/{TENANT}/login")
    browser.login(TENANT, CONSUMER)
    for path in ("/admin/", "/admin/params", "/admin/products", "/admin/users"):
        answer = browser.get(f"/{TENANT}{path}")
        assert answer.status_code == 403, path
        no_traceback(answer)
    merchant = Browser(site.base_url)
    try:
        merchant.login(TENANT, demo.MERCHANTS[0][0])
        assert merchant.get(f"/{TENANT}/admin/products").status_code == 200
        assert merchant.get(f"/{TENANT}/admin/users").status_code == 403
    finally:
        merchant.close()


def test_params_preview_shows_the_effect_and_changes_nothing(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    before = snapshot(site)
    page = browser.get(f"/{TENANT}/admin/params")
    assert page.status_code == 200
    assert 'data-testid="grant-before"' in page.text
    fields = hidden_fields(page.text)
    answer = browser.post(f"/{TENANT}/admin/params/preview", {**fields, "grant_rate": "0.35"})
    assert answer.status_code == 200
    before_grant = re.search(r'data-testid="grant-before">([^<]*)<', answer.text)
    after_grant = re.search(r'data-testid="grant-after">([^<]*)<', answer.text)
    assert before_grant
    assert after_grant
    grant = lambda text: float(text.replace(",", ""))  # noqa: E731 (a display figure only)
    assert abs(grant(after_grant.group(1)) * 2 - grant(before_grant.group(1))) < 0.001
    refused = browser.post(f"/{TENANT}/admin/params/preview", {**fields, "grant_rate": "abc"})
    assert refused.status_code == 422
    assert "grant_rate" in (field_error(refused.text, "grant_rate") or "")
    assert 'value="abc"' in refused.text  # the value sent is shown back to correct
    assert snapshot(site) == before


# --- products and stock ---


def test_products_and_stock_forms(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = f"/{TENANT}/admin/products"
    merchant = re.search(r'<option value="(mch_[0-9a-z]+)"', browser.get(page).text)
    assert merchant is not None
    good = {
        "title": "测试新酒",
        "price": "88.00",
        "stock": "10",
        "pool_contribution": "",
        "merchant_id": merchant.group(1),
    }
    before = snapshot(site)
    for change, name in (
        ({"price": "-1"}, "price"),
        ({"price": "1e3"}, "price"),
        ({"price": "12.345"}, "price"),
        ({"stock": "ten"}, "stock"),
        ({"title": ""}, "title"),
        ({"pool_contribution": "99.00"}, "pool_contribution"),
        ({"merchant_id": "mch_nope"}, "merchant_id"),
    ):
        answer = browser.submit(page, page, {**good, **change})
        assert 400 <= answer.status_code < 500, change
        assert field_error(answer.text, name), (change, answer.text[:3000])
        no_traceback(answer)
    assert snapshot(site) == before
    created = browser.submit(page, page, good)
    assert created.status_code == 303
    listing = browser.get(page)
    assert "测试新酒" in listing.text
    sku = re.search(r'data-testid="stock-(sku_[0-9a-z]+)">10<', listing.text)
    assert sku is not None
    action = f"/{TENANT}/admin/skus/{sku.group(1)}/stock"
    before = snapshot(site)
    for change, status in (("abc", 422), ("-11", 409), ("0", 422)):
        answer = browser.submit(page, action, {"change": change, "row": sku.group(1)})
        assert answer.status_code == status, (change, answer.status_code)
        assert field_error(answer.text, "change"), change
    assert snapshot(site) == before
    assert browser.submit(page, action, {"change": "5", "row": sku.group(1)}).status_code == 303
    assert f'data-testid="stock-{sku.group(1)}">15<' in browser.get(page).text


def test_users_kyc_and_roles(site: Site, browser: Browser) -> None:
    browser.login(TENANT, demo.ADMIN_EMAIL)
    page = f"/{TENANT}/admin/users"
    listing = browser.get(page)
    rows = re.findall(rf'action="/{TENANT}/admin/users/(usr_[0-9a-z]+)"', listing.text)
    assert len(rows) >= 8
    with site.app.state.database.read() as conn:
        from tokenmall.adapters.db.mall import people

        target = people.login_row(conn, TENANT, demo.CONSUMERS[1][0])
        admin = people.login_row(conn, TENANT, demo.ADMIN_EMAIL)
    assert target is not None
    assert admin is not None
    done = browser.submit(
        page,
        f"/{TENANT}/admin/users/{target[0]}",
        {"role": "consumer", "kyc_status": "verified", "row": target[0]},
    )
    assert done.status_code == 303
    with site.app.state.database.read() as conn:
        user = people.get_user(conn, TENANT, target[0])
    assert user is not None
    assert user.kyc_status == "verified"
    before = snapshot(site)
    refused = browser.submit(
        page,
        f"/{TENANT}/admin/users/{admin[0]}",
        {"role": "consumer", "kyc_status": "none", "row": admin[0]},
    )
    assert refused.status_code == 403
    assert "demote" in (field_error(refused.text, "role") or "")
    bad = browser.submit(
        page, f"/{TENANT}/admin/users/{target[0]}", {"role": "king", "row": target[0]}
    )
    assert bad.status_code == 422
    assert snapshot(site) == before


# --- the platform operator ---


def test_operator_changes_a_parameter_through_the_ledger(site: Site, browser: Browser) -> None:
    assert browser.get("/-/platform/").headers["location"] == "/-/platform/login"
    browser.operator_login()
    tenants = browser.get("/-/platform/")
    assert tenants.status_code == 200
    assert f"/-/platform/tenants/{TENANT}" in tenants.text
    page = f"/-/platform/tenants/{TENANT}"
    action = f"{page}/params"
    version = params_version(site)
    before = snapshot(site)
    for change, name in (
        ({"pool_rate": "1.5"}, "pool_rate"),
        ({"grant_rate": "0.95"}, "grant_rate"),  # grant + referral above 1: the price could fall
        ({"referral_rates": "0.1, 0.1, 0.1, 0.1"}, "referral_rates"),
        ({"max_supply": "-5"}, "max_supply"),
        ({"forced_exit": "maybe"}, "forced_exit"),
    ):
        for action_name in ("preview", "apply"):
            answer = browser.submit(page, action, {**change, "action": action_name})
            assert answer.status_code == 422, (change, action_name, answer.status_code)
            assert field_error(answer.text, name), (change, answer.text[:3000])
    assert params_version(site) == version
    assert snapshot(site) == before
    preview = browser.submit(page, action, {"grant_rate": "0.60", "action": "preview"})
    assert preview.status_code == 200
    assert 'data-testid="grant-after"' in preview.text
    assert params_version(site) == version
    fields = browser.form(page)
    data = {**fields, "grant_rate": "0.60", "action": "apply", "params_version": str(version)}
    applied = browser.post(action, data)
    assert applied.status_code == 303
    assert params_version(site) == version + 1
    again = browser.post(action, data)  # the same form again: replayed, not a second change
    assert again.status_code == 303
    assert params_version(site) == version + 1
    shown = browser.get(page)
    assert 'value="0.6"' in shown.text
    stale = browser.submit(
        page, action, {"grant_rate": "0.55", "action": "apply", "params_version": str(version)}
    )
    assert stale.status_code == 409
    assert params_version(site) == version + 1


def test_operator_creates_a_tenant_and_its_admin_cannot_see_another(
    site: Site, browser: Browser, another_browser: Browser
) -> None:
    browser.operator_login()
    page = "/-/platform/"
    action = "/-/platform/tenants"
    good = {
        "tenant_id": "beer",
        "name": "麦香啤酒",
        "preset": "default",
        "admin_email": "boss@beer.demo",
        "admin_password": "a-good-password",
    }
    before = snapshot(site)
    for change, name in (
        ({"tenant_id": "B!"}, "tenant_id"),
        ({"tenant_id": TENANT}, "tenant_id"),
        ({"admin_email": "nope"}, "admin_email"),
        ({"admin_password": "short"}, "admin_password"),
        ({"preset": "other"}, "preset"),
    ):
        answer = browser.submit(page, action, {**good, **change})
        assert 400 <= answer.status_code < 500, change
        assert field_error(answer.text, name), (change, answer.text[:3000])
    assert snapshot(site) == before
    created = browser.submit(page, action, good)
    assert created.status_code == 303
    assert created.headers["location"].endswith("/beer")
    another_browser.login("beer", "boss@beer.demo", "a-good-password")
    assert another_browser.get("/beer/admin/").status_code == 200
    # Beer's admin is nobody in wine: the wine console asks for a wine login.
    answer = another_browser.get(f"/{TENANT}/admin/users")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/{TENANT}/login")
    # And a tenant's user is no operator.
    assert another_browser.get("/-/platform/").status_code == 303
