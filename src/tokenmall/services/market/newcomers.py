"""The holder limit of trades and gifts under concurrency: a user new to a collection is
admitted one at a time, as primary sales admit theirs (``services.nfg.holder_room``).

The rule itself is the domain's (``guards.holder_room``: the places taken are those who ever
held a token of the collection and the buyers of its open reservations; a user who takes none
is refused ``holder_limit`` when none is left). Two actions giving tokens of one collection to
two newcomers at once would each count the places before the other's commit; so an action
whose recipient (a gift's ``to``, a trade's buyer) never held a token of a collection with a
holder limit takes the collection's newcomer lock (``holder_places.lock_newcomers``, the
advisory lock a drop's press and a grant take) before it reads the places, and keeps it until
its transaction ends. A user who ever held takes no lock (a holder place is never given back);
a buyer of an open reservation does (a sweep may expire it meanwhile). A collection without a
limit (``open`` and ``cn-gift-only`` unless an admin set one) costs nothing: no statement.

Lock order: the newcomer lock comes before every row lock of the market's action (the token,
its orders, the order counter, the ledger, the holders and marks: ``persist.py``), as it comes
before the collection's row in a grant and before the reservations and the ledger in a press.
Inside the tenant's writer, which holds the ledger's lock first, it is taken only if free
(``wait`` False), else ``TradeBusy`` before anything is written and the action runs in a
transaction of its own.
"""

from __future__ import annotations

from tokenmall.adapters.db.market import holder_places
from tokenmall.services.market.state import Loader


class Busy(Exception):
    """The collection's newcomer lock is held by another transaction (``wait`` False)."""


def lock_for(loader: Loader, collection_id: str, user_id: str | None, *, wait: bool = True) -> bool:
    """Before the action's first row lock: take the collection's newcomer lock if it has a
    holder limit and ``user_id`` never held a token of it (None: whoever the recipient turns
    out to be). Returns whether the lock was taken; ``wait`` False: ``Busy`` if another
    transaction holds it."""
    if loader.rules(collection_id)[1].holder_limit is None:
        return False
    conn, tenant_id = loader.unit.conn, loader.tenant_id
    if user_id is not None and holder_places.ever_held(conn, tenant_id, collection_id, user_id):
        return False
    if wait:
        holder_places.lock_newcomers(conn, tenant_id, collection_id)
    elif not holder_places.try_lock_newcomers(conn, tenant_id, collection_id):
        raise Busy(collection_id)
    return True


def needs_lock(loader: Loader, collection_id: str, user_id: str) -> bool:
    """Whether a buyer found only under the action's row locks (a resting bid's) would have
    needed the newcomer lock before them: the collection has a holder limit and the buyer
    never held a token of it."""
    if loader.rules(collection_id)[1].holder_limit is None:
        return False
    return not holder_places.ever_held(loader.unit.conn, loader.tenant_id, collection_id, user_id)
