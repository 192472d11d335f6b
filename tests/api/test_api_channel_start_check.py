"""At start, the server makes every tenant's payment channels switched on and logs each one
whose key set no longer opens or loads, naming the tenant and the channel: here WeChat Pay's
key set sealed under the deployment's secret, and the server started again under another
secret (a rotation gone wrong). Under the right secret nothing is reported and the gateway is
kept for the first checkouts. Checkout through the broken channel is refused with 409, never
a 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mall_api import Api, TenantFixture
from pydantic import SecretStr
from test_api_wechat_pay import fake, keys, server, switched_on

from tokenmall.services.mall.payment_channels import ChannelProblem
from tokenmall.web.app import create_app
from wechat_fake import KeySet

__all__ = ["fake", "keys", "server"]


def _started(server: Any, **changes: Any) -> tuple[list[ChannelProblem], Any]:
    """Another server on the same database, started and its check finished: what it found for
    every tenant, and its application."""
    settings = server.app.state.settings.model_copy(
        update={"check_channels_on_start": True, **changes}
    )
    app = create_app(settings, configure_logging=False)
    with TestClient(app):
        assert app.state.channel_check.wait(60)
    return app.state.channel_problems, app


def test_a_key_set_that_no_longer_opens_is_logged_at_start(
    api: Api,
    tenant: TenantFixture,
    server: Any,
    keys: KeySet,
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = tenant
    switched_on(api, t, keys)
    found, app = _started(server)
    assert [p for p in found if p.tenant_id == t.tenant_id] == []
    assert any(key[0] == t.tenant_id for key in app.state.payment_channels.built)
    caplog.set_level(logging.ERROR, logger="tokenmall.payments")
    found, _ = _started(server, secret_key=SecretStr("another-deployment-secret-" + "x" * 20))
    mine = [p for p in found if p.tenant_id == t.tenant_id]
    assert [p.channel for p in mine] == ["wechat"]
    assert "TOKENMALL_SECRET_KEY" in mine[0].problem
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(t.tenant_id in line and "wechat" in line for line in said), said


def test_checkout_through_a_broken_channel_is_409_not_500(
    api: Api, tenant: TenantFixture, server: Any, keys: KeySet
) -> None:
    t = tenant
    switched_on(api, t, keys)
    settings = server.app.state.settings.model_copy(
        update={"secret_key": SecretStr("another-deployment-secret-" + "y" * 20)}
    )
    app = create_app(settings, configure_logging=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        answer = client.post(
            t.path("/checkout"),
            json={"lines": [{"sku_id": t.sku_id, "quantity": 1}]},
            headers={"Authorization": f"Bearer {t.consumer_token}", "Idempotency-Key": "ck-1"},
        )
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["field"] == "payment_method"
