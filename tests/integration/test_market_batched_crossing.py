"""New orders that cross the book (an immediate bid, a crossing listing) placed through the
tenant's unit writer (``batched.place_batched``, ``PlaceUnit``), on SQLite and PostgreSQL:
bids queued in ONE writer batch keep price-time priority and trade at the resting listing's
price; a self-trade is refused alone with nothing changed; a bid that finds no listing left
rests with its cash reserved in the same batch; the writer's book follows every journal; the
ledger stays balanced and the registry replays from the log. On PostgreSQL, a crossing order
whose resting order's token, resting bid or the order counter another transaction holds is
never waited for in the writer (``TradeBusy``) and is placed in a transaction of its own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from test_unit_writer import tenant_locked, wait_all

from tokenmall.adapters.db.store import Store
from tokenmall.bench import market_race
from tokenmall.bootstrap import log_config
from tokenmall.domain.market import Code, MarketRefused
from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.records import Token, TokenState
from tokenmall.services.ledger.audit import audit
from tokenmall.services.log.appending import record
from tokenmall.services.log.verify import recompute
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.market import batched, orders, trading
from tokenmall.services.market.orders import Placed, TradeBusy
from tokenmall.services.nfg.state_check import check_tenant
from tokenmall.services.writers.units import UnitWriters, writers_for

FUNDS = market_race.FUNDS


@pytest.fixture
def market(store: Store) -> Any:
    config = log_config("a-test-secret-of-enough-length-for-hmac", "log.test")
    return market_race._Setup(Database(store.engine), config, 40, 5)


def _answer(unit: MallUnitOfWork, placed: Placed) -> str:
    return f"{placed.order_id}:{','.join(map(str, placed.trades))}"


def _listing(s: Any, owner: str, price: int) -> int:
    """A token minted to ``owner`` and listed at ``price`` fen: the listing's order id."""
    now = datetime.now(UTC)
    t, cid = s.tenant_id, s.collection_id
    with s.db.unit() as unit:
        (serial,) = unit.nfg.take_serials(t, cid, 1, from_reserved=False)
        unit.nfg.add_tokens([Token(t, cid, serial, owner, TokenState.HELD, now)], now)
        record(unit.log, s.config, t, [ev.mint(cid, serial, owner, "grant")], now)
    with s.db.unit() as unit:
        placed = orders.list_token(
            unit, market_race._member(t, owner), t, cid, serial, price, now=now,
            config=s.config,
        )  # fmt: skip
    assert placed.order_id is not None
    return placed.order_id


def _bid_unit(s: Any, user: str, price: int) -> batched.PlaceUnit:
    t, now = s.tenant_id, datetime.now(UTC)

    def place(unit: MallUnitOfWork, at: datetime, wait: bool) -> Placed:
        return trading.bid(
            unit, market_race._member(t, user), t, s.collection_id, price, now=at,
            config=s.config, wait=wait,
        )  # fmt: skip

    return batched.PlaceUnit(t, market_race._member(t, user), place, now, _answer, None)


def _state(s: Any) -> dict[str, Any]:
    """Cash of everyone, the escrow, every order's status and every trade (the resting order,
    the buyer, the price) in the ledger's order."""
    store = Store(s.db.engine)
    with store.read() as conn:
        state, _ = store.load_state(conn, s.tenant_id)
        held = {h.name: h.cash for h in store.load_holders(conn, s.tenant_id, s.users)}
        statuses = conn.execute(
            text("SELECT order_id, kind, status FROM market_orders WHERE tenant_id = :t "
                 "ORDER BY order_id"), {"t": s.tenant_id},
        ).all()  # fmt: skip
        trades = conn.execute(
            text("SELECT trade_id, buyer_id, price FROM market_trades WHERE tenant_id = :t "
                 "ORDER BY journal_id"), {"t": s.tenant_id},
        ).all()  # fmt: skip
    return {
        "cash": {u: held.get(u, 0) for u in s.users},
        "escrow": state.market_escrow,
        "orders": [tuple(r) for r in statuses],
        "trades": [tuple(r) for r in trades],
    }


def _clean(s: Any) -> None:
    store = Store(s.db.engine)
    (report,) = audit(store, s.tenant_id)
    assert report.findings == []
    with s.db.reading() as reader:
        leaves = list(enumerate(recompute(reader.log, s.tenant_id).fields))
        assert check_tenant(reader, s.tenant_id, leaves) is None
        assert reader.market.best_open(s.tenant_id, s.collection_id, "listing") is None


