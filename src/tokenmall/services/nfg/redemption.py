"""Redemption (提货/核销): the owner of a token asks for its good; it ships; the token burns.

The SKU redeemed is the collection's ``voucher`` right's SKU if it has one, else its linked SKU.
Asking locks the token at once (``redeeming``, a ``redemption_requested`` leaf), reserves one
unit of the SKU and makes a redemption: a shipping order paid by the token (no money, no
points) to a snapshot of the owner's address. The SKU's merchant ships it (optional) and
delivers it: the token is burned (``redeemed``, the collection's ``burned`` counter + 1, a
``redemption_delivered`` leaf; a voucher's use recorded). A cancelled redemption (the owner
while not shipped; the merchant or an admin before delivery) releases the unit and unlocks the
token (``redemption_cancelled``). Every change is one unit of work with its log leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokenmall.adapters.db.nfg.registry import RightUse
from tokenmall.domain.mall.people import Role
from tokenmall.domain.market.records import OrderStatus
from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.lifecycle import TOKEN
from tokenmall.domain.nfg.records import Collection, Token, TokenState, token_key
from tokenmall.domain.nfg.redemptions import Redemption, RedemptionKind, RedemptionStatus
from tokenmall.services.log.appending import record
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import addresses, catalogue, ids, validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound, OutOfStock
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg.errors import NotOwner

OWNERS: tuple[Role, ...] = (Role.CONSUMER,)
STAFF: tuple[Role, ...] = (Role.MERCHANT, Role.ADMIN)
EVERYONE: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)
OPEN = (RedemptionStatus.REQUESTED, RedemptionStatus.SHIPPED)


def what_redeems(collection: Collection) -> tuple[str, RedemptionKind] | None:
    """The SKU a token of the collection redeems, and how (None: nothing to redeem)."""
    if collection.rights.voucher_sku_id is not None:
        return collection.rights.voucher_sku_id, RedemptionKind.VOUCHER
    if collection.linked_sku_id is not None:
        return collection.linked_sku_id, RedemptionKind.LINKED
    return None


def _own_token(
    unit: MallUnitOfWork, who: Principal, tenant_id: str, collection_id: str, serial: int
) -> tuple[Collection, Token]:
    collection = unit.nfg.get_collection(tenant_id, collection_id, for_update=True)
    if collection is None:
        raise NotFound(f"no collection {collection_id!r}", "collection_id")
    if not 1 <= serial <= collection.edition_size:
        raise InvalidInput(
            f"serial must be from 1 to {collection.edition_size} in this collection", "serial"
        )
    token = unit.nfg.get_token(tenant_id, collection_id, serial, for_update=True)
    if token is None:
        raise NotFound(f"token {token_key(collection_id, serial)} was never minted", "serial")
    if token.owner_id != who.subject_id:
        raise NotOwner(
            f"not_owner: token {token.key} is not yours: only its owner may redeem it", "serial"
        )
    return collection, token


def request(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    collection_id: str,
    serial: int,
    address_id: str | None,
    config: LogConfig,
    now: datetime,
) -> Redemption:
    """The owner asks for the good of a held token, shipped to ``address_id`` (theirs)."""
    who = require(caller, tenant_id, OWNERS)
    if address_id is None or not address_id.strip():
        raise InvalidInput(
            "address_id is required: the id of the address in your address book to ship to",
            "address_id",
        )
    shipping = addresses.for_checkout(unit.addresses, who, tenant_id, address_id)
    assert shipping is not None
    collection, token = _own_token(unit, who, tenant_id, collection_id, serial)
    TOKEN.check(token.state, "redeem", actor(who))
    found = what_redeems(collection)
    if found is None:
        raise Conflict(
            f"{collection.name} has no linked SKU nor voucher: nothing to redeem", "collection_id"
        )
    sku_id, kind = found
    sku = unit.catalogue.get_sku(tenant_id, sku_id)
    product = None if sku is None else unit.catalogue.get_product(tenant_id, sku.product_id)
    if sku is None or product is None:
        raise Conflict(f"the SKU {sku_id!r} to redeem no longer exists", "collection_id")
    redemption = Redemption(
        tenant_id=tenant_id,
        redemption_id=ids.new_id("rdm"),
        collection_id=collection_id,
        serial=serial,
        user_id=who.subject_id,
        sku_id=sku_id,
        merchant_id=product.merchant_id,
        kind=kind,
        status=RedemptionStatus.REQUESTED,
        recipient=shipping.recipient,
        phone=shipping.phone,
        address=shipping.address,
        created_at=now,
    )
    try:
        catalogue.reserve(unit.catalogue, tenant_id, sku_id, 1, redemption.redemption_id, now)
    except OutOfStock as exc:
        raise OutOfStock(f"SKU {sku_id!r}: {exc}", "collection_id") from None
    unit.nfg.move_token(tenant_id, collection_id, serial, state=TokenState.REDEEMING, now=now)
    # A listing locks its token (redeeming it was refused above); an agreement (协议转让) does
    # not, and it may not outlive the token: closed in this transaction, no money held by it.
    for order in unit.market.open_orders_of_token(
        tenant_id, collection_id, serial, for_update=True
    ):
        unit.market.close_order(tenant_id, order.order_id, OrderStatus.CANCELLED, "redeemed", now)
    unit.redemptions.add(redemption)
    event = ev.token_event(
        ev.REDEMPTION_REQUESTED,
        collection_id,
        serial,
        owner=who.subject_id,
        redemption=redemption.redemption_id,
        sku=sku_id,
        via=str(kind),
    )
    record(unit.log, config, tenant_id, [event], now)
    return redemption


def _visible(
    unit: MallUnitOfWork, who: Principal, tenant_id: str, redemption_id: str, *, lock: bool
) -> Redemption:
    found = unit.redemptions.get(tenant_id, redemption_id, for_update=lock)
    if found is None:
        raise NotFound(f"no redemption {redemption_id!r}")
    if who.role == Role.CONSUMER and found.user_id != who.subject_id:
        raise NotFound(f"no redemption {redemption_id!r}")
    if who.role == Role.MERCHANT:
        merchant = unit.catalogue.merchant_of_owner(tenant_id, who.subject_id)
        if merchant is None or merchant.merchant_id != found.merchant_id:
            raise NotFound(f"no redemption {redemption_id!r}")
    return found


def get(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, redemption_id: str
) -> Redemption:
    """One redemption: its owner's, its merchant's, or any for an admin."""
    who = require(caller, tenant_id, EVERYONE)
    return _visible(unit, who, tenant_id, redemption_id, lock=False)


def list_redemptions(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, *, limit: int = 100
) -> list[Redemption]:
    """The newest first: a consumer's own, a merchant's to ship, all for an admin."""
    who = require(caller, tenant_id, EVERYONE)
    if who.role == Role.CONSUMER:
        return unit.redemptions.query(tenant_id, user_id=who.subject_id, limit=limit)
    if who.role == Role.MERCHANT:
        merchant = unit.catalogue.merchant_of_owner(tenant_id, who.subject_id)
        if merchant is None:
            return []
        return unit.redemptions.query(tenant_id, merchant_id=merchant.merchant_id, limit=limit)
    return unit.redemptions.query(tenant_id, limit=limit)


def _move(
    unit: MallUnitOfWork,
    found: Redemption,
    sources: tuple[RedemptionStatus, ...],
    to: RedemptionStatus,
    values: dict[str, object],
) -> Redemption:
    if found.status not in sources:
        raise Conflict(f"the redemption is {found.status}: it cannot become {to}", "status")
    if not unit.redemptions.move(found.tenant_id, found.redemption_id, sources, to, values):
        raise Conflict("the redemption changed meanwhile; read it again", "status")
    moved = unit.redemptions.get(found.tenant_id, found.redemption_id)
    assert moved is not None
    return moved


def ship(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    redemption_id: str,
    *,
    carrier: str | None,
    tracking_number: str | None,
    now: datetime,
) -> Redemption:
    """The SKU's merchant (or an admin) sends the good."""
    who = require(caller, tenant_id, STAFF)
    found = _visible(unit, who, tenant_id, redemption_id, lock=True)
    values: dict[str, object] = {"shipped_at": now}
    if carrier is not None:
        values["carrier"] = validate.text(carrier, "carrier", max_length=100)
    if tracking_number is not None:
        values["tracking_number"] = validate.text(
            tracking_number, "tracking_number", max_length=100
        )
    return _move(unit, found, (RedemptionStatus.REQUESTED,), RedemptionStatus.SHIPPED, values)


