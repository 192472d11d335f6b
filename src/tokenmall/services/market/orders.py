"""The users' market actions as use cases: list (挂单), offer (协议转让, opening it), cancel,
decline (the named buyer turns an agreement down), gift (转赠).

Each one locks the rows it changes in one order (the token row first, then its open orders,
then the tenant's order counter; before them all, a gift or a trade to a user new to a
collection with a holder limit takes its newcomer lock: ``newcomers``), loads that slice
into a ``MarketState`` (``state.Loader``), applies the domain's action (every rule lives in
``domain.market``) and persists its effects (``persist``). A refusal raises
``MarketRefused`` (its ``code`` is market.md's) before anything is written, so the
transaction rolls back with nothing changed.

A new listing that crosses a resting bid can run inside the tenant's writer (``wait=False``,
``batched.place_batched``), which holds the tenant's ledger lock before every other: there the
locks that come before the ledger in the lock order (a newcomer's, the token, the resting
order, the order counter) are taken only if free (``SKIP LOCKED``), else ``TradeBusy`` before
anything is written and the action runs in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tokenmall.adapters.db.market.store import OrderRow
from tokenmall.domain.market import Code, MarketRefused
from tokenmall.domain.market.guards import allowed
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.market import newcomers
from tokenmall.services.market.fields import answering_for
from tokenmall.services.market.persist import persist
from tokenmall.services.market.state import Loader
from tokenmall.services.market.watch import watcher
from tokenmall.services.nfg import registry
from tokenmall.services.nfg.tokens import find_token

MAX_TRIES = 8


@dataclass(frozen=True, slots=True)
class Placed:
    """What an action did: the order it opened (if any) and the token's owner after it."""

    order_id: int | None
    owner_id: str | None = None
    trades: tuple[int, ...] = ()


def _who(caller: Principal | None, tenant_id: str) -> str:
    return require(caller, tenant_id, registry.EVERYONE).subject_id


class TradeBusy(Exception):
    """An action in the tenant's writer (``wait=False``) met a row it would lock before the
    ledger (a token, a resting order, the order counter) held by another transaction: it
    runs in a transaction of its own instead (which waits for the locks in the one order)."""


def newcomer_lock(
    loader: Loader, collection_id: str, user_id: str | None, *, wait: bool = True
) -> bool:
    """``newcomers.lock_for``, before the action's first row lock; ``wait`` False:
    ``TradeBusy`` if another transaction holds the collection's newcomer lock."""
    try:
        return newcomers.lock_for(loader, collection_id, user_id, wait=wait)
    except newcomers.Busy:
        raise TradeBusy(f"{collection_id}: newcomers") from None


def _token(loader: Loader, collection_id: str, serial: int, *, wait: bool = True) -> str:
    """Lock and load the token (its collection, its open orders); ``not_found`` if none.
    ``wait`` False: ``TradeBusy`` if another transaction holds it (or there is none)."""
    unit, tenant_id = loader.unit, loader.tenant_id
    if not wait and not unit.market.try_lock_token(tenant_id, collection_id, serial):
        raise TradeBusy(f"{collection_id}/{serial}")  # (or none: refused on its own)
    try:
        collection, token = find_token(unit, tenant_id, collection_id, serial, lock=True)
    except NotFound as missing:
        raise MarketRefused(Code.NOT_FOUND, str(missing), "serial") from None
    return loader.token(collection, token).key


