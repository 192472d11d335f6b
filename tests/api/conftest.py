"""The API under test: a real uvicorn server on 127.0.0.1 per database, and a small client.

The server runs in a thread of the test process (so tests stay fast) and is spoken to over
real HTTP with httpx, one server per test module and database (the ledger's ``db_url``).
Tests do not share state through ids: every test makes its own tenant (``new_tenant``).
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, make_tenant

from tokenmall.config import Settings
from tokenmall.web.app import create_app


def _integration_fixtures() -> ModuleType:
    """The ledger's ``tests/integration/conftest.py``, for its ``db_url`` fixture."""
    path = Path(__file__).parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("tokenmall_integration_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# A fresh SQLite file and a fresh PostgreSQL schema per test module (skipped without a server
# outside CI, an error in CI): the same fixture the ledger's integration tests use.
db_url = _integration_fixtures().db_url


@dataclass
class Server:
    base_url: str
    settings: Settings
    app: Any


@pytest.fixture(scope="module")
def server(db_url: str) -> Iterator[Server]:
    settings = Settings(
        database_url=db_url,
        log_level="WARNING",
        insecure_fast_password_hashing=True,
        operator_email=OPERATOR_EMAIL,
        operator_password=OPERATOR_PASSWORD,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings, configure_logging=False)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    yield Server(f"http://127.0.0.1:{port}", settings, app)
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def api(server: Server) -> Iterator[Api]:
    client = Api(server.base_url)
    yield client
    client.http.close()


@pytest.fixture
def operator_token(api: Api) -> str:
    answer = api.post(
        "/api/v1/platform/login", json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


@pytest.fixture
def tenant(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token)


@pytest.fixture
def other_tenant(api: Api, operator_token: str) -> TenantFixture:
    return make_tenant(api, operator_token)


@pytest.fixture
def server_base(server: Server) -> str:
    return server.base_url
