"""The API under test: a real uvicorn server on 127.0.0.1 per database, and a small client.

The server runs in a thread of the test process (so tests stay fast) and is spoken to over
real HTTP with httpx. Each database gets a fresh schema once per session: SQLite in a temporary
file, PostgreSQL in a database of its own (created and dropped here) on the local server.
Tests do not share state through ids: every test makes its own tenant (``new_tenant``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, make_tenant

from tokenmall.config import Settings
from tokenmall.web.app import create_app

PG_SERVER = os.environ.get("TOKENMALL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_database() -> Iterator[str]:
    import psycopg

    name = f"tokenmall_api_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_url = PG_SERVER.replace("+psycopg", "") + "/postgres"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('api') / 'tokenmall.db'}"
    else:
        yield from _postgres_database()


@dataclass
class Server:
    base_url: str
    settings: Settings
    app: Any


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[Server]:
    settings = Settings(
        database_url=database_url,
        log_level="WARNING",
        insecure_fast_password_hashing=True,
        operator_email=OPERATOR_EMAIL,
        operator_password=OPERATOR_PASSWORD,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings)
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
