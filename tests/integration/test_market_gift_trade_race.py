"""A gift (转赠) in a transaction of its own racing a trade in the tenant's writer, on
PostgreSQL: the gift's and the trade's holder rows are new rows of the same two users,
written in opposite order (the gift X→Y records X then Y, Y's listing taken by X records Y
then X). Both take the tenant's ledger lock before their first holder row (the one lock
order, ``services/market/persist.py``), so neither waits for the other's row while holding
one: no deadlock, no error, every gift and trade done, the ledger balanced and the registry
equal to the replay of the log."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from tokenmall.adapters.db.market.store import CollectionSettings
from tokenmall.adapters.db.market.tables import market_holders
from tokenmall.adapters.db.store import Store
from tokenmall.bench import market_race
from tokenmall.bootstrap import log_config
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.records import Token, TokenState
from tokenmall.services.ledger.audit import audit
from tokenmall.services.log.appending import record
from tokenmall.services.log.verify import recompute
from tokenmall.services.mall import journal, passwords
from tokenmall.services.mall.uow import Database
from tokenmall.services.market import batched, orders
from tokenmall.services.nfg.state_check import check_tenant

ROUNDS = 40


def _mint(s: Any, owner: str) -> int:
    now = datetime.now(UTC)
    t, cid = s.tenant_id, s.collection_id
    with s.db.unit() as unit:
        (serial,) = unit.nfg.take_serials(t, cid, 1, from_reserved=False)
        unit.nfg.add_tokens([Token(t, cid, serial, owner, TokenState.HELD, now)], now)
        record(unit.log, s.config, t, [ev.mint(cid, serial, owner, "grant")], now)
    return int(serial)


def _owner(db: Database, s: Any, serial: int) -> str:
    with db.reading() as unit:
        token = unit.nfg.get_token(s.tenant_id, s.collection_id, serial)
    assert token is not None
    return token.owner_id


def test_gifts_racing_writer_trades_of_the_same_holders_never_deadlock(
    store: Store,
) -> None:
    if not store.postgres:
        pytest.skip("SQLite has one writer: two transactions never hold rows at once")
    config = log_config("a-test-secret-of-enough-length-for-hmac", "log.test")
    db = Database(store.engine)
    s = market_race._Setup(db, config, 4 * ROUNDS + 4, 1)
    t, now = s.tenant_id, datetime.now(UTC)
    with db.unit() as unit:
        unit.market.put_collection(
            CollectionSettings(t, s.collection_id, 20_000, 50_000, gift_hold_days=0), now
        )
    passwords.configure(fast_for_tests=True)
    rounds = []
    for n in range(ROUNDS):
        with db.unit() as unit:
            x = s._user(unit, 100 + 2 * n, "not-a-password-hash", now)
            y = s._user(unit, 101 + 2 * n, "not-a-password-hash", now)
            journal.run(unit.conn, c.MarketDeposit(
                tenant_id=t, idempotency_key=f"race:{x}", user=x, ref=f"dep_{x}",
                amount_fen=market_race.FUNDS,
            ))  # fmt: skip
        gifted = _mint(s, x)
        listed = s.listing(y)
        rounds.append((x, y, gifted, listed))

    def give(x: str, y: str, serial: int, delay: float) -> str:
        time.sleep(delay)  # swept across the trade's window, round by round
        with db.unit() as unit:
            orders.gift(
                unit, market_race._member(t, x), t, s.collection_id, serial, y,
                now=datetime.now(UTC), config=config,
            )  # fmt: skip
        return "gift"

    def take(x: str, order_id: int) -> str:
        done = batched.settle_batched(
            db, market_race._member(t, x), t, order_id, "take", now=datetime.now(UTC),
            config=config, answer=lambda *_: "taken",
        )  # fmt: skip
        return done.body

    with ThreadPoolExecutor(2) as pool:
        for n, (x, y, gifted, listed) in enumerate(rounds):
            delay = (n % 10) * 0.003
            both = [pool.submit(give, x, y, gifted, delay), pool.submit(take, x, listed)]
            assert [f.result(60) for f in both] == ["gift", "taken"]
    for x, y, gifted, listed in rounds:
        assert _owner(db, s, gifted) == y
        with db.reading() as unit:
            row = unit.market.order(t, listed)
        assert row is not None
        assert row.serial is not None
        assert _owner(db, s, row.serial) == x
    with store.read() as conn:
        holders = set(
            conn.execute(
                select(market_holders.c.user_id).where(market_holders.c.tenant_id == t)
            ).scalars()
        )
    assert {u for x, y, *_ in rounds for u in (x, y)} <= holders
    (report,) = audit(store, t)
    assert report.findings == []
    with db.reading() as reader:
        leaves = list(enumerate(recompute(reader.log, t).fields))
        assert check_tenant(reader, t, leaves) is None
