"""The throttle's arithmetic on a fake clock: free failures, doubling locks, forgetting, and the
registration bucket's refill."""

from __future__ import annotations

import pytest

from tokenmall.services.mall.throttle import Policy, Throttle, Throttled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_locks_double_after_the_free_failures_and_are_capped() -> None:
    clock = Clock()
    guard = Throttle(Policy(account_free=2, base=10, cap=35), clock)
    waits = []
    for _ in range(5):
        guard.before_login("t", "a@b.cn", "c")
        guard.login_failed("t", "a@b.cn", "c")
        waits.append(guard.accounts.wait(guard._account("t", "a@b.cn")))
        clock.now += waits[-1]
    assert waits == [0, 0, 10, 20, 35]


def test_a_locked_account_refuses_even_before_the_password_is_checked() -> None:
    clock = Clock()
    guard = Throttle(Policy(account_free=0, base=30), clock)
    guard.login_failed("t", "A@B.cn ", "c")
    with pytest.raises(Throttled) as refused:
        guard.before_login("t", "a@b.cn", "another-client")
    assert refused.value.retry_after == 30
    clock.now += 30
    guard.before_login("t", "a@b.cn", "another-client")


def test_failures_are_forgotten_and_success_clears_them() -> None:
    clock = Clock()
    guard = Throttle(Policy(account_free=1, client_free=100, forget_after=60), clock)
    guard.login_failed("t", "a@b.cn", "c")
    clock.now += 61
    guard.login_failed("t", "a@b.cn", "c")  # the first one was forgotten: still free
    guard.before_login("t", "a@b.cn", "c")
    guard.login_succeeded("t", "a@b.cn")
    guard.login_failed("t", "a@b.cn", "c")
    guard.before_login("t", "a@b.cn", "c")


def test_the_registration_bucket_refills() -> None:
    clock = Clock()
    guard = Throttle(Policy(register_burst=2, register_every=60), clock)
    guard.before_register("t", "c")
    guard.before_register("t", "c")
    with pytest.raises(Throttled) as refused:
        guard.before_register("t", "c")
    assert refused.value.retry_after == 60
    guard.before_register("other-tenant", "c")  # per tenant and client
    clock.now += 60
    guard.before_register("t", "c")


def test_the_store_is_bounded() -> None:
    guard = Throttle(Policy(max_keys=3), Clock())
    for n in range(10):
        guard.login_failed("t", f"u{n}@b.cn", f"c{n}")
    assert len(guard.accounts._entries) == 3
