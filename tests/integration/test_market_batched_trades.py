"""Market trades settled through the tenant's unit writer (``services/market/batched.py``), on
SQLite and PostgreSQL: many trades of one tenant share ONE writer batch (one transaction); a
refused one (a listing another trade of the batch took first, an unknown order, a buyer
without the cash) is rolled back alone with the market's own code, and the others commit
with their money, owners and log leaves; the writer's book follows, so a later trade books
the next journal id; the ledger stays balanced and the registry replays from the log."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from test_unit_writer import tenant_locked, wait_all

from tokenmall.adapters.db.store import Store
from tokenmall.bench import market_race
from tokenmall.bootstrap import log_config
from tokenmall.domain.market import Code, MarketRefused
from tokenmall.services.ledger.audit import audit
from tokenmall.services.log.verify import recompute
from tokenmall.services.mall.uow import Database, MallUnitOfWork
from tokenmall.services.market import batched
from tokenmall.services.market.orders import Placed
from tokenmall.services.nfg.state_check import check_tenant
from tokenmall.services.writers.units import UnitWriters

PRICE = market_race.PRICE


def _answer(unit: MallUnitOfWork, placed: Placed) -> str:
    return f"{placed.owner_id}:{','.join(map(str, placed.trades))}"


def _cash(store: Store, tenant_id: str, users: list[str]) -> dict[str, int]:
    with store.read() as conn:
        held = {h.name: h.cash for h in store.load_holders(conn, tenant_id, users)}
    return {u: held.get(u, 0) for u in users}


def _owner(db: Database, tenant_id: str, collection_id: str, order_id: int) -> str:
    with db.reading() as unit:
        row = unit.market.order(tenant_id, order_id)
        assert row is not None
        assert row.serial is not None
        token = unit.nfg.get_token(tenant_id, collection_id, row.serial)
    assert token is not None
    return token.owner_id


def _journals(store: Store, tenant_id: str) -> int:
    with store.read() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM journals WHERE tenant_id = :t"), {"t": tenant_id}
            ).scalar_one()
        )


@pytest.fixture
def market(store: Store) -> Any:
    config = log_config("a-test-secret-of-enough-length-for-hmac", "log.test")
    return market_race._Setup(Database(store.engine), config, 40, 6)


def test_many_trades_share_one_writer_batch_and_a_refused_one_leaves_the_others(
    store: Store, db_url: str, market: Any
) -> None:
    s, db = market, Database(store.engine)
    t, now = s.tenant_id, datetime.now(UTC)
    listed = [s.listing(s.seller) for _ in range(5)]
    of_buyer = s.listing(s.buyers[0])  # a member without cash cannot take it
    with db.unit() as setup:
        poor = s._user(setup, 99, "not-a-password-hash", now)
    journals_before = _journals(store, t)
    writers = UnitWriters(store)

    def unit(buyer: str, order_id: int) -> batched.TradeUnit:
        who = market_race._member(t, buyer)
        return batched.TradeUnit(t, who, order_id, "take", now, s.config, _answer, None)

    with tenant_locked(db_url, t):
        first = writers.submit(unit(s.buyers[0], listed[0]))
        time.sleep(0.3)  # the writer took it and waits for the tenant's lock
        queued = [
            unit(s.buyers[1], listed[1]),
            unit(s.buyers[2], listed[1]),  # the same listing: the one before took it
            unit(s.buyers[2], listed[2]),
            unit(s.buyers[3], 999_999),  # no such order
            unit(poor, of_buyer),  # no cash
            unit(s.buyers[4], listed[3]),
            unit(s.buyers[5], listed[4]),
        ]
        futures = [writers.submit(u) for u in queued]
        time.sleep(0.2)
    outcomes = wait_all([first, *futures])
    writer = writers.writer(t)
    assert writer is not None
    # The queued ones joined the first's batch when the lock was granted: ONE batch.
    assert (writer.batches, writer.units) == (1, 1 + len(queued))
    refused = {n: value.code for n, (good, value) in enumerate(outcomes) if not good}
    assert all(isinstance(v, MarketRefused) for good, v in outcomes if not good)
    assert refused == {2: Code.NOT_FOUND, 4: Code.NOT_FOUND, 5: Code.INSUFFICIENT_FUNDS}
    winners = {0: (0, listed[0]), 1: (1, listed[1]), 3: (2, listed[2]), 6: (4, listed[3]),
               7: (5, listed[4])}  # fmt: skip
    for n, (buyer, order_id) in winners.items():
        assert outcomes[n] == (True, f"{s.buyers[buyer]}:{order_id}")
        assert _owner(db, t, s.collection_id, order_id) == s.buyers[buyer]
    assert _owner(db, t, s.collection_id, of_buyer) == s.buyers[0]
    cash = _cash(store, t, [*s.buyers, s.seller, poor])
    spent = {s.buyers[b]: PRICE for b, _ in winners.values()}
    for buyer in s.buyers:
        assert cash[buyer] == market_race.FUNDS - spent.get(buyer, 0)
    assert cash[s.seller] > 0
    assert cash[poor] == 0
    assert _journals(store, t) == journals_before + len(winners)  # one journal a trade
    # the writer's book followed: a later trade books the next journal without a clash
    later = s.listing(s.seller)
    assert writers.call(unit(s.buyers[3], later)) == f"{s.buyers[3]}:{later}"
    assert _journals(store, t) == journals_before + len(winners) + 1
    (report,) = audit(store, t)
    assert report.findings == []
    with db.reading() as reader:
        leaves = list(enumerate(recompute(reader.log, t).fields))
        assert check_tenant(reader, t, leaves) is None


def test_a_trade_whose_token_another_transaction_holds_settles_on_its_own(
    store: Store, market: Any
) -> None:
    s, db = market, Database(store.engine)
    t, now = s.tenant_id, datetime.now(UTC)
    order_id = s.listing(s.seller)
    with db.reading() as reader:
        row = reader.market.order(t, order_id)
    assert row is not None
    assert row.serial is not None
    if not store.postgres:
        pytest.skip("SQLite has one writer: a token is never held by another transaction")
    with store.transaction() as conn:
        conn.execute(
            text(
                "SELECT serial FROM nfg_tokens WHERE tenant_id = :t AND collection_id = :c "
                "AND serial = :s FOR UPDATE"
            ),
            {"t": t, "c": s.collection_id, "s": row.serial},
        )
        writers = UnitWriters(store)
        unit = batched.TradeUnit(
            t, market_race._member(t, s.buyers[0]), order_id, "take", now, s.config, _answer, None
        )
        with pytest.raises(batched.TradeBusy):
            writers.call(unit)
    # released: settle_batched falls back to a transaction of its own when busy; here free
    done = batched.settle_batched(
        db, market_race._member(t, s.buyers[0]), t, order_id, "take", now=now, config=s.config,
        answer=_answer,
    )  # fmt: skip
    assert done.body == f"{s.buyers[0]}:{order_id}"
    assert _owner(db, t, s.collection_id, order_id) == s.buyers[0]
