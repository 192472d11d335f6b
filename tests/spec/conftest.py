"""The NFG contract's spec tests: a real uvicorn server per database, spoken to over HTTP.

The helpers of the API tests (``mall_api``) are reused; nothing of the project's log code is:
the tests compute hashes, proofs and signatures themselves from docs/design/nfg.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from mall_api import (
    OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
    Api,
    TenantFixture,
    make_tenant,
)

from served import Server, app_settings, integration_db_url, served

db_url = integration_db_url("tokenmall_spec_fixtures")


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
def tenant(api: Api) -> TenantFixture:
    answer = api.post(
        "/api/v1/platform/login", json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return make_tenant(api, str(answer.json()["token"]))
