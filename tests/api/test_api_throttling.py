"""Sign-ins and registrations are throttled per account and per client (429 with Retry-After),
and password hashing runs in a bounded pool: a sign-in beyond it waits, then gets 429."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mall_api import OPERATOR_EMAIL, OPERATOR_PASSWORD, Api, TenantFixture, ok

from tokenmall.services.mall import passwords
from tokenmall.services.mall.throttle import Throttle


@pytest.fixture(autouse=True)
def fresh_throttle(server: Any) -> Iterator[None]:
    """Each test starts with no failures counted, and leaves none behind for the next."""
    server.app.state.throttle = Throttle()
    yield
    server.app.state.throttle = Throttle()


def _login(api: Api, tenant: TenantFixture, email: str, password: str) -> httpx.Response:
    return api.post(tenant.path("/login"), json={"email": email, "password": password})


def _retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, answer.text
    seconds = int(answer.headers["Retry-After"])
    assert seconds >= 1
    assert answer.json()["error"]["code"] == "too_many_requests"
    return seconds


def test_wrong_passwords_lock_the_account_and_the_right_one_is_refused_too(
    api: Api, tenant: TenantFixture
) -> None:
    statuses = [
        _login(api, tenant, "buyer@shop.test", f"wrong-guess-{n}").status_code for n in range(25)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses.count(429) >= 15
    locked = _login(api, tenant, "buyer@shop.test", "buyer-password")
    _retry_after(locked)
    # Another account of the tenant signs in as before.
    assert _login(api, tenant, "seller@shop.test", "seller-password").status_code == 200


def test_a_right_password_clears_the_count_before_the_lock(api: Api, tenant: TenantFixture) -> None:
    for _ in range(4):
        assert _login(api, tenant, "buyer@shop.test", "wrong-guess").status_code == 401
    assert _login(api, tenant, "buyer@shop.test", "buyer-password").status_code == 200
    for _ in range(4):
        assert _login(api, tenant, "buyer@shop.test", "wrong-guess").status_code == 401


def test_one_client_spraying_many_accounts_is_throttled(api: Api, tenant: TenantFixture) -> None:
    statuses = [
        _login(api, tenant, f"nobody{n}@shop.test", "wrong-guess").status_code for n in range(30)
    ]
    assert statuses[:20] == [401] * 20
    assert 429 in statuses
    _retry_after(_login(api, tenant, "buyer@shop.test", "buyer-password"))


def test_a_registration_flood_from_one_client_is_throttled(api: Api, tenant: TenantFixture) -> None:
    before = len(ok(api.get(tenant.path("/users?limit=200"), tenant.admin_token))["items"])
    answers = [
        api.post(
            tenant.path("/register"),
            json={"email": f"flood{n}@shop.test", "password": "a-long-enough-secret"},
        )
        for n in range(20)
    ]
    statuses = [a.status_code for a in answers]
    assert 201 in statuses
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) >= 9
    _retry_after(refused[0])
    after = len(ok(api.get(tenant.path("/users?limit=200"), tenant.admin_token))["items"])
    assert after - before == statuses.count(201) <= 10


def _page_login(api: Api, tenant_id: str, email: str, password: str) -> httpx.Response:
    page = api.http.get(f"/{tenant_id}/login")
    assert page.status_code == 200
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    return api.http.post(
        f"/{tenant_id}/login",
        data={**hidden, "email": email, "password": password},
        follow_redirects=False,
    )


def test_page_sign_ins_are_throttled_too(api: Api, tenant: TenantFixture) -> None:
    statuses = [
        _page_login(api, tenant.tenant_id, "buyer@shop.test", "wrong-guess").status_code
        for _ in range(8)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429
    locked = _page_login(api, tenant.tenant_id, "buyer@shop.test", "buyer-password")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1


def test_hashing_runs_in_a_bounded_pool(api: Api, tenant: TenantFixture) -> None:
    passwords.configure(fast_for_tests=True, concurrency=1, wait_seconds=0.3)
    try:
        # Every slot of the pool taken (a flood of sign-ins): the next one waits, then 429.
        with passwords.hashing_slot():
            busy = _login(api, tenant, "buyer@shop.test", "buyer-password")
        _retry_after(busy)
        # A slot freed while it waits: the sign-in goes through.
        release = threading.Event()

        def hold() -> None:
            with passwords.hashing_slot():
                release.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        threading.Timer(0.05, release.set).start()
        answer = _login(api, tenant, "buyer@shop.test", "buyer-password")
        holder.join()
        assert answer.status_code == 200, answer.text
        # A busy pool is not a failed sign-in: it counts nothing against the account.
        assert _login(api, tenant, "buyer@shop.test", "buyer-password").status_code == 200
    finally:
        passwords.configure(fast_for_tests=True)


def test_operator_sign_ins_are_throttled(api: Api) -> None:
    path = "/api/v1/platform/login"
    statuses = [
        api.post(path, json={"email": OPERATOR_EMAIL, "password": f"wrong-{n}"}).status_code
        for n in range(10)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429
    _retry_after(api.post(path, json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}))
