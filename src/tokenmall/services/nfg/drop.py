"""The drop (首发): a buyer reserves places of a collection on sale, pays, and gets the next
serials in order.

No step holds the collection's row lock longer than its last statements: thousands of buyers
press at once, and each would queue behind it.

* ``reserve``: the collection is read without a lock, with whether any of its reservations is
  due (one statement), and the press refused at once (nothing waited for) when it is not on
  sale, not allowed, or sold out with nothing due to return. Then the buyer's row of the
  drop is locked (``lock_buyer``: one buyer's presses run one at a time, other buyers never
  wait on it) and the places the buyer reserved or bought are counted against the per-user
  limit, and under ``cn-licensed`` a buyer new to the collection against the market's holder
  limit (``holder_room``); the reservation row is written, and the places are taken last by an
  atomic guarded ``UPDATE … WHERE minted + reserved + n <= edition_size`` (the table's CHECK is
  the backstop), so concurrent buyers never oversell and the collection's row is locked only
  from there to the commit. When too few places are left, the collection's due reservations
  are expired first (``sweep``: claimed ``SKIP LOCKED``, so sweeps share them and never wait).
  A money reservation opens its payment on the gateway at once (``drop_money``).
* ``pay_with_points``: stable points are paid to the issuer (rule 4, ``PayStable``); equity
  points are bought back and burned at the current price, the fee to the dividend pool and the
  payout to the issuer (rule 2, ``SellTo``), so the price never falls. In the same transaction
  the serials are assigned (``assign``).
* ``assign``: the next serials in order (``SqlNfg.take_serials``: one ``UPDATE … RETURNING``
  after the ledger's step), the tokens minted to the buyer and one ``mint`` event per token
  appended to the tenant's log — one transaction.
* ``expire_due`` (a scheduler's tick) and ``expire_if_due`` (lazily, on read): an unpaid
  reservation past its expiry is expired and its places return to sale.

A payment or an expiry locks the reservation's row first; an expiry closes it only if it is
still open (``close_if_open``), so a payment and an expiry of one reservation never both win.
Lock order: the buyer's row, then (cn-licensed newcomers) the collection's newcomer lock, then
reservations, then the ledger's tenant, then the drop's
counter rows or the collection's row, then the log's head.

Every ledger command's key is derived from the reservation (``nfg:<reservation>:<step>``), so a
retried step returns the first journal and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tokenmall.adapters.db import press_read
from tokenmall.adapters.db.nfg import counters
from tokenmall.adapters.db.nfg import drop as drop_queries
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.people import Role
from tokenmall.domain.nfg import events as nfg_events
from tokenmall.domain.nfg.lifecycle import RESERVATION
from tokenmall.domain.nfg.records import (
    Collection,
    PriceAsset,
    Reservation,
    ReservationStatus,
    Token,
    TokenState,
)
from tokenmall.services.log.appending import record
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import ids, journal
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg import holder_room, holds

DEFAULT_HOLD = timedelta(minutes=10)
EXPIRE_BATCH = 200  # due reservations a tick (or a reservation's lazy sweep) expires at most

BUYERS = (Role.CONSUMER,)
READERS = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)


class NotOnSale(Conflict):
    """The collection is not on sale now (a draft, closed, or outside its sale window)."""

    code = "not_on_sale"


class SoldOut(Conflict):
    """Fewer places are left than asked for."""

    code = "sold_out"


class OverLimit(Conflict):
    """The buyer would hold more of the collection than its per-user limit."""

    code = "over_limit"


class ReservationExpired(Conflict):
    """The reservation was not paid in time: its places went back to sale."""

    code = "reservation_expired"


def sale_key(reservation_id: str, step: str) -> str:
    return f"nfg:{reservation_id}:{step}"


def issuer_of(collection: Collection) -> str:
    """The ledger holder a sale pays: the issuing merchant, else the tenant itself."""
    return collection.issuer_merchant_id or collection.tenant_id


def payment_id_of(reservation_id: str) -> str:
    """The gateway payment id of a reservation: the reservation's own id under ``pay_``, so a
    gateway's reference (``<tenant>.<payment>``) names the reservation it pays."""
    return "pay_" + reservation_id.split("_", 1)[1]


def reservation_id_of(payment_id: str) -> str | None:
    prefix, _, rest = payment_id.partition("_")
    return f"rsv_{rest}" if prefix == "pay" and rest else None


# -- reserving ----------------------------------------------------------------------------------