def deliver(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    redemption_id: str,
    *,
    config: LogConfig,
    now: datetime,
) -> Redemption:
    """The good reached its owner: the token is burned (redeemed)."""
    who = require(caller, tenant_id, STAFF)
    found = _visible(unit, who, tenant_id, redemption_id, lock=True)
    if found.status not in OPEN:
        raise Conflict(f"the redemption is {found.status}: it cannot be delivered", "status")
    unit.nfg.get_collection(tenant_id, found.collection_id, for_update=True)
    token = unit.nfg.get_token(tenant_id, found.collection_id, found.serial, for_update=True)
    assert token is not None
    TOKEN.check(token.state, "deliver", actor(who))
    moved = _move(
        unit,
        found,
        OPEN,
        RedemptionStatus.DELIVERED,
        {"closed_at": now, "closed_by": who.subject_id},
    )
    unit.nfg.move_token(
        tenant_id, found.collection_id, found.serial, state=TokenState.REDEEMED, now=now
    )
    unit.nfg.count_burned(tenant_id, found.collection_id)
    if found.kind == RedemptionKind.VOUCHER:
        unit.nfg.add_right_use(
            RightUse(
                tenant_id,
                ids.new_id("use"),
                found.collection_id,
                found.serial,
                "voucher",
                who.subject_id,
                None,
                f"redemption {found.redemption_id}",
                now,
            )
        )
    event = ev.token_event(
        ev.REDEMPTION_DELIVERED,
        found.collection_id,
        found.serial,
        redemption=found.redemption_id,
        by=who.subject_id,
    )
    record(unit.log, config, tenant_id, [event], now)
    return moved


