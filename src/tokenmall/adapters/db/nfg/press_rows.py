"""A batch of a drop's presses as sets (PostgreSQL): a few statements a batch, not ten a press.

Every statement is fixed SQL on the driver's cursor with one array per column (``unnest``), in
the batch's transaction:

* ``find_answers``: the stored answers of the presses' Idempotency-Keys, each (scope, key);
* ``lock_buyers``: the buyers' rows of the drop that no other transaction holds (``SKIP
  LOCKED``), counted up, and the rows of new buyers made (one buyer's reservations run one at
  a time; a new buyer another batch is making at the same time is left out, not waited for:
  each batch takes a transaction advisory lock on the new buyer's name, ``pg_try_``), then
  ``places_of_buyers``: each buyer's places bought or reserved and not expired;
* ``lock_counter_rows``: counter rows with room that no other transaction holds (``SKIP
  LOCKED``: never waited for), the roomiest first, until ``places`` are covered;
* ``add_answers``: the answers stored ``ON CONFLICT DO NOTHING``; the keys it returns are the
  batch's (a key not returned was stored by a racing request meanwhile);
* ``take_from_rows``: the places taken from the rows locked; ``add_reservations``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection

from tokenmall.adapters.db.fast import cursor
from tokenmall.domain.mall.responses import StoredResponse
from tokenmall.domain.nfg.records import Reservation, ReservationStatus

_FIND_ANSWERS = (
    "SELECT i.scope, i.idempotency_key, i.request_hash, i.status_code, i.response_body "
    "FROM unnest(%s::varchar[], %s::varchar[]) AS k(scope, key) "
    "JOIN mall_idempotency AS i ON i.tenant_id = %s AND i.scope = k.scope "
    "AND i.idempotency_key = k.key"
)
_ADD_ANSWERS = (
    "INSERT INTO mall_idempotency (tenant_id, scope, idempotency_key, request_hash, "
    "status_code, response_body, created_at) "
    "SELECT %s, a.scope, a.key, a.hash, a.status, a.body, %s "
    "FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::int[], %s::text[]) "
    "AS a(scope, key, hash, status, body) "
    "ON CONFLICT DO NOTHING RETURNING scope, idempotency_key"
)
_LOCK_BUYERS = (
    "UPDATE nfg_drop_buyers AS d SET reservations = d.reservations + b.n "
    "FROM unnest(%s::varchar[], %s::bigint[]) AS b(user_id, n) "
    "WHERE d.tenant_id = %s AND d.collection_id = %s AND d.user_id = b.user_id "
    "AND d.user_id IN (SELECT f.user_id FROM nfg_drop_buyers AS f WHERE f.tenant_id = %s "
    "AND f.collection_id = %s AND f.user_id = ANY(%s::varchar[]) "
    "ORDER BY f.user_id FOR UPDATE SKIP LOCKED) RETURNING d.user_id"
)
_ADD_BUYERS = (
    "INSERT INTO nfg_drop_buyers (tenant_id, collection_id, user_id, reservations) "
    "SELECT %s, %s, b.user_id, b.n FROM unnest(%s::varchar[], %s::bigint[]) AS b(user_id, n) "
    "WHERE NOT EXISTS (SELECT 1 FROM nfg_drop_buyers AS f WHERE f.tenant_id = %s "
    "AND f.collection_id = %s AND f.user_id = b.user_id) "
    "AND pg_try_advisory_xact_lock(hashtextextended('nfg-buyer:' || %s || ':' || %s || ':' "
    "|| b.user_id, 0)) ORDER BY b.user_id "
    "ON CONFLICT DO NOTHING RETURNING user_id"
)
_PLACES_OF_BUYERS = (
    "SELECT user_id, sum(quantity) FROM nfg_reservations "
    "WHERE tenant_id = %s AND collection_id = %s AND user_id = ANY(%s::varchar[]) "
    "AND (status = %s OR (status = %s AND expires_at > %s)) GROUP BY user_id"
)
_LOCK_ROWS = (
    "SELECT shard, free FROM nfg_drop_counters "
    "WHERE tenant_id = %s AND collection_id = %s AND free > 0 AND shard <> ALL(%s::int[]) "
    "ORDER BY free DESC, shard LIMIT %s FOR UPDATE SKIP LOCKED"
)
_TAKE = (
    "UPDATE nfg_drop_counters AS d SET free = d.free - t.n "
    "FROM unnest(%s::int[], %s::bigint[]) AS t(shard, n) "
    "WHERE d.tenant_id = %s AND d.collection_id = %s AND d.shard = t.shard"
)
_ADD_RESERVATIONS = (
    "INSERT INTO nfg_reservations (tenant_id, reservation_id, collection_id, user_id, quantity, "
    "amount, asset, status, payment_id, serials, created_at, expires_at) "
    "SELECT r.tenant_id, r.reservation_id, r.collection_id, r.user_id, r.quantity, r.amount, "
    "r.asset, r.status, r.payment_id, r.serials, r.created_at, r.expires_at "
    "FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::int[], "
    "%s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::text[], "
    "%s::timestamptz[], %s::timestamptz[]) AS r(tenant_id, reservation_id, collection_id, "
    "user_id, quantity, amount, asset, status, payment_id, serials, created_at, expires_at)"
)
_ROWS_A_ROUND = 4  # counter rows a look locks at most (the roomiest; a batch needs few)
_ROUNDS = 4


def _run(conn: Connection, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
    cur = cursor(conn)
    try:
        cur.execute(sql, params)
        return list(cur.fetchall()) if cur.description is not None else []
    finally:
        cur.close()


def find_answers(
    conn: Connection, tenant_id: str, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StoredResponse]:
    """(scope, key) → the answer stored under it, for the pairs that have one."""
    if not pairs:
        return {}
    rows = _run(conn, _FIND_ANSWERS, ([s for s, _ in pairs], [k for _, k in pairs], tenant_id))
    return {
        (str(scope), str(key)): StoredResponse(str(request), int(str(status)), str(body))
        for scope, key, request, status, body in rows
    }


def add_answers(
    conn: Connection,
    tenant_id: str,
    answers: Sequence[tuple[str, str, str, int, str]],
    now: datetime,
) -> set[tuple[str, str]]:
    """Store (scope, key, request hash, status, body) each; the (scope, key) stored by this
    statement (a pair left out was stored by another transaction first)."""
    if not answers:
        return set()
    columns = list(zip(*answers, strict=True))
    rows = _run(conn, _ADD_ANSWERS, (tenant_id, now, *[list(c) for c in columns]))
    return {(str(scope), str(key)) for scope, key in rows}


def lock_buyers(
    conn: Connection, tenant_id: str, collection_id: str, presses: Mapping[str, int]
) -> set[str]:
    """Lock each buyer's row of the drop that no other transaction holds (made on first use),
    counting ``presses[user]`` more reservation attempts; the buyers locked (a buyer left out
    has a row another transaction holds: never waited for)."""
    if not presses:
        return set()
    users = sorted(presses)
    counts = [presses[u] for u in users]
    where = (tenant_id, collection_id, users)
    locked = _run(conn, _LOCK_BUYERS, (users, counts, tenant_id, collection_id, *where))
    made = _run(conn, _ADD_BUYERS, (*where[:2], users, counts, *where[:2], *where[:2]))
    return {str(u) for (u,) in locked} | {str(u) for (u,) in made}


def places_of_buyers(
    conn: Connection, tenant_id: str, collection_id: str, users: Iterable[str], now: datetime
) -> dict[str, int]:
    """Each buyer's places bought (assigned) or reserved and not expired (0 if none)."""
    wanted = sorted(set(users))
    found = dict.fromkeys(wanted, 0)
    if not wanted:
        return found
    rows = _run(
        conn,
        _PLACES_OF_BUYERS,
        (
            tenant_id,
            collection_id,
            wanted,
            str(ReservationStatus.ASSIGNED),
            str(ReservationStatus.RESERVED),
            now,
        ),
    )
    for user_id, places in rows:
        found[str(user_id)] = int(str(places))
    return found


