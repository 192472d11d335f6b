"""No page of this server can be framed by another site: the sandbox's payment page and the
API's documentation (``/docs``) send a Content-Security-Policy with ``frame-ancestors
'none'`` and ``X-Frame-Options: DENY`` (the mall's pages keep their own stricter policy); and
tenant ids that name one of the server's own top-level paths are refused at creation (422
naming ``tenant_id``), changing nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mall_api import Api, TenantFixture
from orders_helpers import add_to_cart, checkout

from tokenmall.services.mall.validate import RESERVED_TENANT_IDS, TENANT_ID


def _framing_refused(answer: Any) -> None:
    policy = answer.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, answer.headers
    assert answer.headers.get("x-frame-options") == "DENY"
    assert answer.headers.get("x-content-type-options") == "nosniff"


def test_the_sandbox_page_cannot_be_framed(api: Api, tenant: TenantFixture) -> None:
    add_to_cart(api, tenant)
    (payment,) = checkout(api, tenant)["payments"]
    page = api.http.get(payment["redirect_url"])
    assert page.status_code == 200
    _framing_refused(page)
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "form-action 'self'" in policy
    pressed = api.http.post(payment["redirect_url"], data={"outcome": "nonsense"})
    assert pressed.status_code == 400
    _framing_refused(pressed)
    _framing_refused(api.http.get("/sandbox/pay/nope.pay_00000000000000000000000000"))


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/healthz"])
def test_the_openapi_pages_and_the_api_cannot_be_framed(api: Api, path: str) -> None:
    answer = api.http.get(path)
    assert answer.status_code == 200
    _framing_refused(answer)


def test_json_answers_load_nothing_and_pages_keep_their_policy(api: Api) -> None:
    health = api.http.get("/healthz")
    assert health.headers["content-security-policy"].startswith("default-src 'none'")
    landing = api.http.get("/")
    policy = landing.headers["content-security-policy"]
    assert policy.count("frame-ancestors") == 1
    assert "script-src 'self'" in policy  # the pages' own policy, not replaced


def _top_level_paths(routes: list[Any]) -> set[str]:
    found: set[str] = set()
    for route in routes:
        inner = getattr(route, "original_router", None) or route
        nested = getattr(inner, "routes", None)
        path = getattr(route, "path", None)
        if isinstance(path, str) and path:
            found.add(path.split("/")[1])
        elif nested:
            found |= _top_level_paths(list(nested))
    return found


def test_every_top_level_path_of_the_server_is_a_reserved_tenant_id(server: Any) -> None:
    names = _top_level_paths(list(server.app.routes))
    assert {"api", "docs", "sandbox"} <= names
    could_be_tenants = {n for n in names if TENANT_ID.match(n)}
    assert could_be_tenants <= RESERVED_TENANT_IDS


@pytest.mark.parametrize(
    "tenant_id", ["api", "docs", "sandbox", "static", "platform", "healthz", "redoc", "health"]
)
def test_a_tenant_id_that_names_a_route_is_refused(
    api: Api, operator_token: str, tenant_id: str
) -> None:
    answer = api.post(
        "/api/v1/platform/tenants",
        operator_token,
        json={
            "tenant_id": tenant_id,
            "name": "Shadow",
            "admin": {"email": "admin@shadow.test", "password": "admin-password"},
        },
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == "tenant_id"
    assert re.search(rf"'{tenant_id}' is reserved", error["message"])
    assert api.get(f"/api/v1/platform/tenants/{tenant_id}", operator_token).status_code == 404