def test_crossing_bids_in_one_writer_batch_keep_price_time_priority(
    store: Store, db_url: str, market: Any
) -> None:
    s = market
    b = s.buyers
    first = _listing(s, s.seller, 10_000)
    cheaper = _listing(s, s.seller, 9_500)
    last = _listing(s, s.seller, 10_000)
    writers = UnitWriters(store)
    with tenant_locked(db_url, s.tenant_id):
        head = writers.submit(_bid_unit(s, b[0], 10_000))  # the cheapest listing, at 95.00
        time.sleep(0.3)  # the writer took it and waits for the tenant's lock
        queued = [
            _bid_unit(s, b[1], 12_000),  # the earlier of the two at 100.00, at 100.00
            _bid_unit(s, s.seller, 10_000),  # its own listing is the best left: self_trade
            _bid_unit(s, b[2], 10_000),  # the last listing
            _bid_unit(s, b[3], 10_000),  # none left: rests, 100.00 reserved
        ]
        futures = [writers.submit(u) for u in queued]
        time.sleep(0.2)
    outcomes = wait_all([head, *futures])
    writer = writers.writer(s.tenant_id)
    assert writer is not None
    # The queued ones joined the head's batch when the lock was granted: ONE batch, in order.
    assert (writer.batches, writer.units) == (1, 5)
    good = [value for ok, value in outcomes if ok]
    assert not outcomes[2][0]
    refusal = outcomes[2][1]
    assert isinstance(refusal, MarketRefused)
    assert refusal.code == Code.SELF_TRADE
    assert [g.split(":")[1] for g in good] == [str(cheaper), str(first), str(last), ""]
    after = _state(s)
    assert [(buyer, price) for _, buyer, price in after["trades"]] == [
        (b[0], 9_500), (b[1], 10_000), (b[2], 10_000),
    ]  # fmt: skip
    cash = after["cash"]
    assert (cash[b[0]], cash[b[1]], cash[b[2]]) == (FUNDS - 9_500, FUNDS - 10_000, FUNDS - 10_000)
    assert (cash[b[3]], after["escrow"]) == (FUNDS - 10_000, 10_000)
    assert cash[b[4]] == FUNDS
    # the seller got the three prices less 2% fee and 5% royalty, each floored
    assert cash[s.seller] == sum(p - p * 2 // 100 - p * 5 // 100 for p in (9_500, 10_000, 10_000))
    resting = [o for o in after["orders"] if o[2] == "open"]
    assert [kind for _, kind, _ in resting] == ["bid"]  # the last bid alone: the book uncrossed
    # the writer's book followed: a later crossing bid books the next journal without a clash
    again = _listing(s, s.seller, 10_500)  # above the resting bid: it rests
    assert writers.call(_bid_unit(s, b[4], 10_500)).endswith(f":{again}")
    assert _state(s)["cash"][b[4]] == FUNDS - 10_500
    _clean(s)


def test_a_crossing_listing_fills_the_best_bid_in_the_writer_at_the_bids_price(
    store: Store, market: Any
) -> None:
    s, db = market, Database(store.engine)
    t, now = s.tenant_id, datetime.now(UTC)
    with db.unit() as unit:
        trading.bid(unit, market_race._member(t, s.buyers[0]), t, s.collection_id, 9_000,
                    now=now, config=s.config)  # fmt: skip
    with db.unit() as unit:
        best = trading.bid(unit, market_race._member(t, s.buyers[1]), t, s.collection_id, 11_000,
                           now=now, config=s.config)  # fmt: skip
    order_id = s.listing(s.seller)  # at 100.00: crosses the 110.00 bid, which rests no more
    after = _state(s)
    assert [(buyer, price) for _, buyer, price in after["trades"]] == [(s.buyers[1], 11_000)]
    assert after["escrow"] == 9_000  # the lower bid still rests
    assert (best.order_id, "filled") in [(o, st) for o, _, st in after["orders"]]
    assert (order_id, "filled") in [(o, st) for o, _, st in after["orders"]]
    # the same through the writer: the next listing at 90.00 fills the 90.00 bid, in a batch
    with db.unit() as unit:
        (serial,) = unit.nfg.take_serials(t, s.collection_id, 1, from_reserved=False)
        unit.nfg.add_tokens([Token(t, s.collection_id, serial, s.seller, TokenState.HELD, now)],
                            now)  # fmt: skip
        record(unit.log, s.config, t, [ev.mint(s.collection_id, serial, s.seller, "grant")], now)

    def place(unit: MallUnitOfWork, at: datetime, wait: bool) -> Placed:
        return orders.list_token(
            unit, market_race._member(t, s.seller), t, s.collection_id, serial, 9_000, now=at,
            config=s.config, wait=wait,
        )  # fmt: skip

    done = batched.place_batched(
        db, market_race._member(t, s.seller), t, (s.collection_id, "listing", 9_000), place,
        now=now, answer=_answer,
    )  # fmt: skip
    writer = writers_for(db.engine).writer(t)
    assert writer is not None
    assert writer.units >= 1  # it went through the writer
    final = _state(s)
    assert [p for _, _, p in final["trades"]] == [11_000, 9_000]
    assert final["escrow"] == 0
    assert done.body.split(":")[1] != ""
    assert not [o for o in final["orders"] if o[2] == "open"]
    _clean(s)


@contextmanager
def _held(store: Store, sql: str, params: dict[str, Any]) -> Iterator[None]:
    """A row locked ``FOR UPDATE`` by another transaction while the block runs."""
    with store.transaction() as conn:
        conn.execute(text(sql + " FOR UPDATE"), params)
        yield


def test_a_crossing_order_never_waits_in_the_writer_for_a_row_another_holds(
    store: Store, market: Any
) -> None:
    if not store.postgres:
        pytest.skip("SQLite has one writer: no row is ever held by another transaction")
    s, db = market, Database(store.engine)
    t = s.tenant_id
    order_id = s.listing(s.seller)
    with db.reading() as reader:
        row = reader.market.order(t, order_id)
    assert row is not None
    token_sql = ("SELECT serial FROM nfg_tokens WHERE tenant_id = :t AND collection_id = :c "
                 "AND serial = :s")  # fmt: skip
    rows = {
        "the listing's token": (token_sql, {"t": t, "c": s.collection_id, "s": row.serial}),
        "the order counter": (
            "SELECT tenant_id FROM market_settings WHERE tenant_id = :t",
            {"t": t},
        ),
    }
    writers = UnitWriters(store)
    before = _state(s)
    for what, (sql, params) in rows.items():
        with _held(store, sql, params), pytest.raises(TradeBusy):
            writers.call(_bid_unit(s, s.buyers[0], 10_000))
        assert _state(s) == before, what  # nothing changed
    # a crossing listing whose best bid another transaction holds (a cancel of it, say)
    with db.unit() as unit:
        bid = trading.bid(unit, market_race._member(t, s.buyers[1]), t, s.collection_id, 9_000,
                          now=datetime.now(UTC), config=s.config)  # fmt: skip
    before = _state(s)
    with db.unit() as unit:
        (serial,) = unit.nfg.take_serials(t, s.collection_id, 1, from_reserved=False)
        now = datetime.now(UTC)
        unit.nfg.add_tokens([Token(t, s.collection_id, serial, s.seller, TokenState.HELD, now)],
                            now)  # fmt: skip

    def place(unit: MallUnitOfWork, at: datetime, wait: bool) -> Placed:
        return orders.list_token(
            unit, market_race._member(t, s.seller), t, s.collection_id, serial, 8_000, now=at,
            config=s.config, wait=wait,
        )  # fmt: skip

    member = market_race._member(t, s.seller)
    bid_sql = "SELECT order_id FROM market_orders WHERE tenant_id = :t AND order_id = :o"
    with _held(store, bid_sql, {"t": t, "o": bid.order_id}), pytest.raises(TradeBusy):
        writers.call(batched.PlaceUnit(t, member, place, now, _answer, None))
    assert _state(s) == before
    # released: place_batched places it (through the writer, or on its own when busy)
    done = batched.place_batched(
        db, member, t, (s.collection_id, "listing", 8_000), place, now=now, answer=_answer
    )
    assert done.body.endswith(f":{bid.order_id}")  # filled the bid at its price, 90.00
    assert _state(s)["trades"][-1][1:] == (s.buyers[1], 9_000)
    assert _state(s)["escrow"] == 0