def lock_counter_rows(
    conn: Connection, tenant_id: str, collection_id: str, places: int
) -> list[tuple[int, int]]:
    """(shard, free) of counter rows with room that no other transaction holds, now locked
    by this one, the roomiest first, until they hold ``places`` (or no free row is left)."""
    held: list[tuple[int, int]] = []
    room = 0
    for _ in range(_ROUNDS):
        rows = _run(
            conn,
            _LOCK_ROWS,
            (tenant_id, collection_id, [s for s, _ in held], _ROWS_A_ROUND),
        )
        for shard, free in rows:
            held.append((int(str(shard)), int(str(free))))
            room += int(str(free))
        if room >= places or len(rows) < _ROWS_A_ROUND:
            break
    return held


def take_from_rows(
    conn: Connection, tenant_id: str, collection_id: str, taken: Mapping[int, int]
) -> None:
    """Take ``taken[shard]`` places from each of the rows this transaction locked."""
    shards = [s for s, n in taken.items() if n]
    if not shards:
        return
    _run(conn, _TAKE, (shards, [taken[s] for s in shards], tenant_id, collection_id))


def add_reservations(conn: Connection, reservations: Sequence[Reservation]) -> None:
    """Insert the reservations (as ``SqlNfg.add_reservation`` does one) in one statement."""
    if not reservations:
        return
    rs = reservations
    _run(
        conn,
        _ADD_RESERVATIONS,
        (
            [r.tenant_id for r in rs],
            [r.reservation_id for r in rs],
            [r.collection_id for r in rs],
            [r.user_id for r in rs],
            [r.quantity for r in rs],
            [r.amount for r in rs],
            [str(r.asset) for r in rs],
            [str(r.status) for r in rs],
            [r.payment_id for r in rs],
            [json.dumps(list(r.serials)) if r.serials else None for r in rs],
            [r.created_at for r in rs],
            [r.expires_at for r in rs],
        ),
    )
