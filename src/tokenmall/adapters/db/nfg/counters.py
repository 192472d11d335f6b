"""A drop's places for sale, split over counter rows (``nfg_drop_counters``) so that thousands of
buyers pressing at once do not queue for one row.

A collection's places start on its own row (``edition_size - minted - reserved``). Its first
reservation *opens* the counters (``open_counters``, under the collection's row lock, once): the
free places are split over up to ``SHARDS`` rows and the collection's ``reserved`` folded into
them (set to 0). From then on:

* the places held by open reservations are ``edition_size - minted - sum(free)`` (``reserved``
  of every ``Collection`` read, ``reserved_column``);
* a reservation takes its places from a row with room that no other transaction holds
  (``FOR UPDATE SKIP LOCKED``: never waited for), else (the room is split over rows) place by
  place from the rows no one else holds, else sleeps a moment and looks again (``take``);
* an expired reservation gives its places back to a row no one else holds, else to the first
  row (``release``);
* an assignment turns reserved places into minted ones: ``minted`` grows, the counters stay;
* a grant (an airdrop) takes its places from the counters first (``take``).

Each row's CHECK keeps ``free >= 0``, and the collection's keeps ``minted <= edition_size``: the
database itself refuses an oversold drop. Only ``release`` waits for a counter row (the first
one), and no one holding it waits for anything but the first row: no cycle of waits among them.
A transaction that books a ledger journal does so before it releases places.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from tokenmall.adapters.db.nfg.tables import nfg_collections, nfg_drop_counters

SHARDS = 64  # counter rows a drop's places are split over (fewer for a smaller edition)
WAIT_SECONDS = 10  # a buyer waits this long at most for rows other buyers hold


def reserved_column() -> ColumnElement[Any]:
    """``reserved`` of a selected collection row: from its counters once they are open."""
    c, d = nfg_collections.c, nfg_drop_counters.c
    free = (
        select(func.sum(d.free))
        .where(d.tenant_id == c.tenant_id, d.collection_id == c.collection_id)
        .scalar_subquery()
    )
    return func.coalesce(c.edition_size - c.minted - free, c.reserved).label("reserved")


def collection_select() -> Any:
    """``select`` of ``nfg_collections`` with ``reserved`` counted from the counters."""
    columns = [col for col in nfg_collections.c if col.name != "reserved"]
    return select(*columns, reserved_column())


def is_open(conn: Connection, tenant_id: str, collection_id: str) -> bool:
    d = nfg_drop_counters.c
    found = conn.execute(
        select(d.shard).where(d.tenant_id == tenant_id, d.collection_id == collection_id).limit(1)
    ).first()
    return found is not None


def lock_collection(conn: Connection, tenant_id: str, collection_id: str) -> Any:
    c = nfg_collections.c
    return conn.execute(
        select(c.edition_size, c.minted, c.reserved)
        .where(c.tenant_id == tenant_id, c.collection_id == collection_id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: rows referring to it still insert
    ).one()


def open_counters(conn: Connection, tenant_id: str, collection_id: str) -> None:
    """Split the collection's free places over its counter rows (once; a no-op if open)."""
    row = lock_collection(conn, tenant_id, collection_id)
    if is_open(conn, tenant_id, collection_id):
        return
    free = int(row.edition_size) - int(row.minted) - int(row.reserved)
    shards = max(1, min(SHARDS, free))
    conn.execute(
        insert(nfg_drop_counters),
        [
            {
                "tenant_id": tenant_id,
                "collection_id": collection_id,
                "shard": shard,
                "free": free // shards + (1 if shard < free % shards else 0),
            }
            for shard in range(shards)
        ],
    )
    c = nfg_collections.c
    conn.execute(
        update(nfg_collections)
        .where(c.tenant_id == tenant_id, c.collection_id == collection_id)
        .values(reserved=0)
    )


