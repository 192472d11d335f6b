"""In real headless Chromium: a consumer registers from an invite link and sees the mall; the
platform operator changes a parameter (a bad value refused on the page, nothing changed); a
tenant admin sees the dashboard's chart. Screenshots of the main pages, in Chinese, are saved
to out/artifacts/screenshots/."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

from browser_helpers import Site, shot, wait_until

from tokenmall.adapters.db.store import Store
from tokenmall.demo import living as demo

TENANT = demo.TENANT_ID

# True when two different CJK characters draw differently from each other and from a code point
# no font has: with no CJK font, all three are the same empty box ("tofu").
CJK_DRAWS = """() => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 40;
  const g = canvas.getContext("2d");
  const family = getComputedStyle(document.body).fontFamily;
  const draw = (text) => {
    g.clearRect(0, 0, 64, 40); g.fillStyle = "#000"; g.font = "28px " + family;
    g.fillText(text, 4, 32);
    return Array.from(g.getImageData(0, 0, 64, 40).data).join(",");
  };
  const a = draw("底"), b = draw("池"), none = draw("\\u0378");
  return a !== b && a !== none && b !== none;
}"""


def _log_in(page: Any, site: Site, path: str, email: str) -> None:
    page.goto(site.base_url + path)
    page.fill("#f-email", email)
    page.fill("#f-password", demo.PASSWORD)
    page.click("button[type=submit] >> nth=-1")


def _version(site: Site) -> int:
    with site.app.state.database.read() as conn:
        return Store(conn.engine).load_params(conn, TENANT)[1]


def test_chinese_glyphs_render(site: Site, phone: Any) -> None:
    if shutil.which("fc-list"):
        fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
        assert "CJK" in fonts or "Noto Sans SC" in fonts, "no CJK font (apt install fonts-noto-cjk)"
    phone.goto(f"{site.base_url}/{TENANT}/login")
    assert phone.evaluate(CJK_DRAWS)


def test_a_consumer_registers_from_an_invite_link_and_sees_the_mall(site: Site, phone: Any) -> None:
    link = demo.invite_link(site.app.state.database, site.base_url)
    phone.goto(link)
    code = link.rsplit("=", 1)[1]
    assert phone.input_value("#f-invite_code") == code
    shot(phone, "mall-register")
    # A refused form first: the message appears next to the field and nothing is created.
    phone.fill("#f-email", "phone.user@wine.demo")
    phone.fill("#f-display_name", "手机用户")
    phone.fill("#f-password", "a-good-password")
    phone.fill("#f-password_again", "another-password")
    phone.click("button[type=submit]")
    error = phone.locator('[data-field="password_again"]')
    error.wait_for()
    assert "两次输入的密码不一致" in error.inner_text()
    shot(phone, "mall-register-refused")
    phone.fill("#f-password", "a-good-password")
    phone.fill("#f-password_again", "a-good-password")
    phone.click("button[type=submit]")
    # Registering signs nobody in (the same answer as for an address that has an account).
    phone.wait_for_url(re.compile(rf"/{TENANT}/login\?registered=1"))
    assert "注册已受理" in phone.content()
    phone.fill("#f-email", "phone.user@wine.demo")
    phone.fill("#f-password", "a-good-password")
    phone.click("button[type=submit] >> nth=-1")
    phone.wait_for_url(re.compile(rf"/{TENANT}/me\?welcome=1$"))
    assert phone.locator('[data-testid="display-name"]').inner_text() == "手机用户"
    assert "欢迎" in phone.content()
    shot(phone, "mall-me")
    phone.click("nav.tabbar >> text=首页")
    phone.wait_for_url(re.compile(rf"/{TENANT}/$"))
    products = phone.locator('[data-testid="products"] li')
    assert products.count() >= 5
    assert "醇香干红葡萄酒" in phone.locator('[data-testid="products"]').inner_text()
    shot(phone, "mall-home")
    phone.click("text=醇香干红葡萄酒 750ml")
    phone.wait_for_url(re.compile(rf"/{TENANT}/products/prd_"))
    assert "¥30.00" in phone.content()
    shot(phone, "mall-product")
    # Nothing on the mall is wider than the phone's screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375


def test_the_operator_changes_a_parameter_and_a_bad_value_is_refused(site: Site, desk: Any) -> None:
    _log_in(desk, site, "/-/platform/login", demo.OPERATOR_EMAIL)
    desk.wait_for_url(re.compile(r"/-/platform/$"))
    shot(desk, "platform-tenants")
    desk.click(f'a[href="/-/platform/tenants/{TENANT}"]')
    desk.wait_for_url(re.compile(rf"/-/platform/tenants/{TENANT}$"))
    version = _version(site)
    desk.fill("#f-pool_rate", "1.5")
    desk.click('button[value="apply"]')
    error = desk.locator('[data-field="pool_rate"]')
    error.wait_for()
    assert "must be between 0 and 1" in error.inner_text()
    assert _version(site) == version
    shot(desk, "platform-params-refused")
    desk.fill("#f-pool_rate", "0.3")
    desk.fill("#f-grant_rate", "0.60")
    desk.click('button[value="preview"]')
    desk.locator('[data-testid="grant-after"]').wait_for()
    assert _version(site) == version
    shot(desk, "platform-params-preview")
    desk.click('button[value="apply"]')
    desk.locator(".flash").wait_for()
    assert "参数已修改" in desk.locator(".flash").inner_text()
    assert _version(site) == version + 1
    assert desk.input_value("#f-grant_rate") == "0.6"


def test_the_admin_sees_the_dashboard_chart_and_the_console(site: Site, desk: Any) -> None:
    _log_in(desk, site, f"/{TENANT}/login", demo.ADMIN_EMAIL)
    desk.wait_for_url(re.compile(rf"/{TENANT}/admin/$"))  # an admin lands on the console
    desk.goto(f"{site.base_url}/{TENANT}/admin/")
    wait_until(desk, "document.documentElement.dataset.chartsDrawn === '1'")
    drawn = desk.evaluate(
        """() => {
          const c = document.getElementById("price-chart");
          const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          let ink = 0;
          for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
          return [c.width, c.height, ink];
        }"""
    )
    assert drawn[0] > 300, drawn
    assert drawn[1] > 100, drawn
    assert drawn[2] > 1000, drawn
    assert "是承诺，不是保障" in desk.locator('[data-testid="figures"]').inner_text()
    shot(desk, "admin-dashboard")
    for path, name in (
        ("params", "admin-params"),
        ("products", "admin-products"),
        ("users", "admin-users"),
    ):
        desk.click(f'a[href="/{TENANT}/admin/{path}"]')
        desk.wait_for_url(re.compile(rf"/{TENANT}/admin/{path}$"))
        shot(desk, name)
    # The parameters page previews a change with a message next to a bad value.
    desk.click(f'a[href="/{TENANT}/admin/params"]')
    desk.wait_for_url(re.compile(rf"/{TENANT}/admin/params$"))
    desk.fill("#f-grant_rate", "abc")
    desk.click("text=预览效果")
    desk.locator('[data-field="grant_rate"]').wait_for()
    desk.fill("#f-grant_rate", "0.35")
    desk.click("text=预览效果")
    desk.locator('[data-testid="grant-after"]').wait_for()
    shot(desk, "admin-params-preview")
    # English on request.
    desk.goto(f"{site.base_url}/{TENANT}/admin/?lang=en")
    assert "Backing pool" in desk.locator('[data-testid="figures"]').inner_text()
