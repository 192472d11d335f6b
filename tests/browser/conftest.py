"""Browser tests: Debian's headless Chromium driven by Playwright for Python against the app
served by uvicorn on 127.0.0.1 (SQLite, the demo's wine tenant seeded with a short history).

Chromium is looked for at /usr/bin/chromium (``TOKENMALL_CHROMIUM`` names another). Outside CI,
a missing Chromium or Playwright skips these tests with the reason; in CI (``CI`` set) it fails
them: ``.ci/run`` installs chromium and fonts-noto-cjk. Screenshots go to
out/artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import Site

from served import app_settings, served
from tokenmall.demo import living as demo

CHROMIUM = os.environ.get("TOKENMALL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API keeps an event loop running in the
    main thread while it is open, which later tests' ``asyncio.run`` would trip over."""
    problem = _missing()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {problem}")
        pytest.skip(f"{problem}; set CI=1 to make this an error")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("browser")
    with served(app_settings(f"sqlite:///{folder / 'tokenmall.db'}")) as (base, app):
        demo.seed(app.state.database, base_url=base, days=7)
        yield Site(base, app)


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A 375-px phone screen, Chinese."""
    context = chromium.new_context(
        viewport={"width": 375, "height": 812}, locale="zh-CN", device_scale_factor=2
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def desk(chromium: Any) -> Iterator[Any]:
    """A desktop screen, Chinese."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
