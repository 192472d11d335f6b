"""Idempotency keys: the same key and request get the first answer; another request, a Conflict.

The first answer is stored in the same transaction as the change it reports, so either both
exist or neither. Keys belong to (tenant, caller): two callers can use the same key. If two
identical requests race, one stores its answer and the other's insert fails; the caller rolls
back and retries once, and then finds the stored answer (``KeyRace``).

``run_once`` is the whole loop: the transaction, the look-up, the action, the stored answer
and the one retry. Every idempotent write (API routes, form posts, integration pushes) goes
through it; the edge only turns its ``Outcome`` into a response.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.services.mall import auth
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, InvalidInput
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.services.unit_of_work import UnitOfWork

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
    uow: UnitOfWork,
    *,
    tenant_id: str,
    scope: str,
    key: str,
    request: str,
    action: Callable[[], tuple[int, str]],
    now: datetime,
) -> tuple[StoredResponse, bool]:
    """The response to send and whether it is a replay. ``action`` returns (status, body)."""
    stored = lookup(uow, tenant_id=tenant_id, scope=scope, key=key, request=request)
    if stored is not None:
        return stored, True
    status, body = action()
    response = StoredResponse(request, status, body)
    if not uow.answers.add(tenant_id, scope, key, response, now):
        raise KeyRace()
    return response, False


def lookup(
    uow: UnitOfWork, *, tenant_id: str, scope: str, key: str, request: str
) -> StoredResponse | None:
    """The stored answer to replay (None if the key is new); ``Conflict`` for another request."""
    stored = uow.answers.find(tenant_id, scope, key)
    if stored is not None:
        check_request(stored, request)
    return stored


def check_request(stored: StoredResponse, request: str) -> None:
    """``Conflict`` when the answer stored under a key is another request's."""
    if stored.request_hash != request:
        raise Conflict(
            "this Idempotency-Key was already used for a different request", "Idempotency-Key"
        )


@dataclass(frozen=True, slots=True)
class Done:
    """What an action answers: the status and body to send, what to store for replays
    (``None``: the body itself) and whether the action itself replayed an earlier answer."""

    status: int
    body: str
    stored: str | None = None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to answer: the status, the JSON body and whether it replays a stored answer."""

    status: int
    body: str
    replayed: bool


class Attempt:
    """One try of a once-only action: its unit of work, clock and caller. ``store`` writes
    the answer under the key; an action may call it among its own last writes (else
    ``run_once`` stores the answer after the action)."""

    def __init__(self, uow: MallUnitOfWork, now: datetime, caller: Principal | None) -> None:
        self.uow = uow
        self.conn = uow.conn
        self.now = now
        self.caller = caller

    def store(self, status: int, body: str) -> None:
        self.uow.answer(status, body)


def run_once(
    db: Database,
    *,
    tenant_id: str,
    key: str,
    request: str,
    action: Callable[[Attempt], Done],
    caller: Principal | None = None,
    token: str | None = None,
    scope_prefix: str = "",
    races: tuple[type[Exception], ...] = (KeyRace,),
    sign_in: Callable[[MallUnitOfWork, datetime], Principal | None] | None = None,
) -> Outcome:
    """Do ``action`` once per (tenant, caller's scope, key) in one transaction with its stored
    answer; the same key and request again answer the stored one (``replayed``), another
    request under the key is a ``Conflict``. ``token``: authenticate inside the transaction
    (the caller is then ``Attempt.caller``); ``sign_in``: the same with the edge's own
    authentication (a session's idle slide included). A race (``races``: another request
    committed the key, or what the action writes, first) rolls back and retries once.

    Errors are not stored: a refused request changed nothing, so a retry is simply re-run.
    """
    for attempt in (1, 2):
        try:
            with db.unit() as uow:
                now = utc_now()
                if sign_in is not None:
                    who = sign_in(uow, now)
                else:
                    who = caller if token is None else auth.authenticate(uow, token, now)
                scope = scope_prefix + ("anonymous" if who is None else who.scope)
                outcome = once_in(
                    uow,
                    tenant_id=tenant_id,
                    scope=scope,
                    key=key,
                    request=request,
                    now=now,
                    action=partial(action, Attempt(uow, now, who)),
                )
        except races:
            if attempt == 2:
                raise
            continue
        return outcome
    raise AssertionError("unreachable")


def once_in(
    uow: MallUnitOfWork,
    *,
    tenant_id: str,
    scope: str,
    key: str,
    request: str,
    now: datetime,
    action: Callable[[], Done],
) -> Outcome:
    """``action`` and its stored answer inside the caller's transaction (``run_once``'s one
    try; a batch's savepoint): the stored answer when the key was answered already;
    ``KeyRace`` when another transaction stored the key meanwhile."""
    stored = lookup(uow, tenant_id=tenant_id, scope=scope, key=key, request=request)
    if stored is not None:
        return Outcome(stored.status_code, stored.body, True)
    uow.answer_under(tenant_id, scope, key, request, now)
    done = action()
    uow.answer(done.status, done.body if done.stored is None else done.stored)
    if not uow.answered():
        raise KeyRace()
    return Outcome(done.status, done.body, done.replayed)
