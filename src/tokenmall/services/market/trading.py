"""The market's actions that move money: bid (求购), take (摘牌), accept (协议转让), and the
expiry of orders past their days.

Lock order as ``orders`` documents: a buyer new to a collection with a holder limit takes its
newcomer lock first (``newcomers``), then a token row, then orders, then the tenant's order
counter, then the ledger (``persist`` books money last). A bid names no token: it locks the
token of the collection's best listing, then that listing (``orders.best_locked``); a bid that
rests locks only the counter and the ledger. Each action is one transaction, or for a take, an
accept or a bid that crosses a listing, through the API or a page, one savepoint of the
tenant's writer's batch (``batched.py``: ``settle(wait=False)``, ``bid(wait=False)``); a
refusal raises ``MarketRefused`` before anything is written (or, for a shortfall only the
ledger sees under its lock, while writing: the transaction, or the unit's savepoint, rolls
back whole).
"""

from __future__ import annotations

from datetime import datetime

from tokenmall.adapters.db.market.store import OrderRow
from tokenmall.domain.market import Code, MarketRefused
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.market.fields import answering_for
from tokenmall.services.market.orders import (
    Placed,
    TradeBusy,
    _open_order,
    _token,
    _who,
    best_locked,
    newcomer_lock,
    next_order_id,
    retrying,
    unseen_crossing,
)
from tokenmall.services.market.persist import Watch, persist
from tokenmall.services.market.state import Known, Loader
from tokenmall.services.market.watch import watcher
from tokenmall.services.nfg import registry


def bid(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    price: int,
    *,
    now: datetime,
    config: LogConfig,
    valid_days: int | None = None,
    wait: bool = True,
) -> Placed:
    """求购: buy one token of the collection for at most ``price`` fen. It trades at once with
    the lowest listing at or below it (at the listing's price, from the bidder's cash), else
    it rests and reserves ``price`` of the bidder's cash. ``wait`` False: in the tenant's
    writer, the listing's token and row and the order counter taken only if free, else
    ``TradeBusy`` before anything is written."""
    user = _who(caller, tenant_id)
    try:
        collection = registry.find(unit, tenant_id, collection_id)
    except NotFound as missing:
        raise MarketRefused(Code.NOT_FOUND, str(missing), "collection_id") from None

    def once() -> Placed:
        loader = Loader(unit, tenant_id, now)
        newcomer_lock(loader, collection_id, user, wait=wait)
        loader.collection(collection)

        def lock_token(row: OrderRow) -> None:
            assert row.serial is not None
            _token(loader, row.collection_id, row.serial, wait=wait)

        day = loader.state.clock.calendar_day
        best = best_locked(
            unit, tenant_id, collection_id, "listing", lock_token, day=day, wait=wait
        )
        loader.resting(best, collection_id)
        loader.user(user)
        loader.marks(user, collection_id)
        loader.state.next_order_id = next_order_id(unit, tenant_id, now, wait=wait)
        unseen_crossing(unit, tenant_id, collection_id, "listing", price, best, day)
        with answering_for("collection_id"):
            outcome = loader.market().bid(user, collection_id, price, valid_days)
        done = persist(
            unit, tenant_id, outcome, now, config, actor="bid", watch=watcher(unit, tenant_id)
        )
        return Placed(outcome.order, trades=tuple(done))

    return retrying(unit, once)


def settle(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: int,
    action: str,
    *,
    now: datetime,
    config: LogConfig,
    wait: bool = True,
    known: Known | None = None,
) -> Placed:
    """``take`` or ``accept`` (``action``). With ``wait`` False (the tenant's writer, which
    already holds the ledger's lock) the token's lock (and a newcomer's: ``newcomers``) is
    taken only if it is free, else ``TradeBusy`` before anything is written, so no trade
    waits for a lock while holding the tenant's. ``known``: what was read of it before it was queued
    (``state.known_for``)."""
    if action not in ("take", "accept"):
        raise ValueError(f"not a trade: {action!r}")
    user = _who(caller, tenant_id)
    seen = None if known is None else known.order
    if seen is None:
        seen = unit.market.order(tenant_id, order_id)
    loader = Loader(unit, tenant_id, now, known)
    if seen is not None:  # the buyer new to the collection: its newcomer lock first
        newcomer_lock(loader, seen.collection_id, user, wait=wait)
    if (
        not wait
        and seen is not None
        and seen.serial is not None
        and not unit.market.try_lock_token(tenant_id, seen.collection_id, seen.serial)
    ):
        raise TradeBusy(order_id)
    row = _open_order(loader, order_id, seen)
    loader.user(user)
    loader.user(row.user_id)
    loader.marks(user, row.collection_id)
    loader.marks(row.user_id, row.collection_id)
    market = loader.market()
    with answering_for("order_id"):
        outcome = market.take(user, order_id) if action == "take" else market.accept(user, order_id)
    done = persist(
        unit, tenant_id, outcome, now, config, actor=action, watch=_watch(unit, tenant_id, known)
    )
    return Placed(None, user, tuple(done))


def _watch(unit: MallUnitOfWork, tenant_id: str, known: Known | None) -> Watch:
    """The wash-trade watch, answering the pair ``known`` checked already without reading."""
    live = watcher(unit, tenant_id)
    if known is None or known.flag is None:
        return live
    buyer, seller, reason = known.flag
    return lambda b, s: reason if (b, s) == (buyer, seller) else live(b, s)


def take(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: int,
    *,
    now: datetime,
    config: LogConfig,
) -> Placed:
    """摘牌: buy the listing ``order_id`` at its price."""
    return settle(unit, caller, tenant_id, order_id, "take", now=now, config=config)


def accept(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    order_id: int,
    *,
    now: datetime,
    config: LogConfig,
) -> Placed:
    """The named buyer accepts the agreement ``order_id`` (协议转让): it settles at once.
    Anyone else finds no such agreement (``not_found``)."""
    return settle(unit, caller, tenant_id, order_id, "accept", now=now, config=config)


def expire_due(unit: MallUnitOfWork, tenant_id: str, *, now: datetime, config: LogConfig) -> int:
    """Expire the tenant's open orders whose last day has passed (a bid's cash returns, a
    listing frees its token), in one transaction; returns how many. For the daily job."""
    loader = Loader(unit, tenant_id, now)
    today = loader.state.clock.calendar_day
    due = [
        r
        for r in unit.market.open_orders_of_tenant(tenant_id)
        if r.expires_day is not None and r.expires_day <= today
    ]
    for row in due:
        if row.serial is not None:
            _token(loader, row.collection_id, row.serial)
        locked = unit.market.order(tenant_id, row.order_id, for_update=True)
        if locked is not None and locked.status == "open":
            loader.order(locked)
    outcome = loader.market().expire_due()
    persist(unit, tenant_id, outcome, now, config, actor="expire")
    return sum(1 for e in outcome.effects if type(e).__name__ == "OrderClosed")
