"""Persisting an ``Outcome``: each effect becomes the row change it describes, and the token's
story goes to the transparency log. No rule is decided here.

Money becomes ledger journals in the same transaction (``services.mall.journal``), each keyed
by the market order it belongs to and why (``market:<order>:reserve``, ``…:release``,
``…:trade``), so a replay of the same step changes nothing. A trade's three moves (the
seller's proceeds, the fee, the royalty) are ONE journal (``MarketTrade``), written with the
``Traded`` effect that closes them; the trade's row and its ``sale`` leaf go with it. The
ledger checks the cash again under its own lock: a shortfall there (a race the market's read
could not see) is ``insufficient_funds`` and the whole transaction rolls back.

The one lock order of the market: a collection's newcomer lock (only for a recipient new to
a collection with a holder limit: ``newcomers.py``), then a token row, then its orders, then
the tenant's order counter, then the tenant's ledger lock, then the holders' and T+N marks'
rows. An outcome that
writes a holder or a mark (a trade, a gift) or books a trade takes the ledger lock before its
first row (after the token's and the orders' locks its use case took): trades in the tenant's
writer hold the ledger's lock first and write the same rows (``services/market/batched.py``),
so a gift X→Y and a trade Y→X recording the same two new holders in opposite order never wait
for each other's row while holding one. Inside the writer (``unit.writer_book``) the journals go
through the writer's book."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tokenmall.adapters.db.market.store import OrderRow
from tokenmall.adapters.db.market.trades import TradeRow
from tokenmall.domain.errors import InsufficientBalance
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.log.leaves import Event
from tokenmall.domain.market import Code, MarketRefused, Outcome, Purse
from tokenmall.domain.market import effects as fx
from tokenmall.domain.market.records import Trade
from tokenmall.domain.nfg import events
from tokenmall.domain.nfg.records import TokenState, parse_token_key
from tokenmall.services.log import appending
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import journal
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.market.state import business_day

Watch = Callable[[str, str], "str | None"]  # (buyer, seller) -> why a trade is flagged

# Effects whose rows (holders, T+N marks, a trade's journal) trades in the tenant's writer
# write too: an outcome with one takes the tenant's ledger lock before its first row.
_SHARED = (fx.Traded, fx.OwnerChanged, fx.HolderAdded, fx.HoldMarked)


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
    watch: Watch | None = None,
) -> list[int]:
    """Apply ``outcome.effects`` to the database in order, then log what tokens went through.
    Returns the ids of the trades it settled. ``watch`` flags a trade (the wash-trade watch)."""
    market, nfg = unit.market, unit.nfg
    logged: list[Event] = []
    opened: dict[int, fx.OrderOpened] = {}
    money = _Money(unit, tenant_id)
    trades: list[int] = []
    holders: list[tuple[str, str]] = []
    trading_day = 0
    if unit.writer_book is None and any(isinstance(e, _SHARED) for e in outcome.effects):
        # A trade's or a gift's holders and T+N marks are rows trades in the tenant's writer
        # write too, under the ledger's lock it holds first: here the same lock before them.
        journal.lock_ledger(unit.conn, tenant_id)
    for effect in outcome.effects:
        if isinstance(effect, fx.OrderOpened):
            serial = None if effect.token is None else _key(effect.token)[1]
            opened[effect.id] = effect
            money.order = effect.id
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
            money.order = effect.id
            if not market.close_order(
                tenant_id, effect.id, effect.status.value, effect.reason, now
            ):
                raise MarketRefused(Code.NOT_FOUND, f"order {effect.id} is no longer open", "order")
            # a filled order's close is logged with its sale: no row to read again for it
            row = None if effect.reason == "filled" else market.order(tenant_id, effect.id)
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
            trading_day = effect.trading_day
            cid, serial = _key(effect.token)
            nfg.move_token(
                tenant_id,
                cid,
                serial,
                state=TokenState.HELD,
                now=now,
                owner_id=effect.owner,
                traded=effect.via != "gift",
            )
            if effect.previous is not None:  # they held it: still counted once it is gone
                holders.append((cid, effect.previous))
            if effect.via == "gift" and effect.previous is not None:
                logged.append(events.transfer(cid, serial, effect.previous, effect.owner))
        elif isinstance(effect, fx.HolderAdded):
            holders.append((effect.collection, effect.user))
        elif isinstance(effect, fx.HoldMarked):
            market.mark(tenant_id, effect.collection, effect.user, effect.side, effect.trading_day)
        elif isinstance(effect, fx.CollectionChanged):
            continue  # halts are written by the settings use case; prices live in trades
        elif isinstance(effect, fx.Money):
            money.move(effect)
        elif isinstance(effect, fx.Traded):
            t = effect.trade
            journal_id = money.trade(t)
            cid, serial = _key(t.token)
            reason = None if watch is None else watch(t.buyer, t.seller)
            taker = outcome.order if outcome.order != t.order else None
            market.add_trade(
                TradeRow(
                    tenant_id, t.order, t.order, taker, actor, cid, serial, t.seller, t.buyer,
                    t.issuer, t.price, t.fee, t.royalty, business_day(now),
                    trading_day, journal_id, reason is not None, reason, now,
                )
            )  # fmt: skip
            trades.append(t.order)
            logged.append(
                events.token_event(
                    events.SALE, cid, serial, **{"from": t.seller, "to": t.buyer},
                    price=t.price, fee=t.fee, royalty=t.royalty, order=t.order,
                )
            )  # fmt: skip
        else:
            raise Unsupported(f"{type(effect).__name__} is not persisted by {actor}")
    money.done()
    market.add_holders(tenant_id, holders)  # one statement for the outcome's holders
    if logged:
        appending.record(unit.log, config, tenant_id, logged, now)
    return trades


def release_bid(unit: MallUnitOfWork, tenant_id: str, order_id: int, user: str, fen: int) -> None:
    """A bid closed outside an action (a profile change): its reservation back to its user."""
    _Money(unit, tenant_id, order_id).move(
        fx.Money((Purse.RESERVED, user), (Purse.CASH, user), fen, "release")
    )


@dataclass
class _Money:
    """The money effects of one outcome as ledger journals (one per reserve, release, trade)."""

    unit: MallUnitOfWork
    tenant_id: str
    order: int | None = None  # the order the last order effect named (reserve, release)
    pending: list[fx.Money] = field(default_factory=list)  # a trade's moves, until Traded

    def _run(self, command: c.Command) -> int | None:
        try:
            result = journal.run(self.unit.conn, command, self.unit.writer_book)
        except InsufficientBalance as short:
            raise MarketRefused(Code.INSUFFICIENT_FUNDS, str(short), "price") from None
        found = result.get("journal_id")
        return None if found is None else int(found)

    def move(self, m: fx.Money) -> None:
        if m.why in ("trade", "fee", "royalty"):
            self.pending.append(m)
            return
        if m.why not in ("reserve", "release") or self.order is None:
            raise Unsupported(f"a money move for {m.why!r} is not persisted here")
        user = m.source[1] if m.why == "reserve" else m.dest[1]
        cls = c.MarketReserve if m.why == "reserve" else c.MarketRelease
        self._run(
            cls(
                tenant_id=self.tenant_id,
                idempotency_key=f"market:{self.order}:{m.why}",
                user=user,
                ref=f"order:{self.order}",
                amount_fen=m.amount,
            )
        )

    def trade(self, t: Trade) -> int | None:
        moves, self.pending = self.pending, []
        if sum(m.amount for m in moves) != t.price:
            raise Unsupported(f"trade of order {t.order}: moves do not add up to its price")
        from_escrow = any(m.source[0] is Purse.RESERVED for m in moves)
        return self._run(
            c.MarketTrade(
                tenant_id=self.tenant_id,
                idempotency_key=f"market:{t.order}:trade",
                buyer=t.buyer,
                seller=t.seller,
                ref=f"trade:{t.order}",
                price_fen=t.price,
                fee_fen=t.fee,
                royalty_fen=t.royalty,
                issuer=t.issuer,
                from_escrow=from_escrow,
            )
        )

    def done(self) -> None:
        if self.pending:
            raise Unsupported("money moves of a trade without its trade")
