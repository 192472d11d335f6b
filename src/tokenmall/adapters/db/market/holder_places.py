"""Queries of the market's holder limit (primary sales: ``services.nfg.holder_room``; trades
and gifts: ``services.market.newcomers``): the tenant's profile with the collection's own
``holder_limit`` (one statement), the users who take a holder place of a collection, and the
lock that serializes its newcomers.

A holder place is taken by everyone who ever held a token of the collection (the market's
``market_holders`` and every token's owner, a burned or redeemed token's too: its row keeps its
owner) and by every buyer of a reservation of it still ``reserved`` (its window may have
passed, but until it is expired a payment made in time may still assign it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, select, text, union_all

from tokenmall.adapters.db.market.tables import market_collections, market_holders, market_settings
from tokenmall.adapters.db.nfg.tables import nfg_reservations, nfg_tokens
from tokenmall.domain.nfg.records import ReservationStatus


def holder_rule(conn: Connection, tenant_id: str, collection_id: str) -> tuple[str, int | None]:
    """The tenant's market profile (``open`` when it has none) and the collection's own
    ``holder_limit`` (None: the profile's default)."""
    s, m = market_settings.c, market_collections.c
    row = conn.execute(
        select(s.profile, m.holder_limit)
        .select_from(
            market_settings.outerjoin(
                market_collections,
                (m.tenant_id == s.tenant_id) & (m.collection_id == collection_id),
            )
        )
        .where(s.tenant_id == tenant_id)
    ).first()
    if row is None:
        return "open", None
    return str(row[0]), None if row[1] is None else int(row[1])


def holder_places(
    conn: Connection, tenant_id: str, collection_id: str, user_id: str
) -> tuple[int, bool, bool]:
    """How many users take a holder place of the collection; whether ``user_id`` ever held a
    token of it; whether ``user_id`` has a ``reserved`` reservation of it (one statement)."""
    h, o, r = market_holders.c, nfg_tokens.c, nfg_reservations.c
    people = union_all(
        select(h.user_id.label("user_id"), literal(1).label("held")).where(
            h.tenant_id == tenant_id, h.collection_id == collection_id
        ),
        select(o.owner_id.label("user_id"), literal(1).label("held")).where(
            o.tenant_id == tenant_id, o.collection_id == collection_id
        ),
        select(r.user_id.label("user_id"), literal(0).label("held")).where(
            r.tenant_id == tenant_id,
            r.collection_id == collection_id,
            r.status == str(ReservationStatus.RESERVED),
        ),
    ).subquery()
    p = people.c

    def mine(held: int) -> Any:
        return func.coalesce(
            func.max(case((and_(p.user_id == user_id, p.held == held), 1), else_=0)), 0
        )

    found = conn.execute(select(func.count(func.distinct(p.user_id)), mine(1), mine(0))).one()
    return int(found[0]), bool(found[1]), bool(found[2])


def places(conn: Connection, tenant_id: str, collection_id: str) -> tuple[set[str], set[str]]:
    """Who takes a holder place of the collection: everyone who ever held a token of it, and
    the buyers of its ``reserved`` reservations (one statement)."""
    h, o, r = market_holders.c, nfg_tokens.c, nfg_reservations.c
    rows = conn.execute(
        union_all(
            select(h.user_id, literal(1)).where(
                h.tenant_id == tenant_id, h.collection_id == collection_id
            ),
            select(o.owner_id, literal(1)).where(
                o.tenant_id == tenant_id, o.collection_id == collection_id
            ),
            select(r.user_id, literal(0)).where(
                r.tenant_id == tenant_id,
                r.collection_id == collection_id,
                r.status == str(ReservationStatus.RESERVED),
            ),
        )
    ).all()
    held = {str(u) for u, was in rows if was and u is not None}
    return held, {str(u) for u, was in rows if not was and u is not None}


def ever_held(conn: Connection, tenant_id: str, collection_id: str, user_id: str) -> bool:
    """Whether ``user_id`` ever held a token of the collection (one statement; a holder place
    is never given back, so a true answer needs no lock)."""
    h, o = market_holders.c, nfg_tokens.c
    recorded = select(h.user_id).where(
        h.tenant_id == tenant_id, h.collection_id == collection_id, h.user_id == user_id
    )
    owns = select(o.owner_id).where(
        o.tenant_id == tenant_id, o.collection_id == collection_id, o.owner_id == user_id
    )
    return bool(conn.execute(select(recorded.exists() | owns.exists())).scalar())


def _key(tenant_id: str, collection_id: str) -> dict[str, str]:
    return {"k": f"nfg-holders:{tenant_id}:{collection_id}"}


def lock_newcomers(conn: Connection, tenant_id: str, collection_id: str) -> None:
    """Serialize the newcomers of one collection until the transaction ends (PostgreSQL: a
    transaction advisory lock on the collection's name; SQLite has one writer at a time)."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        _key(tenant_id, collection_id),
    )


def try_lock_newcomers(conn: Connection, tenant_id: str, collection_id: str) -> bool:
    """``lock_newcomers`` only if no other transaction holds it: False if one does."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(
        conn.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
            _key(tenant_id, collection_id),
        ).scalar()
    )