def check_quantity(quantity: object, collection: Collection | None = None) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidInput("quantity must be a whole number of at least 1", "quantity")
    if collection is not None and quantity > collection.per_user_limit:
        raise InvalidInput(
            f"quantity {quantity} is above the per-user limit of {collection.per_user_limit}",
            "quantity",
        )
    return quantity


@dataclass(slots=True)
class DropView:
    """A batch of presses' shared read of its collection (``press_batch``): the row and
    whether any reservation was due, read once for the batch, and the places the batch's
    presses took since (``taken``, counted once a press's savepoint is released). Only a hint
    for refusing at once: a press that goes on takes its places from the counters, which
    decide. After a sweep (places came back) or a lost race at the counters it is read again
    (``stale``)."""

    collection: Collection | None
    any_due: bool
    taken: int = 0
    stale: bool = False
    held: counters.Held = field(default_factory=counters.Held)  # the batch's counter row
    holder_limit: int | None = None  # ``holder_room.limit_of``, read once for the batch
    counters_open: bool = True  # its places are split over counter rows already

    @classmethod
    def read(
        cls, unit: MallUnitOfWork, tenant_id: str, collection_id: str, now: datetime
    ) -> DropView:
        read = press_read.collection_for_press(unit.conn, tenant_id, collection_id, now)
        limit = holder_room.limit_of_rule(read.profile, read.own_holder_limit)
        return cls(
            read.collection, read.any_due, holder_limit=limit, counters_open=read.counters_open
        )

    def current(
        self, unit: MallUnitOfWork, tenant_id: str, collection_id: str, now: datetime
    ) -> tuple[Collection | None, bool]:
        """The collection as this batch sees it (its own takes counted as reserved)."""
        if self.stale:
            fresh = DropView.read(unit, tenant_id, collection_id, now)
            self.collection, self.any_due, self.taken, self.stale = (
                fresh.collection, fresh.any_due, 0, False
            )  # fmt: skip
        found = self.collection
        if found is None or not self.taken:
            return found, self.any_due
        return replace(found, reserved=found.reserved + self.taken), self.any_due

    def took(self, quantity: int) -> None:
        """A press of the batch took ``quantity`` places (its savepoint was released)."""
        self.taken += quantity


def reserve(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    quantity: int,
    pay_with: str | None,
    now: datetime,
    *,
    hold: timedelta = DEFAULT_HOLD,
    view: DropView | None = None,
) -> tuple[Reservation, Collection]:
    """Reserve ``quantity`` places for the caller; the reservation waits for payment until
    ``now + hold``. Refused (nothing changed): not on sale, not on the allow-list, over the
    per-user limit, a newcomer beyond the market's holder limit (``holder_room``), sold out,
    or paid with another asset than the collection's price.
    ``view``: the collection as a batch of presses read it (``press_batch``), else read here."""
    who = require(caller, tenant_id, BUYERS)
    check_quantity(quantity)
    nfg = unit.nfg
    # One statement: the collection, whether places are about to return (due reservations)
    # and the market's holder rule.
    limit: int | None
    if view is None:
        read = press_read.collection_for_press(unit.conn, tenant_id, collection_id, now)
        collection, any_due = read.collection, read.any_due
        limit = holder_room.limit_of_rule(read.profile, read.own_holder_limit)
    else:
        collection, any_due = view.current(unit, tenant_id, collection_id, now)
        limit = view.holder_limit
    collection = admit(collection, collection_id, quantity, pay_with, now)
    if collection.allow_list_only and not nfg.allowed(tenant_id, collection_id, who.subject_id):
        raise Forbidden("this drop is for its allow-list only", "collection_id")
    short = collection.available < quantity
    if short and not any_due:
        # Sold out with nothing about to return: refused without waiting for any lock (after
        # the sell-out most presses are these).
        raise sold_out(collection.available)
    drop_queries.lock_buyer(unit.conn, tenant_id, collection_id, who.subject_id)
    held = drop_queries.places_of_buyer(unit.conn, tenant_id, collection_id, who.subject_id, now)
    check_limit(collection, held, quantity)

    def swept() -> int:
        done = sweep(unit, collection, now)
        if view is not None:
            view.stale = True  # places may have come back
        return done

    holder_room.admit(
        unit, tenant_id, collection_id, who.subject_id, limit, sweep=swept if any_due else None
    )
    if short:
        swept()
    reservation = new_reservation(collection, who.subject_id, quantity, now, hold)
    nfg.add_reservation(reservation)
    # The counters, last; a batch's press never sleeps on rows other transactions hold.
    if not nfg.reserve(tenant_id, collection_id, quantity, None if view is None else view.held):
        if view is not None:
            view.stale = True  # others took places the view counted as free
        raise SoldOut(f"sold_out: fewer than {quantity} places are left", "quantity")
    return reservation, collection


