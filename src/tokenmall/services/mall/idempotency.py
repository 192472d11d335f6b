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
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall import idempotency as repo
from tokenmall.adapters.db.mall.tables import idempotency as table
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.services.mall import auth
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, InvalidInput
from tokenmall.services.mall.uow import Database, utc_now

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


def lookup(
    conn: Connection, *, tenant_id: str, scope: str, key: str, request: str
) -> StoredResponse | None:
    """The stored answer to replay (None if the key is new); ``Conflict`` for another request."""
    stored = repo.find(conn, tenant_id, scope, key)
    if stored is not None and stored.request_hash != request:
        raise Conflict(
            "this Idempotency-Key was already used for a different request", "Idempotency-Key"
        )
    return stored


def insert_answer(
    conn: Connection,
    *,
    tenant_id: str,
    scope: str,
    key: str,
    response: StoredResponse,
    now: datetime,
    strict: bool = False,
) -> Inserted:
    """Store the first answer in one statement (no savepoint): ``INSERT … ON CONFLICT DO
    NOTHING``. It may run in a PostgreSQL pipeline (on the driver's cursor, whose row count is
    known once the pipeline has synced); then ``Inserted.check`` tells whether the row is
    ours. ``strict``: a plain INSERT, so a key taken meanwhile fails the statement (and the
    transaction or savepoint) with ``IntegrityError``."""
    values = (
        tenant_id,
        scope,
        key,
        response.request_hash,
        response.status_code,
        response.body,
        now,
    )
    if conn.dialect.name == "postgresql":
        cur = fast.cursor(conn)
        cur.execute(_PG_INSERT_STRICT if strict else _PG_INSERT, values)
        return Inserted(cur)
    statement = sqlite_insert(table).values(dict(zip(_COLUMNS, values, strict=True)))
    if not strict:
        statement = statement.on_conflict_do_nothing()
    result = conn.execute(statement)
    return Inserted(None, result.rowcount)


_COLUMNS = (
    "tenant_id",
    "scope",
    "idempotency_key",
    "request_hash",
    "status_code",
    "response_body",
    "created_at",
)
_PG_INSERT_STRICT = (
    f"INSERT INTO {table.name} ({', '.join(_COLUMNS)}) VALUES ({', '.join('%s' for _ in _COLUMNS)})"
)
_PG_INSERT = _PG_INSERT_STRICT + " ON CONFLICT DO NOTHING"


class Inserted:
    """The outcome of ``insert_answer``, read after its pipeline."""

    def __init__(self, cursor: Any, rowcount: int | None = None) -> None:
        self._cursor = cursor
        self._rowcount = rowcount

    def check(self) -> None:
        """``KeyRace`` if another request with the same key committed first (retry to replay
        its answer)."""
        count = self._rowcount
        if self._cursor is not None:
            count = self._cursor.rowcount
            self._cursor.close()
        if count != 1:
            raise KeyRace()


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
    """One try of a once-only action: its connection, clock and caller. ``store`` writes
    the answer under the key; an action may call it among its own last writes (else
    ``run_once`` stores the answer after the action)."""

    def __init__(
        self,
        conn: Connection,
        now: datetime,
        caller: Principal | None,
        *,
        tenant_id: str,
        scope: str,
        key: str,
        request: str,
    ) -> None:
        self.conn = conn
        self.now = now
        self.caller = caller
        self._where = (tenant_id, scope, key, request)
        self._written: Inserted | None = None

    def store(self, status: int, body: str) -> None:
        if self._written is not None:
            return
        tenant_id, scope, key, request = self._where
        self._written = insert_answer(
            self.conn,
            tenant_id=tenant_id,
            scope=scope,
            key=key,
            response=StoredResponse(request, status, body),
            now=self.now,
        )

    def check(self) -> None:
        """``KeyRace`` if the stored answer is not ours."""
        assert self._written is not None
        self._written.check()


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
) -> Outcome:
    """Do ``action`` once per (tenant, caller's scope, key) in one transaction with its stored
    answer; the same key and request again answer the stored one (``replayed``), another
    request under the key is a ``Conflict``. ``token``: authenticate inside the transaction
    (the caller is then ``Attempt.caller``). A race (``races``: another request committed the
    key, or what the action writes, first) rolls back and retries once.

    Errors are not stored: a refused request changed nothing, so a retry is simply re-run.
    """
    for attempt in (1, 2):
        try:
            with db.transaction() as conn:
                now = utc_now()
                who = caller if token is None else auth.authenticate(conn, token, now)
                scope = scope_prefix + ("anonymous" if who is None else who.scope)
                stored = lookup(conn, tenant_id=tenant_id, scope=scope, key=key, request=request)
                if stored is not None:
                    return Outcome(stored.status_code, stored.body, True)
                step = Attempt(
                    conn, now, who, tenant_id=tenant_id, scope=scope, key=key, request=request
                )
                done = action(step)
                step.store(done.status, done.body if done.stored is None else done.stored)
                step.check()
        except races:
            if attempt == 2:
                raise
            continue
        return Outcome(done.status, done.body, done.replayed)
    raise AssertionError("unreachable")
