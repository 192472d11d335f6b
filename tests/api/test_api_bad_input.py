"""Bad input on every write endpoint gets a 4xx with a clear message and changes nothing.

Each case takes a valid request, spoils one field (negative, zero, non-numeric, huge,
float-shaped like "1e3", a JSON number where a decimal string belongs, missing, unknown), and
checks the answer and that a snapshot of the tenant and the platform is exactly as before.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok

MISSING = object()
Case = tuple[str, str, Any]

MONEY_BAD = [
    "-1.00",
    "0",
    "0.00",
    "abc",
    "1e3",
    "1E3",
    100,
    12.5,
    "12.345",
    "99999999999.00",
    "",
    " ",
    True,
    None,
    "NaN",
    "Infinity",
    "１２",
]
QUANTITY_BAD = [-1, "5", 1.5, 1e3, 10**12, 2**70, True, None, "abc"]
TEXT_BAD = ["", "   ", "x" * 6000, 123, None, ["a"]]
RATE_BAD = ["-0.1", "1.5", "abc", "1e3", 0.3, None, "0.3.1"]


def _cases() -> list[Case]:
    cases: list[Case] = []
    for value in MONEY_BAD:
        cases += [("sku", "price", value), ("sku_patch", "price", value)]
    for value in ["-1.00", "abc", "1e3", 30, 30.0, "200.00", "1.001"]:  # 0 is allowed here
        cases.append(("sku", "pool_contribution", value))
    for value in QUANTITY_BAD:
        cases.append(("sku", "stock", value))
    for value in [*QUANTITY_BAD[1:], 0, -(10**12), -11]:  # -1 is a valid adjustment; -11 oversells
        cases.append(("stock", "change", value))
    cases += [("stock", "reason", v) for v in ("reservation", "", None, 1)]
    for value in TEXT_BAD:
        cases += [("product", "title", value), ("merchant", "name", value)]
        cases += [("api_key", "name", value), ("sku", "name", value)]
    for value in RATE_BAD:
        cases += [("tenant", "params.pool_rate", value), ("params", "params.pool_rate", value)]
    cases += [
        ("tenant", "params.referral_rates", ["0.1", "0.1", "0.1", "0.1"]),
        ("tenant", "params.max_supply", "-5"),
        ("tenant", "params.no_such_param", "1"),
        ("params", "params", {}),
        ("params", "params.levels", [[5, "x"]]),
        ("tenant", "tenant_id", "UPPER"),
        ("tenant", "tenant_id", "x"),
        ("tenant", "tenant_id", "a" * 40),
        ("tenant", "preset", "nope"),
        ("tenant", "admin.email", "not-an-email"),
        ("tenant", "admin.password", "short"),
        ("register", "email", "no-at-sign"),
        ("register", "email", 5),
        ("register", "password", "short"),
        ("register", "password", "x" * 300),
        ("register", "invite_code", "NOSUCH00"),
        ("user", "role", "operator"),
        ("user", "role", None),
        ("user_patch", "kyc_status", "approved"),
        ("user_patch", "role", "root"),
        ("user_patch", "kyc_status", MISSING),
        ("merchant", "owner_user_id", "usr_nosuch"),
        ("product", "merchant_id", "mch_nosuch"),
        ("product_patch", "status", "deleted"),
        ("product_patch", "title", MISSING),
    ]
    required = {
        "tenant": ["tenant_id", "name", "admin", "admin.email", "admin.password"],
        "params": ["params"],
        "register": ["email", "password"],
        "user": ["email", "password", "role"],
        "api_key": ["name"],
        "merchant": ["name", "owner_user_id"],
        "product": ["title"],
        "sku": ["name", "price"],
        "stock": ["change", "reason"],
    }
    for endpoint, fields in required.items():
        cases += [(endpoint, field, MISSING) for field in fields]
    for endpoint in ENDPOINTS:
        cases.append((endpoint, "unexpected_field", "surprise"))
    return cases


ENDPOINTS = [
    "tenant",
    "params",
    "register",
    "user",
    "user_patch",
    "api_key",
    "merchant",
    "product",
    "product_patch",
    "sku",
    "sku_patch",
    "stock",
]


def _request(
    name: str, t: TenantFixture, operator: str, spare: str = ""
) -> tuple[str, str, str | None, Any]:
    base = f"/api/v1/tenants/{t.tenant_id}"
    return {
        "tenant": (
            "POST",
            "/api/v1/platform/tenants",
            operator,
            {
                "tenant_id": f"fresh-{uuid.uuid4().hex[:8]}",
                "name": "Fresh",
                "params": {"pool_rate": "0.3"},
                "admin": {"email": "boss@fresh.test", "password": "password-one"},
            },
        ),
        "params": (
            "PATCH",
            f"/api/v1/platform/tenants/{t.tenant_id}/params",
            operator,
            {"params": {"pool_rate": "0.25"}},
        ),
        "register": (
            "POST",
            f"{base}/register",
            None,
            {"email": "new@shop.test", "password": "password-one"},
        ),
        "user": (
            "POST",
            f"{base}/users",
            t.admin_token,
            {"email": "staff@shop.test", "password": "password-one", "role": "merchant"},
        ),
        "user_patch": (
            "PATCH",
            f"{base}/users/{t.consumer_id}",
            t.admin_token,
            {"kyc_status": "verified"},
        ),
        "api_key": ("POST", f"{base}/api-keys", t.admin_token, {"name": "erp"}),
        "merchant": (
            "POST",
            f"{base}/merchants",
            t.admin_token,
            {"name": "Second", "owner_user_id": spare},
        ),
        "product": ("POST", f"{base}/products", t.merchant_token, {"title": "White wine"}),
        "product_patch": (
            "PATCH",
            f"{base}/products/{t.product_id}",
            t.merchant_token,
            {"title": "Renamed"},
        ),
        "sku": (
            "POST",
            f"{base}/products/{t.product_id}/skus",
            t.merchant_token,
            {"name": "375ml", "price": "50.00", "stock": 3, "pool_contribution": "10.00"},
        ),
        "sku_patch": ("PATCH", f"{base}/skus/{t.sku_id}", t.merchant_token, {"price": "90.00"}),
        "stock": (
            "POST",
            f"{base}/skus/{t.sku_id}/stock-movements",
            t.merchant_token,
            {"change": -1, "reason": "adjustment"},
        ),
    }[name]


def _spoil(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    spoiled = copy.deepcopy(body)
    *parents, last = field.split(".")
    node = spoiled
    for part in parents:
        node = node.setdefault(part, {})
    if value is MISSING:
        node.pop(last, None)
    else:
        node[last] = value
    return spoiled


def _snapshot(server: Any) -> Any:
    """Every row of every table (mall and ledger), read from the database the server uses."""
    from sqlalchemy import select

    from tokenmall.adapters.db.mall.tables import metadata

    with server.app.state.database.read() as conn:
        return {
            name: sorted(tuple(map(str, row)) for row in conn.execute(select(table)))
            for name, table in metadata.tables.items()
            if not name.endswith("sessions")  # logins add sessions; the ledger included
        }


@pytest.fixture(scope="module")
def shared(server: Any) -> Any:
    """One tenant for all cases (refused requests change nothing, so they cannot interfere)."""
    from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, make_tenant

    api = Api(server.base_url)
    operator = ok(
        api.post(
            "/api/v1/platform/login", json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
        )
    )["token"]
    t = make_tenant(api, operator)
    spare = _spare(api, t)
    return api, t, operator, spare, _snapshot(server)


def _spare(api: Api, t: TenantFixture) -> str:
    """A merchant-role user who owns no merchant yet."""
    body = {"email": "spare@shop.test", "password": "password-one", "role": "merchant"}
    return str(ok(api.post(t.path("/users"), t.admin_token, json=body), 201)["user_id"])


def test_every_valid_request_used_here_succeeds(
    api: Api, tenant: TenantFixture, operator_token: str
) -> None:
    # The spoiled requests below differ from these in one field only.
    spare = _spare(api, tenant)
    for name in ENDPOINTS:
        method, path, token, body = _request(name, tenant, operator_token, spare)
        answer = api.call(method, path, token, body)
        assert answer.status_code in (200, 201), (name, answer.text)


@pytest.mark.parametrize(("endpoint", "field", "value"), _cases(), ids=repr)
def test_bad_input_is_refused_and_changes_nothing(
    server: Any, shared: Any, endpoint: str, field: str, value: Any
) -> None:
    # Refused requests change nothing, so every case must leave the opening snapshot intact.
    api, t, operator, spare, before = shared
    method, path, token, body = _request(endpoint, t, operator, spare)
    answer = api.call(method, path, token, _spoil(body, field, value))
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    assert error["message"].strip()
    assert error["code"] in ("invalid_request", "invalid_input", "bad_request", "out_of_stock")
    assert _snapshot(server) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_malformed_json_and_a_missing_idempotency_key_are_400(
    server: Any, shared: Any, endpoint: str
) -> None:
    api, t, operator, spare, before = shared
    method, path, token, body = _request(endpoint, t, operator, spare)
    broken = api.call(
        method, path, token, content=b'{"oops": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code in (400, 422)
    no_key = api.call(method, path, token, body, key=None)
    assert no_key.status_code == 400
    assert no_key.json()["error"]["field"] == "Idempotency-Key"
    assert _snapshot(server) == before
