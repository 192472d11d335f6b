"""Several processes, one writer per tenant: the advisory lock, the inbox and fail-over.

Two ``Store``s are two connection pools, so two ``WriterPool``s in this test stand for two API
processes exactly as PostgreSQL sees them (advisory locks belong to sessions). The crash test
(``test_crash.py``) does the same with a real child process killed by SIGKILL.
On SQLite there is one process and no inbox, so these tests run on PostgreSQL only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from ledger_helpers import snapshot
from sqlalchemy import text

from tokenmall.adapters.db import inbox
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import InsufficientBalance
from tokenmall.domain.ledger import IdempotencyConflict
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.writers.pool import WriterPool
from tokenmall.services.writers.requests import COMMAND_TYPES, NotOwner
from tokenmall.services.writers.tenant import TenantWriter

POINT = 10**8


def buy(t: str, key: str, user: str = "amy", fen: int = 10_000) -> c.Purchase:
    return c.Purchase(tenant_id=t, idempotency_key=key, user=user, amount_fen=fen)


@pytest.fixture
def other(store: Store, db_url: str) -> Iterator[Store]:
    """A second process's view of the same database: its own engine and sessions."""
    if not store.postgres:
        pytest.skip("SQLite runs one process: the in-process writer is the only writer")
    second = Store.open(db_url, migrate_now=False)
    yield second
    second.dispose()


def test_only_one_process_writes_a_tenant(store: Store, other: Store, tenant: str) -> None:
    # given a writer of the tenant in one process
    # when another process starts a writer for it; then it is refused
    with TenantWriter(store, tenant), pytest.raises(NotOwner):
        TenantWriter(other, tenant).start()
    # and once the first writer is closed the tenant is free again
    with TenantWriter(other, tenant) as second:
        assert second.call(buy(tenant, "p1"))["journal_id"] == 1


def test_a_non_owner_goes_through_the_inbox(store: Store, other: Store, tenant: str) -> None:
    # given process A owns the tenant and process B does not
    with WriterPool(store) as a, WriterPool(other) as b:
        first = a.call(buy(tenant, "p1"))
        assert a.owns(tenant)
        # when B books a purchase, a refused sale, a replay and a conflicting replay
        booked = b.call(buy(tenant, "p2", "bob"), timeout=10)
        with pytest.raises(InsufficientBalance, match="cannot sell"):
            b.call(c.Sell(tenant_id=tenant, idempotency_key="s", user="cat", units=POINT), 10)
        replayed = b.call(buy(tenant, "p1"), timeout=10)
        with pytest.raises(IdempotencyConflict):
            b.call(buy(tenant, "p1", fen=1), timeout=10)
        # then B never owned the tenant: A wrote B's purchase and answered each request
        assert not b.owns(tenant)
        assert booked["journal_id"] == 2
        assert booked["price"] != first["price"]
        assert replayed == first
    rows = snapshot(store, tenant)
    assert [r[1] for r in rows["journals"]] == [1, 2]
    with store.read() as conn:
        statuses = conn.execute(
            text(
                "SELECT status, count(*) FROM command_inbox WHERE tenant_id = :t "
                "GROUP BY status ORDER BY status"
            ),
            {"t": tenant},
        ).all()
    assert [tuple(s) for s in statuses] == [("done", 2), ("refused", 2)]
    assert clean(audit(store, tenant))


def test_when_the_owner_dies_a_waiting_process_takes_over(
    store: Store, other: Store, tenant: str
) -> None:
    # given A owns the tenant but stops draining (its session is about to die)
    a = WriterPool(store)
    a.call(buy(tenant, "p1"))
    writer = a.writer(tenant)
    writer.use_inbox = False  # A no longer looks at the inbox
    with WriterPool(other, takeover_seconds=0.02) as b:
        pending = b.submit(buy(tenant, "p2", "bob"))
        time.sleep(0.2)
        assert not pending.done()  # nobody drains the inbox, B cannot take the lock
        # when A's session is terminated (the process crashed, the network went away)
        assert terminate_lock_holder(other, tenant) == 1
        # then PostgreSQL frees the lock, B takes the tenant and drains its own request
        result = pending.result(timeout=10)
        assert result["journal_id"] == 2
        assert b.owns(tenant)
        # and the old owner can no longer write: it cannot re-take the lock
        with pytest.raises(NotOwner):
            a.call(buy(tenant, "p3"), timeout=10)
    a.close()
    assert [r[1] for r in snapshot(store, tenant)["journals"]] == [1, 2]
    assert clean(audit(store, tenant))


