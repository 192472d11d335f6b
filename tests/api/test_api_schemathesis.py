"""Schemathesis against our OpenAPI over real HTTP: no server error, every response (status,
content type, body, headers) as the schema declares it, and schema-breaking input refused.

Generated requests go to a real tenant (its id in the path) as its admin, with a fresh
Idempotency-Key each; ids in paths are mostly random, so most answers are 404s and 422s that
must match the declared error body. Examples per operation are few to keep the suite fast.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, make_tenant, ok
from schemathesis.specs.openapi.checks import positive_data_acceptance


@pytest.fixture(scope="module")
def api_schema(request: pytest.FixtureRequest, db_url: str) -> Any:
    if not db_url.startswith("sqlite"):
        # The schema and the handlers are the same on both databases; once is enough here
        # (every other API test runs on both).
        pytest.skip("schemathesis runs on SQLite only, to keep the suite fast")
    server = request.getfixturevalue("server")
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")


@pytest.fixture(scope="module")
def target(server: Any) -> dict[str, str]:
    api = Api(server.base_url)
    operator = ok(
        api.post(
            "/api/v1/platform/login", json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
        )
    )["token"]
    tenant = make_tenant(api, operator)
    return {
        "base_url": server.base_url,
        "tenant_id": tenant.tenant_id,
        "admin": tenant.admin_token,
        "operator": operator,
    }


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_error_and_responses_match_the_schema(case: Any, target: dict[str, str]) -> None:
    negative = case._meta is not None and case._meta.generation.mode.is_negative
    if case.path_parameters and "tenant_id" in case.path_parameters and not negative:
        # Aim valid cases at a real tenant; negative ones keep their schema-breaking values.
        case.path_parameters["tenant_id"] = target["tenant_id"]
    token = target["operator"] if "/platform/" in case.path else target["admin"]
    if case.path.endswith("/logout"):
        return  # would end the shared session the other cases use
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    case.call_and_validate(
        base_url=target["base_url"],
        headers=headers,
        # Random ids rarely exist, so valid-looking requests may rightly answer 404 or 409.
        excluded_checks=[positive_data_acceptance],
    )