def list_token(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    serial: int,
    price: int,
    *,
    now: datetime,
    config: LogConfig,
    valid_days: int | None = None,
    wait: bool = True,
) -> Placed:
    """挂单: offer one's token at ``price`` fen (trading at once with the highest bid at or
    above it). ``wait`` False: in the tenant's writer (``TradeBusy`` for a row held)."""
    user = _who(caller, tenant_id)
    newcomer_first = False  # the crossing bid's buyer is new to the collection: lock first

    def once() -> Placed:
        nonlocal newcomer_first
        loader = Loader(unit, tenant_id, now)
        if newcomer_first:
            newcomer_lock(loader, collection_id, None, wait=wait)
        key = _token(loader, collection_id, serial, wait=wait)
        loader.user(user)
        day = loader.state.clock.calendar_day
        best = best_locked(unit, tenant_id, collection_id, "bid", day=day, wait=wait)
        if (
            not newcomer_first
            and best is not None
            and price <= best.price
            and newcomers.needs_lock(loader, collection_id, best.user_id)
        ):  # the buyer is found only under the row locks: again, the newcomer lock first
            newcomer_first = True
            raise BookMoved
        loader.resting(best, collection_id)
        loader.marks(user, collection_id)
        loader.state.next_order_id = next_order_id(unit, tenant_id, now, wait=wait)
        unseen_crossing(unit, tenant_id, collection_id, "bid", price, best, day)
        with answering_for("serial"):
            outcome = loader.market().list(user, key, price, valid_days)
        done = persist(
            unit, tenant_id, outcome, now, config, actor="list", watch=watcher(unit, tenant_id)
        )
        return Placed(outcome.order, trades=tuple(done))

    return retrying(unit, once)


def offer(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    serial: int,
    to_user_id: str,
    price: int,
    *,
    now: datetime,
    config: LogConfig,
    valid_days: int | None = None,
) -> Placed:
    """协议转让: offer one's token to the named buyer at ``price`` fen (they accept later)."""
    user = _who(caller, tenant_id)
    loader = Loader(unit, tenant_id, now)
    key = _token(loader, collection_id, serial)
    _recipient(unit, tenant_id, to_user_id)
    loader.user(user)
    loader.user(to_user_id)
    loader.marks(user, collection_id)  # the seller's T+N (cn-licensed)
    loader.state.next_order_id = unit.market.next_order_id(tenant_id, now)
    with answering_for("serial"):
        outcome = loader.market().offer(user, key, to_user_id, price, valid_days)
    persist(unit, tenant_id, outcome, now, config, actor="offer")
    return Placed(outcome.order)


def _recipient(unit: MallUnitOfWork, tenant_id: str, to_user_id: str) -> None:
    found = unit.people.get_user(tenant_id, to_user_id) if len(to_user_id) <= 40 else None
    if found is None:
        raise MarketRefused(Code.NOT_FOUND, f"no user {to_user_id!r} in this shop", "to_user_id")


def best_locked(
    unit: MallUnitOfWork, tenant_id: str, collection_id: str, kind: str,
    lock_token: Callable[[OrderRow], None] | None = None, *, day: int, wait: bool = True,
) -> OrderRow | None:  # fmt: skip
    """The best open order of ``kind`` still good on calendar day ``day`` (one past its days
    never trades, swept or not), its row locked and read again under the lock (a racing
    cancel or fill may have closed it: then the next best). ``lock_token`` locks a listing's
    token first (the one lock order: token, then order). ``wait`` False: ``TradeBusy`` if
    another transaction holds the order's row."""
    for _ in range(MAX_TRIES):
        best = unit.market.best_open(tenant_id, collection_id, kind, day)
        if best is None:
            return None
        if lock_token is not None:
            lock_token(best)
        locked = unit.market.order(tenant_id, best.order_id, for_update=True, skip_locked=not wait)
        if locked is None and not wait:
            raise TradeBusy(best.order_id)
        if locked is not None and locked.status == "open":
            return locked
    raise MarketRefused(Code.NOT_FOUND, "the book is changing; try again", "order")


def next_order_id(unit: MallUnitOfWork, tenant_id: str, now: datetime, *, wait: bool) -> int:
    """The tenant's next order id (its counter's row locked); ``wait`` False: ``TradeBusy``
    if another transaction holds the counter (or there is none yet: a first order waits)."""
    if not wait and not unit.market.try_lock_counter(tenant_id):
        raise TradeBusy("order counter")
    return unit.market.next_order_id(tenant_id, now)


