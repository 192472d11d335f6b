"""The edge's contract: control characters refused in every text, amounts of ASCII digits only,
snake_case error codes, the request id in every 500, and a limit on the body's size."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mall_api import Api, TenantFixture, ok

from served import app_settings
from tokenmall.web.app import create_app
from tokenmall.web.logs import JsonFormatter


def _refused(answer: object, field: str) -> None:
    assert getattr(answer, "status_code", None) == 422, getattr(answer, "text", answer)
    error = answer.json()["error"]  # type: ignore[attr-defined]
    assert error["field"] == field
    assert "control characters" in error["message"]


def _user_count(api: Api, tenant: TenantFixture) -> int:
    return len(ok(api.get(tenant.path("/users?limit=200"), tenant.admin_token))["items"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a\x00b@shop.test"),
        ("email", "ab@shop.test\x00"),
        ("display_name", "Ann\x00"),
        ("display_name", "Ann\x1b[31m"),
        ("invite_code", "AB\x00CD"),
    ],
)
def test_control_characters_in_registration_are_refused(
    api: Api, tenant: TenantFixture, field: str, value: str
) -> None:
    before = _user_count(api, tenant)
    payload = {"email": "new@shop.test", "password": "a-long-enough-secret", field: value}
    _refused(api.post(tenant.path("/register"), json=payload), field)
    assert _user_count(api, tenant) == before


def test_a_password_of_nuls_is_refused(api: Api, tenant: TenantFixture) -> None:
    before = _user_count(api, tenant)
    payload = {"email": "nul@shop.test", "password": "\x00" * 12}
    _refused(api.post(tenant.path("/register"), json=payload), "password")
    assert _user_count(api, tenant) == before


def test_control_characters_in_login_are_refused_not_500(api: Api, tenant: TenantFixture) -> None:
    answer = api.post(
        tenant.path("/login"), json={"email": "buyer@shop.test\x00", "password": "x" * 12}
    )
    _refused(answer, "email")


def test_ids_in_bodies_and_nested_fields_are_named(
    api: Api, tenant: TenantFixture, operator_token: str
) -> None:
    answer = api.post(
        tenant.path("/cart/lines"),
        tenant.consumer_token,
        json={"sku_id": "sku_\x00", "quantity": 1},
    )
    _refused(answer, "sku_id")
    admin = {"email": "a\x00@shop.test", "password": "a-long-enough-secret"}
    answer = api.post(
        "/api/v1/platform/tenants",
        operator_token,
        json={"tenant_id": "nulled", "name": "Nulled", "admin": admin},
    )
    _refused(answer, "admin.email")
    assert api.get("/api/v1/platform/tenants/nulled", operator_token).status_code == 404


def test_control_characters_in_ids_and_queries_are_refused(api: Api, tenant: TenantFixture) -> None:
    _refused(api.get(tenant.path("/users/usr_%00x"), tenant.admin_token), "path")
    _refused(api.get(tenant.path("/users?after=usr%00"), tenant.admin_token), "after")


def test_text_with_line_breaks_is_still_accepted(api: Api, tenant: TenantFixture) -> None:
    made = api.post(
        tenant.path("/products"),
        tenant.merchant_token,
        json={"title": "Wine", "description": "Line one\nLine two\tend"},
    )
    assert made.status_code == 201, made.text


@pytest.mark.parametrize("amount", [" 1.00", "1.00 ", "１.00", "1_0", "1.00\n", "+1.00", "1,00"])
def test_amounts_are_ascii_digits_only(api: Api, tenant: TenantFixture, amount: str) -> None:
    answer = api.post(
        tenant.path(f"/products/{tenant.product_id}/skus"),
        tenant.merchant_token,
        json={"name": "1l", "price": amount, "stock": 1},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "price"


def test_error_codes_are_snake_case(api: Api, tenant: TenantFixture) -> None:
    answer = api.post(tenant.path("/wallet/sell"), tenant.consumer_token, json={"points": "5"})
    assert 400 <= answer.status_code < 500, answer.text
    code = answer.json()["error"]["code"]
    assert code == code.lower(), code
    assert code.replace("_", "").isalpha(), code


def test_a_body_over_the_limit_is_refused_before_parsing(api: Api, tenant: TenantFixture) -> None:
    big = json.dumps({"email": "x@shop.test", "password": "p" * (1024 * 1024)})
    answer = api.post(
        tenant.path("/register"), content=big, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert answer.headers["X-Request-ID"]


def test_a_chunked_body_over_the_limit_is_refused(api: Api, tenant: TenantFixture) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "x@shop.test", "password": "'
        for _ in range(20):
            yield b"p" * 65536
        yield b'"}'

    answer = api.post(
        tenant.path("/register"), content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"


class _Lines(logging.Handler):
    """Formats each record as it is emitted (while the request id is still set)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_a_500_carries_the_request_id_in_body_header_and_log(tmp_path: Path) -> None:
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'boom.db'}"), configure_logging=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, app.router.routes.pop())
    lines = _Lines()
    logger = logging.getLogger("tokenmall.web")
    logger.addHandler(lines)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            answer = client.get("/boom", headers={"X-Request-ID": "trace-123"})
    finally:
        logger.removeHandler(lines)
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == "trace-123"
    assert answer.json()["error"]["code"] == "internal"
    assert "trace-123" in answer.json()["error"]["message"]
    errors = [line for line in lines.lines if line["message"] == "unhandled error"]
    assert errors
    assert errors[0]["request_id"] == "trace-123"