def cancel(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    redemption_id: str,
    *,
    reason: str | None,
    config: LogConfig,
    now: datetime,
) -> Redemption:
    """Call it off: the owner while it is not shipped, the merchant or an admin before it is
    delivered. The unit of stock comes back and the token is held again."""
    who = require(caller, tenant_id, EVERYONE)
    found = _visible(unit, who, tenant_id, redemption_id, lock=True)
    sources = (RedemptionStatus.REQUESTED,) if who.role == Role.CONSUMER else OPEN
    if found.status not in sources:
        raise Conflict(f"the redemption is {found.status}: it cannot be cancelled", "status")
    note = None if reason is None else validate.text(reason, "reason", max_length=200)
    unit.nfg.get_collection(tenant_id, found.collection_id, for_update=True)
    token = unit.nfg.get_token(tenant_id, found.collection_id, found.serial, for_update=True)
    assert token is not None
    TOKEN.check(token.state, "cancel_redemption", actor(who))
    moved = _move(
        unit,
        found,
        sources,
        RedemptionStatus.CANCELLED,
        {"closed_at": now, "closed_by": who.subject_id},
    )
    catalogue.release(unit.catalogue, tenant_id, found.sku_id, 1, found.redemption_id, now)
    unit.nfg.move_token(
        tenant_id, found.collection_id, found.serial, state=TokenState.HELD, now=now
    )
    fields: dict[str, object] = {"redemption": found.redemption_id, "by": who.subject_id}
    if note:
        fields["reason"] = note
    event = ev.token_event(ev.REDEMPTION_CANCELLED, found.collection_id, found.serial, **fields)
    record(unit.log, config, tenant_id, [event], now)
    return moved


@dataclass(frozen=True, slots=True)
class Holding:
    """A token of the consumer's, as the redemption page shows it."""

    collection: Collection
    token: Token
    redeems: str | None  # the SKU it redeems, if any
    uses: int  # uses of its rights so far


def holdings(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str) -> list[Holding]:
    """The consumer's tokens (every state) with what each redeems and its rights' uses."""
    who = require(caller, tenant_id, OWNERS)
    found: list[Holding] = []
    collections: dict[str, Collection | None] = {}
    for token in unit.nfg.tokens_of_owner(tenant_id, who.subject_id):
        if token.collection_id not in collections:
            collections[token.collection_id] = unit.nfg.get_collection(
                tenant_id, token.collection_id
            )
        collection = collections[token.collection_id]
        if collection is None:
            continue
        redeems = what_redeems(collection)
        uses = unit.nfg.right_uses(tenant_id, token.collection_id, token.serial)
        found.append(Holding(collection, token, None if redeems is None else redeems[0], len(uses)))
    return found
