"""Persisting an ``Outcome``: each effect becomes the row change it describes, and the token's
story goes to the transparency log. No rule is decided here."""

from __future__ import annotations

from datetime import datetime

from tokenmall.adapters.db.market.store import OrderRow
from tokenmall.domain.log.leaves import Event
from tokenmall.domain.market import Outcome
from tokenmall.domain.market import effects as fx
from tokenmall.domain.nfg import events
from tokenmall.domain.nfg.records import TokenState, parse_token_key
from tokenmall.services.log import appending
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.uow import MallUnitOfWork


class Unsupported(RuntimeError):
    """An effect this service does not persist yet (a programming error, never user input)."""


def _key(token: str) -> tuple[str, int]:
    parsed = parse_token_key(token)
    if parsed is None:
        raise ValueError(f"bad token key {token!r}")
    return parsed


def persist(
    unit: MallUnitOfWork,
    tenant_id: str,
    outcome: Outcome,
    now: datetime,
    config: LogConfig,
    *,
    actor: str,
) -> None:
    """Apply ``outcome.effects`` to the database in order, then log what tokens went through."""
    market, nfg = unit.market, unit.nfg
    logged: list[Event] = []
    opened: dict[int, fx.OrderOpened] = {}
    for effect in outcome.effects:
        if isinstance(effect, fx.OrderOpened):
            serial = None if effect.token is None else _key(effect.token)[1]
            opened[effect.id] = effect
            market.add_order(
                OrderRow(
                    tenant_id,
                    effect.id,
                    effect.kind,
                    effect.user,
                    effect.collection,
                    serial,
                    effect.to,
                    effect.price,
                    "open",
                    None,
                    effect.expires_day,
                    now,
                )
            )
            if effect.kind == "listing" and effect.token is not None:
                cid, serial_ = _key(effect.token)
                logged.append(
                    events.token_event(
                        events.LIST,
                        cid,
                        serial_,
                        seller=effect.user,
                        price=effect.price,
                        order=effect.id,
                    )
                )
        elif isinstance(effect, fx.OrderClosed):
            market.close_order(tenant_id, effect.id, effect.status.value, effect.reason, now)
            row = market.order(tenant_id, effect.id)
            if (
                row is not None
                and row.kind == "listing"
                and row.serial is not None
                and effect.reason != "filled"
            ):
                logged.append(
                    events.token_event(
                        events.DELIST,
                        row.collection_id,
                        row.serial,
                        order=effect.id,
                        reason=effect.reason,
                    )
                )
        elif isinstance(effect, fx.TokenStateChanged):
            cid, serial = _key(effect.token)
            nfg.move_token(tenant_id, cid, serial, state=TokenState(effect.state), now=now)
        elif isinstance(effect, fx.OwnerChanged):
            cid, serial = _key(effect.token)
            nfg.move_token(
                tenant_id, cid, serial, state=TokenState.HELD, now=now, owner_id=effect.owner
            )
            if effect.previous is not None:  # they held it: still counted once it is gone
                market.add_holder(tenant_id, cid, effect.previous)
            if effect.via == "gift" and effect.previous is not None:
                logged.append(events.transfer(cid, serial, effect.previous, effect.owner))
        elif isinstance(effect, fx.HolderAdded):
            market.add_holder(tenant_id, effect.collection, effect.user)
        elif isinstance(effect, fx.HoldMarked):
            market.mark(tenant_id, effect.collection, effect.user, effect.side, effect.trading_day)
        elif isinstance(effect, fx.CollectionChanged):
            continue  # halts are written by the settings use case; prices live in trades
        else:
            raise Unsupported(f"{type(effect).__name__} is not persisted by {actor}")
    if logged:
        appending.record(unit.log, config, tenant_id, logged, now)
