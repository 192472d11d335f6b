"""A drop's press reads its collection in one statement (``collection_for_press``): the
collection as ``SqlNfg.get_collection`` reads it, whether any of its open reservations is due,
and the market's holder rule (``market/holder_places.holder_rule``'s) and whether its counters
are open. Beside ``nfg`` and
``market``, as it reads the tables of both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, exists, select

from tokenmall.adapters.db.market.tables import market_collections, market_settings
from tokenmall.adapters.db.nfg import counters
from tokenmall.adapters.db.nfg.registry import _collection
from tokenmall.adapters.db.nfg.tables import nfg_collections, nfg_drop_counters, nfg_reservations
from tokenmall.domain.nfg.records import Collection, ReservationStatus


@dataclass(frozen=True, slots=True)
class PressRead:
    """What a batch of presses reads of its collection in one statement: the collection (None:
    no such collection), whether any of its open reservations is past its expiry (places about
    to return), and the market's rule for its holders: the tenant's profile (``open`` when it
    has none) and the collection's own ``holder_limit`` (None: the profile's default)."""

    collection: Collection | None
    any_due: bool
    profile: str
    own_holder_limit: int | None
    counters_open: bool = True  # its places are split over counter rows (``counters``)


def collection_for_press(
    conn: Connection, tenant_id: str, collection_id: str, now: datetime
) -> PressRead:
    """The collection (as ``SqlNfg.get_collection`` reads it), whether places are about to
    return, and its holder rule (``holder_places.holder_rule``'s), in one statement (built
    once: every press of a drop reads it)."""
    row = conn.execute(
        _press_query(), {"tenant_id": tenant_id, "collection_id": collection_id, "now": now}
    ).first()
    if row is None:
        return PressRead(None, False, "open", None, False)
    own = row.own_holder_limit
    return PressRead(
        _collection(row),
        bool(row.any_due),
        str(row.market_profile or "open"),
        None if own is None else int(own),
        bool(row.counters_open),
    )


@cache
def _press_query() -> Any:
    c, r = nfg_collections.c, nfg_reservations.c
    s, m = market_settings.c, market_collections.c
    due = (
        exists()
        .where(
            r.tenant_id == c.tenant_id,
            r.collection_id == c.collection_id,
            r.status == str(ReservationStatus.RESERVED),
            r.expires_at <= bindparam("now"),
        )
        .label("any_due")
    )
    profile = (
        select(s.profile)
        .where(s.tenant_id == c.tenant_id)
        .scalar_subquery()
        .label("market_profile")
    )
    own = (
        select(m.holder_limit)
        .where(m.tenant_id == c.tenant_id, m.collection_id == c.collection_id)
        .scalar_subquery()
        .label("own_holder_limit")
    )
    d = nfg_drop_counters.c
    opened = (
        exists()
        .where(d.tenant_id == c.tenant_id, d.collection_id == c.collection_id)
        .label("counters_open")
    )
    return (
        counters.collection_select()
        .add_columns(due, profile, own, opened)
        .where(c.tenant_id == bindparam("tenant_id"), c.collection_id == bindparam("collection_id"))
    )
