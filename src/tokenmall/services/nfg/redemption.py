"""Redemption (提货/核销): the owner of a token asks for its good; it ships; the token burns.

The SKU redeemed is the collection's ``voucher`` right's SKU if it has one, else its linked SKU.
Asking locks the token at once (``redeeming``, a ``redemption_requested`` leaf), reserves one
unit of the SKU and makes a mall order of it (quantity 1, to a snapshot of the owner's
address), paid by the token: created ``paid``, its total 0, no money, no points, no journal
(``docs/nfg.md``, "Redemption orders"). The order goes through the merchant's ordinary
fulfilment: the orders list, the ship action with its tracking number, the owner's receipt or
the auto-confirmation; on receipt ``RedemptionSteps`` (the unit's ``token_orders`` port) burns
the token (``redeemed``, the collection's ``burned`` counter + 1, a ``redemption_delivered``
leaf; a voucher's use recorded). Cancelled before it ships (the owner, the merchant or an
admin, here or as the order), the unit comes back and the token is held again
(``redemption_cancelled``). Every change is one unit of work with its log leaf.

The redemption's own routes stay: ``ship`` is the order's ship, ``deliver`` marks the order
received for its owner (a merchant handing the good over at the counter, 核销, ships and
delivers it at once), ``cancel`` is the order's cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokenmall.domain.mall.orders import Order, OrderLine, OrderRedemption, OrderStatus
from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.transitions import Actor
from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.lifecycle import TOKEN
from tokenmall.domain.nfg.records import Collection, Token, TokenState, token_key
from tokenmall.domain.nfg.redemptions import Redemption, RedemptionKind, RedemptionStatus
from tokenmall.services.log.appending import record
from tokenmall.services.log.checkpoints import LogConfig, sign_if_due
from tokenmall.services.mall import addresses, catalogue, ids, orders
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound, OutOfStock
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg import tokens
from tokenmall.services.nfg.errors import NotOwner

OWNERS: tuple[Role, ...] = (Role.CONSUMER,)
STAFF: tuple[Role, ...] = (Role.MERCHANT, Role.ADMIN)
EVERYONE: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)


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
    redemption_id = ids.new_id("rdm")
    shop_order = Order(
        tenant_id=tenant_id,
        order_id=ids.new_id("ord"),
        checkout_id=redemption_id,
        user_id=who.subject_id,
        merchant_id=product.merchant_id,
        status=OrderStatus.PAID,
        total_fen=0,
        money_fen=0,
        stable_fen=0,
        created_at=now,
        pay_by=now,
        paid_at=now,
        # The good at its list price, for the picker and the buyer; the order's total (what
        # was paid) is 0 and no pool contribution belongs to it.
        lines=(
            OrderLine(
                line_no=1,
                sku_id=sku_id,
                product_id=product.product_id,
                title=product.title,
                sku_name=sku.name,
                unit_price_fen=sku.price_fen,
                quantity=1,
                line_total_fen=sku.price_fen,
                pool_contribution_fen=None,
            ),
        ),
        shipping=shipping,
        redemption=OrderRedemption(redemption_id, collection_id, serial),
    )
    redemption = Redemption(
        tenant_id=tenant_id,
        redemption_id=redemption_id,
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
        order_id=shop_order.order_id,
    )
    try:
        catalogue.reserve(unit.catalogue, tenant_id, sku_id, 1, shop_order.order_id, now)
    except OutOfStock as exc:
        raise OutOfStock(f"SKU {sku_id!r}: {exc}", "collection_id") from None
    unit.nfg.move_token(tenant_id, collection_id, serial, state=TokenState.REDEEMING, now=now)
    tokens.close_market_orders(unit, tenant_id, collection_id, serial, "redeemed", now)
    unit.orders.add(shop_order)
    note = f"paid by the token {token_key(collection_id, serial)}"
    orders.history(unit, shop_order, None, OrderStatus.PAID, who.subject_id, now, note)
    unit.redemptions.add(redemption)
    event = ev.token_event(
        ev.REDEMPTION_REQUESTED,
        collection_id,
        serial,
        owner=who.subject_id,
        redemption=redemption.redemption_id,
        sku=sku_id,
        via=str(kind),
        order=shop_order.order_id,
    )
    record(unit.log, config, tenant_id, [event], now)
    return redemption


def _visible(
    unit: MallUnitOfWork, who: Principal, tenant_id: str, redemption_id: str
) -> Redemption:
    found = unit.redemptions.get(tenant_id, redemption_id)
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
    return _visible(unit, who, tenant_id, redemption_id)


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


def _reread(unit: MallUnitOfWork, found: Redemption) -> Redemption:
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
    """The SKU's merchant (or an admin) sends the good: the order's ship."""
    who = require(caller, tenant_id, STAFF)
    found = _visible(unit, who, tenant_id, redemption_id)
    orders.ship(
        unit,
        caller,
        tenant_id,
        found.order_id,
        carrier=carrier,
        tracking_number=tracking_number,
        now=now,
    )
    return _reread(unit, found)


def deliver(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    redemption_id: str,
    *,
    config: LogConfig,
    now: datetime,
) -> Redemption:
    """The good reached its owner, as its merchant (or an admin) says: the order is received
    for the owner (shipped first if it was handed over at the counter) and the token burned."""
    who = require(caller, tenant_id, STAFF)
    found = _visible(unit, who, tenant_id, redemption_id)
    order = orders.visible_order(unit, who, tenant_id, found.order_id, lock=True)
    if order.status == OrderStatus.PAID:
        order = orders.move(unit, order, "ship", who, now, "handed over", shipped_at=now)
    if order.status != OrderStatus.SHIPPED:
        raise Conflict(f"the redemption is {found.status}: it cannot be delivered", "status")
    note = "delivered, as its merchant says"
    orders.move(
        unit,
        order,
        "confirm_receipt",
        Actor.SYSTEM,
        now,
        note,
        who=who.subject_id,
        received_at=now,
    )
    sign_if_due(unit.log, config, tenant_id, now)  # the order's move appended a leaf
    return _reread(unit, found)


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
    """Call it off before it ships (the owner, the merchant, an admin): the order is
    cancelled, the unit of stock comes back and the token is held again."""
    who = require(caller, tenant_id, EVERYONE)
    found = _visible(unit, who, tenant_id, redemption_id)
    orders.cancel(unit, caller, tenant_id, found.order_id, reason, now)
    sign_if_due(unit.log, config, tenant_id, now)  # the order's move appended a leaf
    return _reread(unit, found)


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
