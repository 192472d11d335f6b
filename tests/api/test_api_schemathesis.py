"""Schemathesis against our OpenAPI over real HTTP: no server error, every response (status,
content type, body, headers) as the schema declares it, and schema-breaking input refused.

Each operation gets schema-valid and schema-breaking requests from schemathesis' Hypothesis
strategies, sent to a real tenant (its id in the path, for valid requests) as its admin with a
fresh Idempotency-Key. Ids in paths are mostly random, so most answers are 404s and 422s that
must match the declared error body. The strategies are driven directly rather than through
schemathesis' pytest plugin, which does not run under pytest 9.2. Examples per operation are
few, and it runs on SQLite only, to keep the suite fast (every other API test runs on both).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, make_tenant, ok
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from evm_kit import OfflineAccess
from tokenmall import bootstrap


def _target(base_url: str) -> dict[str, str]:
    api = Api(base_url)
    operator = ok(
        api.post(
            "/api/v1/platform/login", json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
        )
    )["token"]
    tenant = make_tenant(api, operator)
    return {"tenant_id": tenant.tenant_id, "admin": tenant.admin_token, "operator": operator}


def _send(case: Any, base_url: str, target: dict[str, str], mode: GenerationMode) -> None:
    if case.path_parameters and "tenant_id" in case.path_parameters and mode.is_positive:
        case.path_parameters["tenant_id"] = target["tenant_id"]
    token = target["operator"] if "/platform/" in case.path else target["admin"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    case.call_and_validate(
        base_url=base_url,
        headers=headers,
        # Random ids rarely exist, so valid-looking requests may rightly answer 404 or 409.
        excluded_checks=[positive_data_acceptance],
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_and_responses_match_the_schema(
    request: pytest.FixtureRequest,
    db_url: str,
    mode: GenerationMode,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("schemathesis runs on SQLite only, to keep the suite fast")
    # A generated chain URL must never be dialled: the anchoring check reaches no chain here.
    monkeypatch.setattr(bootstrap, "chain_access", OfflineAccess())
    server = request.getfixturevalue("server")
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    target = _target(server.base_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        if operation.path.endswith("/logout"):
            continue  # would end the session the other requests use

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            _send(case, server.base_url, target, mode)

        try:
            check()
        except Unsatisfiable:
            # Nothing in this operation can break the schema (no parameters, no body).
            assert mode is GenerationMode.NEGATIVE, operation.label
