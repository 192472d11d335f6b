"""Tokens of the NFG registry: grants (airdrops), reading, transfers (转赠), metadata.

* An admin grants (mints) the next serials of a published or closed collection to a user of
  the tenant, never beyond the edition size (the collection row is locked, and the database's
  CHECK backs the count) nor, under ``cn-licensed``, to a newcomer beyond the market's holder
  limit (``holder_room``); each serial is logged as a ``mint``.
* A token is read by users of its tenant (its owner, state and history from the log); the
  caller's own tokens are "my collection".
* Its owner gives a held token to another user of the tenant (转赠): ``recipient`` resolves
  who; the gift itself is the market's (``services.market.orders.gift``: the profile's hold,
  real-name and holder rules, the token row locked first so of two gifts of one token at once
  exactly one wins, the token's open orders cancelled in the same transaction).
* A token's metadata (the NFT metadata shape) is public.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.domain.mall.errors import TransitionRefused
from tokenmall.domain.mall.people import Role
from tokenmall.domain.market.records import OrderStatus as MarketOrderStatus
from tokenmall.domain.nfg import events
from tokenmall.domain.nfg.gifting import MAX_GIFT_HOLD_DAYS
from tokenmall.domain.nfg.lifecycle import TOKEN
from tokenmall.domain.nfg.records import Collection, CollectionStatus, Token, TokenState, token_key
from tokenmall.services.log import appending
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import validate
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg import holder_room, holds, registry
from tokenmall.services.nfg.errors import TokenLocked

MAX_GRANT = 1_000


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    index: int
    type: str
    time: str
    fields: dict[str, object]


@dataclass(frozen=True, slots=True)
class TokenView:
    collection: Collection
    token: Token
    history: list[HistoryEntry]


def _user(
    unit: MallUnitOfWork, tenant_id: str, user_id: str | None, email: str | None, prefix: str
) -> str:
    """A user of the tenant by id or email (exactly one given); refusals name the field."""
    if (user_id is None) == (email is None):
        raise InvalidInput(f"give either {prefix}user_id or {prefix}email", f"{prefix}user_id")
    if user_id is not None:
        found = unit.people.get_user(tenant_id, user_id) if len(user_id) <= 40 else None
        if found is None:
            raise InvalidInput(f"no user {user_id!r} in this shop", f"{prefix}user_id")
        return found.user_id
    assert email is not None
    cleaned = validate.email(email, f"{prefix}email")
    row = people_repo.login_row(unit.conn, tenant_id, cleaned)
    if row is None:
        raise InvalidInput(f"no user with the email {cleaned!r} in this shop", f"{prefix}email")
    return str(row[0])


def grant(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    *,
    user_id: str | None,
    email: str | None,
    count: int,
    config: LogConfig,
    now: datetime,
) -> list[Token]:
    """Mint the next ``count`` serials to a user (an airdrop); admins only. Under
    ``cn-licensed`` a user new to the collection is refused beyond its holder limit
    (``holder_room``: its newcomer lock is taken before the collection's row)."""
    require(caller, tenant_id, (Role.ADMIN,))
    limit = holder_room.limit_of(unit, tenant_id, collection_id)
    if limit is not None:
        holder_room.lock(unit, tenant_id, collection_id)
    collection = registry.find(unit, tenant_id, collection_id, lock=True)
    if collection.status == CollectionStatus.DRAFT:
        raise InvalidInput("publish the collection before granting its tokens", "collection_id")
    if not 1 <= count <= MAX_GRANT:
        raise InvalidInput(f"count must be between 1 and {MAX_GRANT}, got {count}", "count")
    if count > collection.available:
        raise InvalidInput(
            f"count: only {collection.available} of {collection.edition_size} serials are left",
            "count",
        )
    owner = _user(unit, tenant_id, user_id, email, "")
    holder_room.admit(unit, tenant_id, collection_id, owner, limit)
    serials = unit.nfg.take_serials(tenant_id, collection_id, count, from_reserved=False)
    if not serials:  # buyers of the drop took the places meanwhile
        raise InvalidInput(f"count: fewer than {count} serials are left", "count")
    tokens = [Token(tenant_id, collection_id, s, owner, TokenState.HELD, now) for s in serials]
    unit.nfg.add_tokens(tokens, now)
    holds.mark_minted(unit, tenant_id, collection_id, owner, now)
    appending.record(
        unit.log,
        config,
        tenant_id,
        [events.mint(collection_id, s, owner, "grant") for s in serials],
        now,
    )
    return tokens


def _serial(collection: Collection, serial: int) -> int:
    if not 1 <= serial <= collection.edition_size:
        raise InvalidInput(
            f"serial must be between 1 and {collection.edition_size}, got {serial}", "serial"
        )
    return serial


def find_token(
    unit: MallUnitOfWork,
    tenant_id: str,
    collection_id: str,
    serial: int,
    *,
    lock: bool = False,
) -> tuple[Collection, Token]:
    collection = registry.find(unit, tenant_id, collection_id)
    found = unit.nfg.get_token(
        tenant_id, collection_id, _serial(collection, serial), for_update=lock
    )
    if found is None:
        raise NotFound(f"token {token_key(collection_id, serial)} is not minted yet", "serial")
    return collection, found


def history(unit: MallUnitOfWork, tenant_id: str, key: str) -> list[HistoryEntry]:
    out = []
    for leaf in unit.log.of_subject(tenant_id, key):
        fields = json.loads(leaf.leaf.decode("utf-8"))
        extra = {
            k: v for k, v in fields.items() if k not in ("type", "tenant", "index", "time", "token")
        }
        out.append(HistoryEntry(leaf.index, leaf.type, str(fields.get("time", "")), extra))
    return out


def view(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    serial: int,
) -> TokenView:
    """A token with its owner, state and history; for users of its tenant."""
    require(caller, tenant_id, registry.EVERYONE)
    collection, token = find_token(unit, tenant_id, collection_id, serial)
    return TokenView(collection, token, history(unit, tenant_id, token.key))


@dataclass(frozen=True, slots=True)
class ManagedToken:
    """A token as its managers (an admin, the issuing merchant) see it in the console: its
    owner's display name beside the id, and its history from the log."""

    view: TokenView
    owner_name: str


def managed_token(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    serial: int,
) -> ManagedToken:
    """A token of a collection the caller manages; another collection's answers 404."""
    _, collection = registry.managed(unit, caller, tenant_id, collection_id)
    _, token = find_token(unit, tenant_id, collection.collection_id, serial)
    owner = unit.people.get_user(tenant_id, token.owner_id)
    name = owner.display_name if owner is not None and owner.display_name else ""
    return ManagedToken(TokenView(collection, token, history(unit, tenant_id, token.key)), name)


def mine(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str
) -> list[tuple[Collection, Token]]:
    """The caller's tokens (我的藏品), with their collections."""
    who = require(caller, tenant_id, registry.EVERYONE)
    tokens = unit.nfg.tokens_of_owner(tenant_id, who.subject_id)
    collections: dict[str, Collection] = {}
    out = []
    for token in tokens:
        if token.collection_id not in collections:
            collections[token.collection_id] = registry.find(unit, tenant_id, token.collection_id)
        out.append((collections[token.collection_id], token))
    return out


def of_collection(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    *,
    after: int,
    limit: int,
) -> tuple[Collection, list[Token]]:
    _, collection = registry.managed(unit, caller, tenant_id, collection_id)
    return collection, unit.nfg.tokens_of_collection(
        tenant_id, collection_id, after=after, limit=limit
    )


def recipient(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    to_user_id: str | None,
    to_email: str | None,
) -> str:
    """The user a caller names to receive a token (转赠), by id or email; never the caller.
    The gift itself follows the market's profile (``services.market.orders.gift``)."""
    who = require(caller, tenant_id, registry.EVERYONE)
    found = _user(unit, tenant_id, to_user_id, to_email, "to_")
    if found == who.subject_id:
        field = "to_user_id" if to_user_id is not None else "to_email"
        raise InvalidInput("you cannot give a token to yourself", field)
    return found


def public_token(
    unit: MallUnitOfWork, tenant_id: str, collection_id: str, serial: int
) -> tuple[Collection, Token]:
    """A token of a collection that is not a draft, for its public metadata."""
    collection, token = find_token(unit, tenant_id, collection_id, serial)
    if collection.status == CollectionStatus.DRAFT:
        raise NotFound(f"no collection {collection_id!r}", "collection_id")
    return collection, token


def gift_hold_days(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str) -> int:
    require(caller, tenant_id, (Role.ADMIN,))
    return unit.nfg.gift_hold_days(tenant_id)


def set_gift_hold_days(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, days: int, now: datetime
) -> int:
    require(caller, tenant_id, (Role.ADMIN,))
    if isinstance(days, bool) or not 0 <= days <= MAX_GIFT_HOLD_DAYS:
        raise InvalidInput(
            f"gift_hold_days must be between 0 and {MAX_GIFT_HOLD_DAYS}, got {days}",
            "gift_hold_days",
        )
    unit.nfg.set_gift_hold_days(tenant_id, days, now)
    return days


MAX_BURN_REASON = 200


def _burn_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    return validate.text(reason, "reason", max_length=MAX_BURN_REASON, allow_empty=True)


def _may_burn(who: Principal, token: Token) -> None:
    try:
        TOKEN.check(token.state, "burn", actor(who))
    except TransitionRefused as refused:
        raise TokenLocked(str(refused), "token") from None


def burnable(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    serial: int,
    *,
    reason: str | None,
) -> ManagedToken:
    """What ``burn`` would refuse, checked without changing anything (the console asks for a
    confirmation first): the caller manages the collection, the reason fits, the token is held."""
    found = managed_token(unit, caller, tenant_id, collection_id, serial)
    _burn_reason(reason)
    who = require(caller, tenant_id, registry.ISSUERS)
    _may_burn(who, found.view.token)
    return found


def burn(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    serial: int,
    *,
    reason: str | None,
    config: LogConfig,
    now: datetime,
) -> tuple[Collection, Token]:
    """``held → burned`` by an admin or the collection's issuing merchant (a good destroyed,
    lost or taken back): the serial stays burned, never reissued. The collection and token
    rows are locked first; an open agreement on the token is closed; a ``burn`` leaf (``by``,
    ``owner``, and ``reason`` if given) is appended in the same transaction."""
    who, _ = registry.managed(unit, caller, tenant_id, collection_id, lock=True)
    reason = _burn_reason(reason)
    _, token = find_token(unit, tenant_id, collection_id, serial, lock=True)
    _may_burn(who, token)
    unit.nfg.move_token(tenant_id, collection_id, serial, state=TokenState.BURNED, now=now)
    unit.nfg.count_burned(tenant_id, collection_id)
    close_market_orders(unit, tenant_id, collection_id, serial, "burned", now)
    fields: dict[str, object] = {"by": who.subject_id, "owner": token.owner_id}
    if reason:
        fields["reason"] = reason
    appending.record(
        unit.log,
        config,
        tenant_id,
        [events.token_event(events.BURN, collection_id, serial, **fields)],
        now,
    )
    return find_token(unit, tenant_id, collection_id, serial)


def close_market_orders(
    unit: MallUnitOfWork, tenant_id: str, collection_id: str, serial: int, why: str, now: datetime
) -> None:
    """The token leaves the market (redeemed, burned): its open orders are closed in this
    transaction. A listing locks its token, so these are agreements (协议转让), which do not,
    and may not outlive it; no money is held by them."""
    for order in unit.market.open_orders_of_token(
        tenant_id, collection_id, serial, for_update=True
    ):
        unit.market.close_order(tenant_id, order.order_id, MarketOrderStatus.CANCELLED, why, now)
