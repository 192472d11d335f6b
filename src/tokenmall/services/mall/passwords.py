"""Passwords: the policy a new password meets, and hashing with argon2id (argon2-cffi's
defaults, RFC 9106's second recommendation) in a bounded pool.

Hashing is deliberately expensive (tens of milliseconds of CPU and 64 MiB each). At most
``concurrency`` hashes run at once (default: one less than the CPUs, at least one), so a flood
of sign-ins cannot take every core from the other requests; a hash that cannot start within
``wait_seconds`` is refused with 429 (``Retry-After``) rather than queued without end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tokenmall.services.mall.common_passwords import COMMON_PASSWORDS
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.throttle import Throttled
from tokenmall.services.mall.validate import has_control

MIN_LENGTH = 10
MAX_LENGTH = 256
DEFAULT_WAIT_SECONDS = 5.0

_hasher = PasswordHasher()
_FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# Verified against when the account does not exist, so a wrong email costs as long as a wrong
# password and timing does not tell which accounts exist (made with the hasher in use).
_dummy_hashes: dict[int, str] = {}


def default_concurrency() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class _Pool:
    def __init__(self, concurrency: int, wait_seconds: float) -> None:  # float-ok: seconds
        self.slots = threading.BoundedSemaphore(concurrency)
        self.wait_seconds = wait_seconds


_pool = _Pool(default_concurrency(), DEFAULT_WAIT_SECONDS)


def _dummy_hash() -> str:
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash("tokenmall-no-such-account")
    return _dummy_hashes[key]


def configure(
    *,
    fast_for_tests: bool,
    concurrency: int | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,  # float-ok: seconds
) -> None:
    """The hasher (cheap hashes for test suites only: ``insecure_fast_password_hashing``) and
    the bounded pool (``password_hash_concurrency``, ``password_hash_wait_seconds``)."""
    global _hasher, _pool
    _hasher = _FAST if fast_for_tests else PasswordHasher()
    _pool = _Pool(concurrency or default_concurrency(), wait_seconds)


@contextmanager
def hashing_slot() -> Iterator[None]:
    """One of the pool's slots for the length of the block, or 429 when none frees in time."""
    pool = _pool
    if not pool.slots.acquire(timeout=pool.wait_seconds):
        raise Throttled("the server is busy checking passwords; try again in a moment", 1)
    try:
        yield
    finally:
        pool.slots.release()


def check_strength(password: str, field: str = "password", *, email: str | None = None) -> None:
    """The policy of a new password: 10-256 characters, no control characters, not one
    character repeated, not a common password, not the account's email."""
    if has_control(password) or any(ch in password for ch in "\r\n\t"):
        raise InvalidInput("password must not contain control characters", field)
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_LENGTH} characters", field)
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password must be at most {MAX_LENGTH} characters", field)
    folded = password.casefold()
    if len(set(folded)) == 1 or folded in COMMON_PASSWORDS:
        raise InvalidInput("password is too common; choose another", field)
    if email is not None and folded in {email.casefold(), email.split("@")[0].casefold()}:
        raise InvalidInput("password must not be the email address", field)


def hash_password(password: str) -> str:
    with hashing_slot():
        return _hasher.hash(password)


def verify_password(password: str, stored_hash: str | None) -> bool:
    with hashing_slot():
        try:
            # Any hash verifies with any parameters: the parameters are stored in the hash.
            matched = _hasher.verify(stored_hash or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return False
    return matched and stored_hash is not None