def test_a_non_owner_settles_a_day_through_the_inbox(
    store: Store, other: Store, tenant: str
) -> None:
    # given A owns the tenant and has booked purchases
    with WriterPool(store) as a, WriterPool(other) as b:
        a.call(buy(tenant, "p1"))
        a.call(buy(tenant, "p2", "bob"))
        # when B settles a day, twice
        day = c.SettleDay(tenant_id=tenant, business_date=date(2026, 3, 1))
        first = b.call(day, timeout=30)
        again = b.call(day, timeout=30)
        # then A ran the settlement once, after its purchases, and B got its answer both times
        assert first["code"] == "dividend"
        assert first["journal_id"] == 3
        assert again == first
        assert a.call(buy(tenant, "p3"))["journal_id"] == 5  # after the day's two journals
    assert clean(audit(store, tenant))


def terminate_lock_holder(store: Store, tenant: str) -> int:
    """Kill the session holding the tenant's writer lock, as a crash would; sessions killed."""
    with store.engine.connect() as conn:
        key = conn.execute(
            text(
                "SELECT hashtextextended('tokenmall.writer:' || current_schema() || ':' || :t, 0)"
            ),
            {"t": tenant},
        ).scalar_one()
        locks = conn.execute(
            text(
                "SELECT pid, classid::bigint, objid::bigint FROM pg_locks "
                "WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
            )
        ).all()
        pids = [
            pid
            for pid, high, low in locks
            if ((high << 32) | low) - ((((high << 32) | low) >> 63) << 64) == key
        ]
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        conn.commit()
    return len(pids)


def test_commands_survive_the_inbox_unchanged(tenant: str) -> None:
    commands = [
        buy(tenant, "p", "amy", 123),
        c.PayStable(tenant_id=tenant, idempotency_key="s", user="a", merchant="m", amount_fen=5),
        c.ChangeParams(tenant_id=tenant, idempotency_key="x", changes={"levels": [[0, "普通"]]}),
        c.SettleDay(tenant_id=tenant, business_date=date(2026, 1, 2)),
    ]
    for command in commands:
        back = inbox.decode(inbox.encode(command), COMMAND_TYPES)
        assert type(back) is type(command)
        assert back.fingerprint() == command.fingerprint()
        assert back.idempotency_key == command.idempotency_key


def test_the_migration_creates_the_inbox_table_as_declared(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, type_, parent: (
                    type_ != "table" or name in inbox.metadata.tables
                ),
                "compare_server_default": False,
            },
        )
        assert compare_metadata(context, inbox.metadata) == []


def test_the_inbox_is_served_while_the_owner_overlaps_a_steady_load(
    store: Store, other: Store, tenant: str
) -> None:
    import threading

    # given process A owns the tenant and books purchases from 8 threads without pause, so
    # a batch is almost always in flight while the next is applied (the overlap); each
    # thread keeps the journal ids it was answered, in order
    stop = threading.Event()
    booked: list[list[int]] = [[] for _ in range(8)]
    with WriterPool(store) as a, WriterPool(other) as b:
        a.call(buy(tenant, "warm"))

        def load(n: int) -> None:
            i = 0
            while not stop.is_set():
                answer = a.call(buy(tenant, f"a{n}-{i}", f"u{n}"), timeout=30)
                booked[n].append(answer["journal_id"])
                i += 1

        threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        try:
            assert _until(lambda: all(len(ids) >= 2 for ids in booked))
            # (on a busy machine the first batches may not overlap: wait until one has)
            assert _until(lambda: a.writer(tenant).overlapped > 0)
            before = [len(ids) for ids in booked]
            # when process B books through the inbox meanwhile
            answers = [b.call(buy(tenant, f"b{i}", "bob"), timeout=20) for i in range(10)]
            after = [len(ids) for ids in booked]
            # (a thread's second purchase from here was sent after B's last was answered)
            assert _until(lambda: any(len(booked[n]) >= after[n] + 2 for n in range(8)))
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        overlapped = a.writer(tenant).overlapped
    # then every one of B's purchases was written by A and answered, in the order B sent
    # them, while A's load went on: A's purchases answered before B began come before B's,
    # and those A sent after B's last answer come after it (the inbox was served between
    # overlapped batches, not once the load had stopped); none of A's was lost
    ids = [r["journal_id"] for r in answers]
    assert len(set(ids)) == 10
    assert ids == sorted(ids)
    assert overlapped > 0
    earlier = [j for n in range(8) for j in booked[n][: before[n]]]
    later = [j for n in range(8) for j in booked[n][after[n] + 1 :]]
    assert earlier
    assert max(earlier) < ids[0]
    assert later
    assert min(later) > ids[-1]
    journals = snapshot(store, tenant)["journals"]
    assert len(journals) == 1 + sum(len(x) for x in booked) + 10
    assert clean(audit(store, tenant))


def _until(done: Callable[[], bool], limit: float = 20.0) -> bool:  # float-ok: time
    """Wait for ``done`` (a state the test waits for, not a measure of speed)."""
    give_up = time.monotonic() + limit
    while not done():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.01)
    return True
