"""Idempotency keys: the same key and request get the first answer; a different request, 409.

The first answer is stored in the same transaction as the change it reports, so either both
exist or neither. Keys belong to (tenant, caller): two callers can use the same key. If two
identical requests race, one stores its answer and the other's insert fails; the caller rolls
back and retries once, and then finds the stored answer (``KeyRace``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db.mall import idempotency as repo
from tokenmall.services.mall.errors import Conflict, InvalidInput
from tokenmall.services.mall.records import StoredResponse

MAX_KEY_LENGTH = 200


class KeyRace(Exception):
    """Another request with the same key committed first; retry to replay its answer."""


def request_hash(method: str, path: str, body: object) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise InvalidInput("the Idempotency-Key header is required", "Idempotency-Key")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters", "Idempotency-Key"
        )
    return key


def run(
    conn: Connection,
    *,
    tenant_id: str,
    scope: str,
    key: str,
    request: str,
    action: Callable[[], tuple[int, str]],
    now: datetime,
) -> tuple[StoredResponse, bool]:
    """The response to send and whether it is a replay. ``action`` returns (status, body)."""
    stored = repo.find(conn, tenant_id, scope, key)
    if stored is not None:
        if stored.request_hash != request:
            raise Conflict(
                "this Idempotency-Key was already used for a different request",
                "Idempotency-Key",
            )
        return stored, True
    status, body = action()
    response = StoredResponse(request, status, body)
    try:
        with conn.begin_nested():
            repo.add(conn, tenant_id, scope, key, response, now)
    except IntegrityError:
        raise KeyRace() from None
    return response, False
