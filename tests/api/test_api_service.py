"""The service itself: health, readiness, OpenAPI, request ids, the error body, JSON logs."""

from __future__ import annotations

import json
import logging

from mall_api import Api, ok

from tokenmall.web.logs import JsonFormatter, request_id_var


def test_healthz_and_readyz_answer_ok_when_the_schema_is_at_head(api: Api) -> None:
    assert ok(api.get("/healthz")) == {"status": "ok", "checks": {}}
    ready = ok(api.get("/readyz"))
    assert ready == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


_CHANNEL_CALLBACKS = ("/api/v1/payments/webhooks/wechat/", "/api/v1/payments/webhooks/alipay/")


def test_openapi_declares_every_status_and_the_error_body(api: Api) -> None:
    schema = ok(api.get("/openapi.json"))
    assert api.get("/docs").status_code == 200
    operations = [
        (path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()
    ]
    assert len(operations) >= 30
    for path, method, op in operations:
        codes = set(op["responses"])
        if path.startswith("/api/"):
            assert "401" in codes or path.endswith("/login"), (path, method, codes)
            assert "422" in codes or path.endswith("/logout"), (path, method, codes)
            for code in codes - {"200", "201", "204"}:
                body = op["responses"][code]["content"]["application/json"]["schema"]
                if path.startswith(_CHANNEL_CALLBACKS) and "$ref" not in body:
                    # answered in the channel's own format (WeChat Pay: a code and a message)
                    assert {"code", "message"} <= set(body.get("properties", {})), (path, code)
                    continue
                ref = body["$ref"]
                assert ref.endswith("/ErrorBody"), (path, method, code, ref)
        webhook = path.startswith("/api/v1/payments/webhooks/")  # deduplicated by event ids
        if method in ("post", "patch") and not webhook and not path.endswith(("/login", "/logout")):
            headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
            assert "Idempotency-Key" in headers, (path, method)
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_a_request_id_is_echoed_or_made_up(api: Api) -> None:
    given = api.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = api.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32


def test_unknown_route_and_method_answer_the_error_body(api: Api) -> None:
    missing = api.get("/api/v1/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "not_found", "message": "no such endpoint", "field": None}
    }
    wrong = api.call("DELETE", "/healthz", key=None)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_logs_are_json_lines_with_the_request_id() -> None:
    record = logging.LogRecord("tokenmall.access", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"status": 201, "path": "/x"}
    token = request_id_var.set("rid-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "rid-1"
    assert line["message"] == "request"
    assert line["status"] == 201
    assert line["level"] == "info"
