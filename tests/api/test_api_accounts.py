"""Accounts: the password policy, changing and resetting passwords, signing out everywhere,
idle sessions, registration that tells nothing, and a logout only a same-site caller can send."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, login, ok

from served import app_settings, served
from tokenmall.services.mall import accounts
from tokenmall.services.mall.errors import Unauthenticated
from tokenmall.services.mall.throttle import Throttle
from tokenmall.services.mall.uow import utc_now


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short-pw", "at least 10"),
        ("1234567890", "too common"),
        ("Password123", "too common"),
        ("qwertyuiop", "too common"),
        ("zzzzzzzzzzzz", "too common"),
        ("policy@shop.test", "email"),
        ("tab\tinside-secret", "control"),
    ],
)
def test_the_password_policy(api: Api, tenant: TenantFixture, password: str, says: str) -> None:
    answer = api.post(
        tenant.path("/register"), json={"email": "policy@shop.test", "password": password}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "password"
    assert says in answer.json()["error"]["message"]


def test_changing_the_password_needs_the_old_one_and_revokes_other_sessions(
    api: Api, tenant: TenantFixture
) -> None:
    here = login(api, tenant.tenant_id, "buyer@shop.test", "buyer-password")
    elsewhere = login(api, tenant.tenant_id, "buyer@shop.test", "buyer-password")
    path = tenant.path("/me/password")
    wrong = api.post(path, here, json={"old_password": "not-it-at-all", "new_password": "x" * 3})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "old_password"
    weak = api.post(path, here, json={"old_password": "buyer-password", "new_password": "short"})
    assert weak.json()["error"]["field"] == "new_password"
    changed = ok(
        api.post(
            path, here, json={"old_password": "buyer-password", "new_password": "a-new-secret-1"}
        )
    )
    assert changed["sessions_revoked"] >= 2  # the fixture's session and `elsewhere`
    assert api.get(tenant.path("/me"), elsewhere).status_code == 401
    assert api.get(tenant.path("/me"), tenant.consumer_token).status_code == 401
    assert ok(api.get(tenant.path("/me"), here))["user_id"] == tenant.consumer_id
    assert login(api, tenant.tenant_id, "buyer@shop.test", "a-new-secret-1")
    old = api.post(
        tenant.path("/login"), json={"email": "buyer@shop.test", "password": "buyer-password"}
    )
    assert old.status_code == 401


def test_an_api_key_cannot_change_its_owners_password(api: Api, tenant: TenantFixture) -> None:
    key = ok(api.post(tenant.path("/api-keys"), tenant.merchant_token, json={"name": "k"}), 201)
    answer = api.post(
        tenant.path("/me/password"),
        key["token"],
        json={"old_password": "seller-password", "new_password": "a-new-secret-1"},
    )
    assert answer.status_code == 403
    assert login(api, tenant.tenant_id, "seller@shop.test", "seller-password")


def test_log_out_everywhere(api: Api, tenant: TenantFixture) -> None:
    one = login(api, tenant.tenant_id, "buyer@shop.test", "buyer-password")
    two = login(api, tenant.tenant_id, "buyer@shop.test", "buyer-password")
    answer = ok(api.post(tenant.path("/me/logout-everywhere"), one))
    assert answer["sessions_revoked"] >= 3
    for token in (one, two, tenant.consumer_token):
        assert api.get(tenant.path("/me"), token).status_code == 401
    # Other people's sessions are untouched.
    assert api.get(tenant.path("/me"), tenant.merchant_token).status_code == 200


def test_an_admin_resets_a_members_password(api: Api, tenant: TenantFixture) -> None:
    path = tenant.path(f"/users/{tenant.consumer_id}/password")
    body = {"new_password": "set-by-the-admin"}
    assert api.post(path, tenant.consumer_token, json=body).status_code == 403
    assert api.post(path, tenant.merchant_token, json=body).status_code == 403
    assert ok(api.post(path, tenant.admin_token, json=body))["sessions_revoked"] >= 1
    assert api.get(tenant.path("/me"), tenant.consumer_token).status_code == 401
    assert login(api, tenant.tenant_id, "buyer@shop.test", "set-by-the-admin")


def test_an_admin_cannot_set_another_admins_password(api: Api, tenant: TenantFixture) -> None:
    other = ok(
        api.post(
            tenant.path("/users"),
            tenant.admin_token,
            json={"email": "second@shop.test", "password": "second-admin-pw", "role": "admin"},
        ),
        201,
    )
    answer = api.post(
        tenant.path(f"/users/{other['user_id']}/password"),
        tenant.admin_token,
        json={"new_password": "taken-over-now"},
    )
    assert answer.status_code == 403
    assert login(api, tenant.tenant_id, "second@shop.test", "second-admin-pw")


def test_reset_by_email_is_refused_without_a_sender(api: Api, tenant: TenantFixture) -> None:
    answer = api.post(tenant.path("/password-reset"), json={"email": "buyer@shop.test"})
    assert answer.status_code == 409


class _Mail(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.sent.append(dict(getattr(record, "fields", {})))


@pytest.fixture
def mail_server(db_url: str) -> Iterator[tuple[Api, _Mail]]:
    settings = app_settings(
        db_url,
        operator_email=OPERATOR_EMAIL,
        operator_password=OPERATOR_PASSWORD,
        mail_sender="log",
        public_base_url="https://shop.example",
    )
    mail = _Mail()
    logger = logging.getLogger("tokenmall.accounts")
    logger.addHandler(mail)
    logger.setLevel(logging.INFO)
    try:
        with served(settings) as (base, _):
            client = Api(base)
            yield client, mail
            client.http.close()
    finally:
        logger.removeHandler(mail)


def test_a_reset_link_by_mail_is_single_use_and_tells_nothing(
    mail_server: tuple[Api, _Mail], tenant: TenantFixture
) -> None:
    api, mail = mail_server
    unknown = api.post(tenant.path("/password-reset"), json={"email": "ghost@shop.test"})
    known = api.post(tenant.path("/password-reset"), json={"email": "buyer@shop.test"})
    assert unknown.status_code == known.status_code == 200
    assert unknown.json() == known.json()
    assert [m["to"] for m in mail.sent] == ["buyer@shop.test"]
    link = re.search(r"https://shop\.example/\S+token=(\S+)", mail.sent[0]["text"])
    assert link is not None
    token = link.group(1)
    confirm = tenant.path("/password-reset/confirm")
    body = {"token": token, "new_password": "reset-by-mail-1"}
    assert ok(api.post(confirm, json=body))["sessions_revoked"] >= 1
    assert api.get(tenant.path("/me"), tenant.consumer_token).status_code == 401
    assert login(api, tenant.tenant_id, "buyer@shop.test", "reset-by-mail-1")
    again = api.post(confirm, json={"token": token, "new_password": "reset-again-22"})
    assert again.status_code == 422
    assert again.json()["error"]["field"] == "token"
    forged = api.post(confirm, json={"token": token[:-4] + "0000", "new_password": "forged-pw-22"})
    assert forged.status_code == 422


def test_an_idle_session_stops_working(server: Any, tenant: TenantFixture) -> None:
    db = server.app.state.database
    t0 = utc_now()
    ttl, idle = timedelta(days=14), timedelta(hours=2)
    _, issued = accounts.login(
        db,
        Throttle(),
        tenant.tenant_id,
        "buyer@shop.test",
        "buyer-password",
        client="test",
        now=t0,
        ttl=ttl,
        idle=idle,
    )
    assert issued.expires_at == t0 + idle
    # Used within its idle time, it lives on (its deadline slides forward)...
    for hours in (1.9, 3.8, 5.7):
        accounts.authenticate(db, issued.token, t0 + timedelta(hours=hours), ttl=ttl, idle=idle)
    # ...left alone longer, it stops working.
    with pytest.raises(Unauthenticated):
        accounts.authenticate(db, issued.token, t0 + timedelta(hours=8), ttl=ttl, idle=idle)


def test_the_api_logout_needs_the_header_a_cross_site_form_cannot_send(
    api: Api, server_base: str, tenant: TenantFixture
) -> None:
    with httpx.Client(base_url=server_base) as browser:
        signed_in = browser.post(
            tenant.path("/login"), json={"email": "buyer@shop.test", "password": "buyer-password"}
        )
        assert signed_in.status_code == 200
        # What a cross-site form can send: the cookie, no custom header.
        forged = browser.post(tenant.path("/logout"), data={"x": "1"})
        assert forged.status_code == 400
        assert browser.get(tenant.path("/me")).status_code == 200
        done = browser.post(tenant.path("/logout"), headers={"Idempotency-Key": "a-logout-key"})
        assert done.status_code == 204
    assert api.post(tenant.path("/logout"), tenant.consumer_token, key=None).status_code == 400
    assert api.get(tenant.path("/me"), tenant.consumer_token).status_code == 200
