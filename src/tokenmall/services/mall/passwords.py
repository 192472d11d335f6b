"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tokenmall.services.mall.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher()
_FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# Verified against when the account does not exist, so a wrong email costs as long as a wrong
# password and timing does not tell which accounts exist (made with the hasher in use).
_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash("tokenmall-no-such-account")
    return _dummy_hashes[key]


def configure(*, fast_for_tests: bool) -> None:
    """Cheap hashes for test suites only (settings: ``insecure_fast_password_hashing``)."""
    global _hasher
    _hasher = _FAST if fast_for_tests else PasswordHasher()


def check_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_LENGTH} characters", field)
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password must be at most {MAX_LENGTH} characters", field)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored_hash: str | None) -> bool:
    try:
        # Any hash verifies with any parameters: the parameters are stored in the hash.
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
