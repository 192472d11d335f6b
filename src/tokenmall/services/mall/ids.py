"""Identifiers and secrets.

Ids are ``<prefix>_<26 characters>``: 48 bits of milliseconds then 80 random bits in Crockford
base32, so they sort by creation time (friendly to B-tree keys) and cannot be guessed. Secrets
(session and API-key tokens) are 32 random bytes; only their SHA-256 is stored, which is enough
for a high-entropy secret (passwords, which are not, use argon2).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(reversed(chars))}"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_invite_code() -> str:
    """8 characters of the 32-letter alphabet: 40 random bits from ONE call (uniform, as 32
    is 2**5; ``secrets.choice`` per character cost a system call each, in the writer's path)."""
    value = secrets.randbits(40)
    return "".join(_ALPHABET[(value >> (5 * i)) & 31] for i in range(8)).upper()