class BookMoved(Exception):
    """A crossing order committed between reading the book and taking the order counter."""


def unseen_crossing(
    unit: MallUnitOfWork, tenant_id: str, collection_id: str, kind: str, price: int,
    seen: OrderRow | None, day: int,
) -> None:  # fmt: skip
    """Under the order counter's lock (every new order takes it), the best opposite order of
    ``kind`` again: one that crosses ``price`` and is not the one loaded (a crossing order, or
    a better one, committed meanwhile) raises ``BookMoved``, so no two crossing orders rest."""
    best = unit.market.best_open(tenant_id, collection_id, kind, day)
    if best is None or (seen is not None and best.order_id == seen.order_id):
        return
    if (best.price <= price) if kind == "listing" else (best.price >= price):
        raise BookMoved


def retrying(unit: MallUnitOfWork, action: Callable[[], Placed]) -> Placed:
    """``action`` in a savepoint, again from the start (its locks released) if the book moved
    under it; after ``MAX_TRIES`` a clean refusal."""
    for _ in range(MAX_TRIES):
        try:
            with unit.conn.begin_nested():
                return action()
        except BookMoved:
            continue
    raise MarketRefused(Code.NOT_FOUND, "the book is changing; try again", "order")


def _open_order(loader: Loader, order_id: int, seen: OrderRow | None = None) -> OrderRow:
    """The order locked (its token first), read again under the lock; ``seen``: its row as
    read before (its token, user and collection never change), so not read again unlocked."""
    unit, tenant_id = loader.unit, loader.tenant_id
    row = seen if seen is not None else unit.market.order(tenant_id, order_id)
    if row is None:
        raise MarketRefused(Code.NOT_FOUND, f"no order {order_id}", "order_id")
    if row.serial is not None:  # the token first: the one lock order
        _token(loader, row.collection_id, row.serial)
    locked = unit.market.order(tenant_id, order_id, for_update=True)
    assert locked is not None
    loader.order(locked)
    return locked


def cancel(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: int,
    *,
    now: datetime,
    config: LogConfig,
) -> Placed:
    """Cancel one's own open order (a listing frees its token)."""
    user = _who(caller, tenant_id)
    loader = Loader(unit, tenant_id, now)
    allowed(loader.prof, "cancel")  # before the order is looked up: no order exists there
    _open_order(loader, order_id)
    loader.user(user)
    with answering_for("order_id"):
        outcome = loader.market().cancel(user, order_id)
    persist(unit, tenant_id, outcome, now, config, actor="cancel")
    return Placed(None)


def decline(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: int,
    *,
    now: datetime,
    config: LogConfig,
) -> Placed:
    """The named buyer declines an agreement offered to them (协议转让): it closes, nothing
    moves; anyone else finds no such agreement (``not_found``)."""
    user = _who(caller, tenant_id)
    loader = Loader(unit, tenant_id, now)
    allowed(loader.prof, "decline")  # before the order is looked up: no order exists there
    _open_order(loader, order_id)
    loader.user(user)
    with answering_for("order_id"):
        outcome = loader.market().decline(user, order_id)
    persist(unit, tenant_id, outcome, now, config, actor="decline")
    return Placed(None)


def gift(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    serial: int,
    to_user_id: str,
    *,
    now: datetime,
    config: LogConfig,
) -> Placed:
    """转赠 under the profile's rules; the token's open orders are cancelled with it."""
    user = _who(caller, tenant_id)
    loader = Loader(unit, tenant_id, now)
    newcomer_lock(loader, collection_id, to_user_id)
    key = _token(loader, collection_id, serial)
    _recipient(unit, tenant_id, to_user_id)
    loader.user(user)
    loader.user(to_user_id)
    with answering_for("serial"):
        outcome = loader.market().gift(user, key, to_user_id)
    persist(unit, tenant_id, outcome, now, config, actor="gift")
    return Placed(None, to_user_id)