def admit(
    collection: Collection | None,
    collection_id: str,
    quantity: int,
    pay_with: str | None,
    now: datetime,
) -> Collection:
    """The checks of a press before any lock (the caller already required a buyer): the
    collection exists, the quantity fits it, the asset is its price's, it is on sale."""
    if collection is None:
        raise NotFound(f"no collection {collection_id!r}")
    check_quantity(quantity, collection)
    if pay_with is not None and pay_with != collection.price_asset:
        raise InvalidInput(
            f"this collection is paid with {collection.price_asset}, not {pay_with!r}", "pay_with"
        )
    if not collection.on_sale(now):
        raise NotOnSale(_not_on_sale(collection, now), "collection_id")
    return collection


def sold_out(available: int) -> SoldOut:
    """The refusal of a press when ``available`` places are left (fewer than it asks)."""
    return SoldOut(f"sold_out: {max(available, 0)} places are left", "quantity")


def check_limit(collection: Collection, held: int, quantity: int) -> None:
    """Refuse a press that would take the buyer (holding or reserving ``held``) over the
    collection's per-user limit."""
    if held + quantity > collection.per_user_limit:
        raise OverLimit(
            f"over_limit: you hold or reserved {held} of at most {collection.per_user_limit}; "
            f"{collection.per_user_limit - held} more may be reserved",
            "quantity",
        )


def new_reservation(
    collection: Collection, user_id: str, quantity: int, now: datetime, hold: timedelta
) -> Reservation:
    """The open reservation of ``quantity`` places a press makes, waiting ``hold`` for payment."""
    reservation_id = ids.new_id("rsv")
    return Reservation(
        tenant_id=collection.tenant_id,
        reservation_id=reservation_id,
        collection_id=collection.collection_id,
        user_id=user_id,
        quantity=quantity,
        amount=collection.price * quantity,
        asset=collection.price_asset,
        status=ReservationStatus.RESERVED,
        created_at=now,
        expires_at=now + hold,
        payment_id=payment_id_of(reservation_id)
        if collection.price_asset == PriceAsset.MONEY
        else None,
    )


def _not_on_sale(collection: Collection, now: datetime) -> str:
    if collection.status != "published":
        return f"not_on_sale: the collection is {collection.status}"
    if collection.sale_starts_at is not None and now < collection.sale_starts_at:
        return f"not_on_sale: the sale opens at {collection.sale_starts_at.isoformat()}"
    return "not_on_sale: the sale has ended"


# -- reading ------------------------------------------------------------------------------------


def visible(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, reservation_id: str
) -> Reservation:
    """The reservation, for its buyer or the tenant's admins (others: not found)."""
    who = require(caller, tenant_id, READERS)
    found = unit.nfg.get_reservation(tenant_id, reservation_id)
    if found is None or (who.role != Role.ADMIN and found.user_id != who.subject_id):
        raise NotFound(f"no reservation {reservation_id!r}")
    return found


def collection_of(unit: MallUnitOfWork, reservation: Reservation) -> Collection:
    found = unit.nfg.get_collection(reservation.tenant_id, reservation.collection_id)
    assert found is not None
    return found


# -- paying with points -------------------------------------------------------------------------


