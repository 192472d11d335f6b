"""Page tests: the app served by uvicorn on 127.0.0.1 per module and database (SQLite and
PostgreSQL, the ledger's ``db_url`` fixture), with the demo's wine tenant seeded through
``demo/living.py``, spoken to over real HTTP by httpx with cookies, as a browser without
JavaScript would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pages_helpers import Browser, Site

from served import app_settings, integration_db_url, served
from tokenmall.demo import living as demo

db_url = integration_db_url("tokenmall_integration_fixtures_pages")


@pytest.fixture(scope="module")
def site(db_url: str) -> Iterator[Site]:
    with served(app_settings(db_url)) as (base, app):
        demo.seed(app.state.database, base_url=base, days=5)
        yield Site(base, app)


@pytest.fixture
def browser(site: Site) -> Iterator[Browser]:
    b = Browser(site.base_url)
    yield b
    b.close()


@pytest.fixture
def another_browser(site: Site) -> Iterator[Browser]:
    b = Browser(site.base_url)
    yield b
    b.close()
