"""Page tests: the app served by uvicorn on 127.0.0.1 per module and database (SQLite and
PostgreSQL, the ledger's ``db_url`` fixture), with the demo's wine tenant seeded through
``services/demo.py``, spoken to over real HTTP by httpx with cookies, as a browser without
JavaScript would."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import uvicorn
from pages_helpers import Browser, Site

from tokenmall.config import Settings
from tokenmall.services import demo
from tokenmall.web.app import create_app


def _integration_fixtures() -> ModuleType:
    path = Path(__file__).parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("tokenmall_integration_fixtures_pages", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


db_url = _integration_fixtures().db_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site(db_url: str) -> Iterator[Site]:
    settings = Settings(
        database_url=db_url,
        log_level="WARNING",
        insecure_fast_password_hashing=True,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings, configure_logging=False)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    demo.seed(app.state.database, base_url=base, days=5)
    yield Site(base, app)
    server.should_exit = True
    thread.join(timeout=10)


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