def pay_with_points(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    reservation_id: str,
    config: LogConfig,
    now: datetime,
) -> Reservation:
    """Pay a stable- or equity-point reservation and assign its serials (one transaction).
    Paying an assigned reservation again answers it unchanged."""
    who = require(caller, tenant_id, BUYERS)
    found = unit.nfg.get_reservation(tenant_id, reservation_id)
    if found is None or found.user_id != who.subject_id:
        raise NotFound(f"no reservation {reservation_id!r}")
    if found.asset == PriceAsset.MONEY:
        raise Conflict(
            "this reservation is paid with money: open its payment link", "reservation_id"
        )
    reservation = unit.nfg.get_reservation(tenant_id, reservation_id, for_update=True)
    assert reservation is not None
    if reservation.status == ReservationStatus.ASSIGNED:
        return reservation
    if reservation.status == ReservationStatus.RESERVED and now >= reservation.expires_at:
        raise ReservationExpired(
            "reservation_expired: it was not paid in time; its places went back to sale",
            "reservation_id",
        )
    RESERVATION.check(reservation.status, "assign", actor(who))
    issuer = issuer_of(collection_of(unit, reservation))
    if reservation.amount > 0:
        command: c.Command
        if reservation.asset == PriceAsset.STABLE:
            command = c.PayStable(
                tenant_id=tenant_id,
                idempotency_key=sale_key(reservation_id, "stable"),
                user=reservation.user_id,
                merchant=issuer,
                amount_fen=reservation.amount,
            )
        else:
            command = c.SellTo(
                tenant_id=tenant_id,
                idempotency_key=sale_key(reservation_id, "equity"),
                user=reservation.user_id,
                units=reservation.amount,
                payee=issuer,
            )
        journal.run(unit.conn, command)
    return assign(unit, reservation, config, now)


# -- assigning ------------------------------------------------------------------------------------


def assign(
    unit: MallUnitOfWork, reservation: Reservation, config: LogConfig, now: datetime
) -> Reservation:
    """The paid reservation's serials, in order: tokens minted to the buyer, ``mint`` events
    logged. The caller holds the reservation's row lock and checked it is open; its ledger step
    is done (the collection's row is locked from here to the commit)."""
    t, col = reservation.tenant_id, reservation.collection_id
    serials = unit.nfg.take_serials(t, col, reservation.quantity, from_reserved=True)
    unit.nfg.add_tokens(
        [Token(t, col, s, reservation.user_id, TokenState.HELD, now) for s in serials], now
    )
    holds.mark_minted(unit, t, col, reservation.user_id, now)
    unit.nfg.close_reservation(
        t, reservation.reservation_id, status=ReservationStatus.ASSIGNED, now=now, serials=serials
    )
    record(
        unit.log,
        config,
        t,
        [nfg_events.mint(col, s, reservation.user_id, "drop") for s in serials],
        now,
    )
    return replace(reservation, status=ReservationStatus.ASSIGNED, serials=tuple(serials))


# -- expiry ---------------------------------------------------------------------------------------


def _expire_open(unit: MallUnitOfWork, reservation: Reservation, now: datetime) -> bool:
    """Expire the reservation if it is still open (its places return to sale); whether it was."""
    t = reservation.tenant_id
    if not drop_queries.close_if_open(
        unit.conn, t, reservation.reservation_id, ReservationStatus.EXPIRED, now
    ):
        return False
    unit.nfg.release(t, reservation.collection_id, reservation.quantity)
    return True


def sweep(unit: MallUnitOfWork, collection: Collection, now: datetime) -> int:
    """Expire the collection's due reservations no one else is expiring or paying now (claimed
    ``SKIP LOCKED``: never waited for); how many were expired."""
    due = drop_queries.due_reservations_of(
        unit.conn, collection.tenant_id, collection.collection_id, now, EXPIRE_BATCH, claim=True
    )
    return sum(_expire_open(unit, reservation, now) for reservation in due)


def expire_if_due(unit: MallUnitOfWork, reservation: Reservation, now: datetime) -> Reservation:
    """The reservation, expired first if it is open and past its expiry (lazily, on read)."""
    if reservation.status != ReservationStatus.RESERVED or now < reservation.expires_at:
        return reservation
    t = reservation.tenant_id
    current = unit.nfg.get_reservation(t, reservation.reservation_id, for_update=True)
    assert current is not None
    if current.status != ReservationStatus.RESERVED or now < current.expires_at:
        return current
    _expire_open(unit, current, now)
    return replace(current, status=ReservationStatus.EXPIRED)


def expire_due(
    unit: MallUnitOfWork, now: datetime, limit: int = EXPIRE_BATCH, *, tenant_id: str | None = None
) -> int:
    """A scheduler's tick: expire due reservations (of every tenant, or of ``tenant_id``); how
    many were expired."""
    done = 0
    due = [
        r
        for r in unit.nfg.due_reservations(now, limit)
        if tenant_id is None or r.tenant_id == tenant_id
    ]
    for found in sorted(due, key=lambda r: (r.tenant_id, r.collection_id, r.reservation_id)):
        if expire_if_due(unit, found, now).status == ReservationStatus.EXPIRED:
            done += 1
    return done
