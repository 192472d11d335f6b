"""The API under test: a real uvicorn server on 127.0.0.1 per database, and a small client.

The server runs in a thread of the test process (so tests stay fast) and is spoken to over
real HTTP with httpx, one server per test module and database (the ledger's ``db_url``).
Tests do not share state through ids: every test makes its own tenant (``new_tenant``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, make_tenant

from served import Server, app_settings, integration_db_url, served
from tokenmall.adapters.db.engine import make_engine
from tokenmall.services.mall.uow import Database

# A fresh SQLite file and a fresh PostgreSQL schema per test module (skipped without a server
# outside CI, an error in CI): the same fixture the ledger's integration tests use.
db_url = integration_db_url("tokenmall_integration_fixtures")


@pytest.fixture
def second(server: Server) -> Iterator[Database]:
    """Another engine on the server's database, with writers and caches of its own (as
    another process has)."""
    db = Database(make_engine(str(server.settings.database_url)))
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def server(db_url: str) -> Iterator[Server]:
    settings = app_settings(
        db_url, operator_email=OPERATOR_EMAIL, operator_password=OPERATOR_PASSWORD
    )
    with served(settings) as (base, app):
        yield Server(base, settings, app)


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