def _take_from(conn: Connection, tenant_id: str, collection_id: str, shard: int, n: int) -> None:
    d = nfg_drop_counters.c
    conn.execute(
        update(nfg_drop_counters)
        .where(d.tenant_id == tenant_id, d.collection_id == collection_id, d.shard == shard)
        .values(free=d.free - n)
    )


@dataclass(slots=True)
class Held:
    """The counter row a transaction took places from last: its next ``take`` tries that row
    first, so a batch of presses holds few rows (others' expiries find rows no one holds)."""

    shard: int | None = None


class Busy(Exception):
    """Every counter row with room is held by another transaction (a batch's ``take``)."""


def take(
    conn: Connection, tenant_id: str, collection_id: str, places: int, held: Held | None = None
) -> bool | None:
    """Take ``places`` from the open counters: True; False if fewer are free (what was taken
    stays in the caller's transaction, which rolls back); None if the counters are not open.

    Rows are locked ``SKIP LOCKED`` only, never waited for (a wait, holding a row, could close
    a cycle of waits): when every row with room is held by other buyers' transactions, it
    sleeps a moment and looks again (they are short) until ``WAIT_SECONDS`` pass. A batch of
    presses (``held``: the row it took from last, tried first) raises ``Busy`` at once
    instead: it holds rows other batches may be waiting for, so it must not sleep on theirs."""
    d = nfg_drop_counters.c
    mine = (d.tenant_id == tenant_id, d.collection_id == collection_id)
    deadline = time.monotonic() + WAIT_SECONDS
    pause = 0.002
    while True:
        spread = (d.shard + random.randrange(SHARDS)) % SHARDS
        order = [spread] if held is None or held.shard is None else [d.shard != held.shard, spread]
        roomy = (
            select(d.shard)
            .where(*mine, d.free >= places)
            .order_by(*order)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        took = conn.execute(
            update(nfg_drop_counters)
            .where(*mine, d.shard == roomy)
            .values(free=d.free - places)
            .returning(d.shard)
        ).first()
        if took is not None:
            if held is not None:
                held.shard = int(took.shard)
            return True
        rows = conn.execute(select(d.free).where(*mine, d.free > 0)).scalars().all()
        if not rows:
            return None if not is_open(conn, tenant_id, collection_id) else False
        if sum(int(free) for free in rows) < places:
            return False
        if all(free < places for free in rows) and _take_split(
            conn, tenant_id, collection_id, places
        ):
            return True
        if held is not None:
            raise Busy(collection_id)
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)  # every row with room is held by a buyer's short transaction
        pause = min(pause * 2, 0.05)


def _take_split(conn: Connection, tenant_id: str, collection_id: str, places: int) -> bool:
    """``places`` from several rows (no row has them all), from the rows no one else holds."""
    d = nfg_drop_counters.c
    rows = conn.execute(
        select(d.shard, d.free)
        .where(d.tenant_id == tenant_id, d.collection_id == collection_id, d.free > 0)
        .order_by(d.shard)
        .with_for_update(skip_locked=True)
    ).all()
    if sum(int(free) for _, free in rows) < places:
        return False
    left = places
    for shard, free in rows:
        n = min(left, int(free))
        _take_from(conn, tenant_id, collection_id, int(shard), n)
        left -= n
        if not left:
            break
    return True


def release(conn: Connection, tenant_id: str, collection_id: str, places: int) -> bool:
    """Give ``places`` back to a counter row no one else holds, else to the first row (waited
    for); False if the counters are not open."""
    d = nfg_drop_counters.c
    mine = (d.tenant_id == tenant_id, d.collection_id == collection_id)
    spread = (d.shard + random.randrange(SHARDS)) % SHARDS
    free_row = (
        select(d.shard).where(*mine).order_by(spread).limit(1).with_for_update(skip_locked=True)
    ).scalar_subquery()
    for target in (free_row, 0):
        done = conn.execute(
            update(nfg_drop_counters)
            .where(*mine, d.shard == target)
            .values(free=d.free + places)
            .returning(d.shard)
        ).first()
        if done is not None:
            return True
    return False
