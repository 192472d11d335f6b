"""The market's holder limit on primary sales: a drop's reservation and an admin's grant.

Under ``cn-licensed`` (market.md) at most ``holder_limit`` (the collection's own, else the
profile's default of 200) distinct users ever hold a token of a collection. The market's trades
and gifts check it under the same newcomer lock (``services.market.newcomers``); here a
drop's press and a grant do, before anything is written: a user who takes no holder place of
the collection yet (a *newcomer*) is refused ``holder_limit`` (the market's
``MarketRefused``: 409 with its two sentences) when the places already taken leave none. A
holder place is taken by whoever ever held a token of the collection and by the buyer of every
reservation still open (``holder_places``): an open reservation keeps the place its payment
will turn into a holding, and the payment itself (``drop.assign``) is not checked again.

Other profiles pay nothing but two columns of the press's read of its collection
(``limit_of_rule`` of the profile and the collection's setting; a grant reads them with
``limit_of``): no count, no lock.

Concurrency. Newcomers of one cn-licensed collection are serialized by a transaction advisory
lock on the collection's name (``holder_places.lock_newcomers``; SQLite has one writer at a
time): the places are counted again under it, and a newcomer admitted keeps it until its
transaction commits with its reservation (or tokens) written, so the next newcomer counts it.
An advisory lock, not ``FOR UPDATE`` of a settings row: the collection's market row may not
exist (the limit may be the profile's default), the tenant's settings row hands out every
market order id, and other profiles never touch it. A user who ever held needs no lock (a holder
place is never given back); one whose place is only an open reservation takes it too (a sweep
may expire that reservation meanwhile). A newcomer the last committed count already finds
with no place (and no due reservation to expire) is refused as of that count, without the
lock: most presses once the limit is met. Lock order: a press takes the buyer's row, then this
lock, then the drop's counters or the collection's row; a grant takes this lock before the
collection's row; a gift or a trade before its token's row. A batch of presses waits for it
at most its ``lock_timeout`` (the press then runs alone), and on PostgreSQL a cn-licensed
collection's batch is settled press by press (``press_batch._set_wise``), so each press
passes here.
"""

from __future__ import annotations

from collections.abc import Callable

from tokenmall.adapters.db.market import holder_places
from tokenmall.domain.market.profiles import CN_LICENSED
from tokenmall.domain.market.refusals import Code, MarketRefused
from tokenmall.services.mall.uow import MallUnitOfWork


def limit_of(unit: MallUnitOfWork, tenant_id: str, collection_id: str) -> int | None:
    """The collection's holder limit for primary sales: None unless the tenant's profile is
    ``cn-licensed``."""
    return limit_of_rule(*holder_places.holder_rule(unit.conn, tenant_id, collection_id))


def limit_of_rule(profile: str, own: int | None) -> int | None:
    """The holder limit of a collection of a tenant of market ``profile`` whose own
    ``holder_limit`` is ``own`` (None: the profile's default)."""
    if profile != CN_LICENSED.name:
        return None
    return CN_LICENSED.default_holder_limit if own is None else own


def lock(unit: MallUnitOfWork, tenant_id: str, collection_id: str) -> None:
    """Take the collection's newcomer lock (held until the transaction ends)."""
    holder_places.lock_newcomers(unit.conn, tenant_id, collection_id)


def admit(
    unit: MallUnitOfWork,
    tenant_id: str,
    collection_id: str,
    user_id: str,
    limit: int | None,
    *,
    sweep: Callable[[], int] | None = None,
) -> None:
    """Refuse ``user_id`` (``holder_limit``, nothing written) if they are a newcomer and the
    collection's ``limit`` leaves no holder place; ``sweep``: expire the collection's due
    reservations (how many) before refusing, as their places may come back."""
    if limit is None:
        return
    conn = unit.conn
    taken, held, reserving = holder_places.holder_places(conn, tenant_id, collection_id, user_id)
    if held:
        return
    if not reserving and taken >= limit and sweep is None:
        # Full as last committed, no due reservation to expire: refused as of that count, as
        # a serial order would have it, without the lock (most presses once the limit is met).
        raise _refused(limit)
    holder_places.lock_newcomers(conn, tenant_id, collection_id)
    taken, held, reserving = holder_places.holder_places(conn, tenant_id, collection_id, user_id)
    if held or reserving or taken < limit:
        return
    if sweep is not None and sweep():
        taken, held, reserving = holder_places.holder_places(
            conn, tenant_id, collection_id, user_id
        )
        if held or reserving or taken < limit:
            return
    raise _refused(limit)


def _refused(limit: int) -> MarketRefused:
    return MarketRefused(Code.HOLDER_LIMIT, f"at most {limit} holders")
