"""The tenant writer: group commit, refusals, idempotency, commit failures and settlement."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import date
from typing import Any

import pytest
from ledger_helpers import snapshot, unbalanced
from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError, InsufficientBalance
from tokenmall.domain.ledger import IdempotencyConflict
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.batch import Batch
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.ledger.execute import execute
from tokenmall.services.writers.pool import WriterPool
from tokenmall.services.writers.requests import Request, WriterClosed
from tokenmall.services.writers.tenant import TenantWriter

POINT = 10**8


def buy(t: str, key: str, user: str = "amy", fen: int = 10_000) -> c.Purchase:
    return c.Purchase(tenant_id=t, idempotency_key=key, user=user, amount_fen=fen)


def journal_count(store: Store, t: str) -> int:
    return len(snapshot(store, t)["journals"])


@pytest.fixture
def pool(store: Store) -> Iterator[WriterPool]:
    with WriterPool(store) as p:
        yield p


def test_a_purchase_is_answered_after_its_commit(
    store: Store, tenant: str, pool: WriterPool
) -> None:
    # given a tenant; when a purchase goes through its writer
    result = pool.call(buy(tenant, "p1"))
    # then the answer is the stored journal's result and the ledger holds it, balanced
    assert result["journal_id"] == 1
    assert result["grants"] == [{"holder": "amy", "points": "21.00000000", "level": 0}]
    with store.read() as conn:
        assert store.find_journals(conn, tenant, ["p1"])["p1"][1] == result
    assert unbalanced(store, tenant) == []
    assert clean(audit(store, tenant))


def test_the_writer_books_exactly_what_the_simple_path_books(
    store: Store, pool: WriterPool
) -> None:
    # given two tenants with the same history, one through the writer, one through execute()
    with store.transaction() as conn:
        store.create_tenant(conn, "w_same_a")
        store.create_tenant(conn, "w_same_b")
    history = [("p1", "amy", 10_000), ("p2", "bob", 25_000), ("p3", "amy", 3_300)]
    via_writer = [pool.call(buy("w_same_a", k, u, f)) for k, u, f in history]
    sold_writer = pool.call(
        c.Sell(tenant_id="w_same_a", idempotency_key="s", user="amy", units=5 * POINT)
    )
    via_execute = [execute(store, buy("w_same_b", k, u, f)) for k, u, f in history]
    sold_execute = execute(
        store, c.Sell(tenant_id="w_same_b", idempotency_key="s", user="amy", units=5 * POINT)
    )
    # then the results and the stored holders are identical
    assert via_writer == via_execute
    assert sold_writer == sold_execute
    a, b = snapshot(store, "w_same_a"), snapshot(store, "w_same_b")
    assert [r[1:] for r in a["holders"]] == [r[1:] for r in b["holders"]]
    assert [r[1:] for r in a["postings"]] == [r[1:] for r in b["postings"]]


def test_many_commands_share_one_commit_and_a_refusal_writes_nothing(
    store: Store, tenant: str
) -> None:
    # given a writer whose thread is blocked inside a first batch (the gate's alone) until
    # all commands are queued
    writer, gate = _gated_writer(store, tenant, linger_seconds=0.0)
    futures = [writer.submit(buy(tenant, f"p{i}", f"u{i}")) for i in range(10)]
    refused = writer.submit(
        c.Sell(tenant_id=tenant, idempotency_key="bad", user="nobody", units=POINT)
    )
    more = writer.submit(buy(tenant, "p10", "u10"))
    gate.set()
    # when the writer runs them; then all purchases commit in one batch, the sale is refused
    results = [f.result(10) for f in futures] + [more.result(10)]
    assert [r["journal_id"] for r in results] == list(range(2, 13))  # 1 is the gate's
    with pytest.raises(InsufficientBalance):
        refused.result(10)
    assert writer.batches == 2  # the gate's, then every one queued behind it
    writer.close()
    assert journal_count(store, tenant) == 12
    with store.read() as conn:
        assert store.find_journals(conn, tenant, ["bad"]) == {}
    assert clean(audit(store, tenant))


def test_a_batch_goes_once_as_many_callers_as_the_last_one_answered_are_back(
    store: Store, tenant: str
) -> None:
    # given a writer that lingers a whole minute for more requests while it is busy, and a
    # batch of three (the purchases queued behind the gate's batch)
    writer, gate = _gated_writer(store, tenant, linger_seconds=60.0)
    try:
        first = [writer.submit(buy(tenant, f"a{i}", f"u{i}")) for i in range(3)]
        gate.set()
        assert [f.result(10)["journal_id"] for f in first] == [2, 3, 4]
        # when three requests come back, as three callers were answered
        again = [writer.submit(buy(tenant, f"b{i}", f"u{i}")) for i in range(3)]
        # then they are booked without waiting out the minute: once three are here, nothing
        # else is coming
        assert sorted(f.result(10)["journal_id"] for f in again) == [5, 6, 7]
    finally:
        writer.close()
    assert writer.batches == 3
    assert journal_count(store, tenant) == 7
    assert clean(audit(store, tenant))


def _gated_writer(
    store: Store,
    tenant: str,
    linger_seconds: float,  # float-ok: time
) -> tuple[TenantWriter, threading.Event]:
    """A started writer whose thread waits inside its first batch (a ``_Blocker`` alone) until
    the returned gate is set: whatever is submitted meanwhile queues behind it."""
    writer = TenantWriter(store, tenant, linger_seconds=linger_seconds)
    gate = threading.Event()
    writer.start()
    blocker = _Blocker(tenant, gate)
    writer._queue.put(blocker)
    assert blocker.entered.wait(10)  # its batch is formed: what comes now waits behind it
    return writer, gate


class _Blocker(Request):
    """A request (a referral binding) whose command the writer can only read once ``gate``
    is set: the writer thread stalls on it while the test queues more (test plumbing)."""

    def __init__(self, tenant: str, gate: threading.Event) -> None:
        self.gate = gate
        self.entered = threading.Event()  # the writer is reading the command
        self.inbox_id = None
        self.known_fingerprint = None
        self.future: Future[Any] = Future()
        self._command = c.Join(tenant_id=tenant, idempotency_key="gate", user="g1", referrer="g0")

    @property  # type: ignore[override]
    def command(self) -> c.Command:
        self.entered.set()
        self.gate.wait(10)
        return self._command

    def fingerprint(self) -> str:
        return self.command.fingerprint()


def test_replays_change_nothing_and_a_different_request_is_a_conflict(
    store: Store, tenant: str, pool: WriterPool
) -> None:
    # given a committed purchase
    first = pool.call(buy(tenant, "p1"))
    before = snapshot(store, tenant)
    # when the same request comes again, and then another request under the same key
    again = pool.call(buy(tenant, "p1"))
    with pytest.raises(IdempotencyConflict):
        pool.call(buy(tenant, "p1", fen=20_000))
    # then the replay gets the first result and nothing changed
    assert again == first
    assert snapshot(store, tenant) == before


def test_duplicates_within_one_batch_are_booked_once(store: Store, tenant: str) -> None:
    # given the same key submitted three times before the writer looks (and once differently)
    writer = TenantWriter(store, tenant, linger_seconds=0.0)
    gate = threading.Event()
    writer.start()
    writer._queue.put(_Blocker(tenant, gate))
    same = [writer.submit(buy(tenant, "dup")) for _ in range(3)]
    other = writer.submit(buy(tenant, "dup", fen=1))
    gate.set()
    # then every copy gets the one result, the different request a conflict, one journal
    results = [f.result(10) for f in same]
    assert results[0] == results[1] == results[2]
    with pytest.raises(IdempotencyConflict):
        other.result(10)
    writer.close()
    assert journal_count(store, tenant) == 2  # the gate's and the purchase


class FlakyStore(Store):
    """The real store, but the next ``fail`` batch writes raise after the rows were sent."""

    def __init__(self, store: Store, fail: int) -> None:
        super().__init__(store.engine)
        self.fail = fail

    def write_batch(
        self, conn: Connection, tenant_id: str, batch: Batch, prepared: Any = None
    ) -> None:
        super().write_batch(conn, tenant_id, batch, prepared)
        if self.fail > 0 and not batch.empty:
            self.fail -= 1
            raise RuntimeError("connection lost during commit (injected)")

    def commit_batch(
        self,
        conn: Connection,
        tenant_id: str,
        batch: Batch,
        prepared: Any,
        on_send: Any = None,
        bound: Any = None,
    ) -> bool:
        # The overlapping writer's pipelined write and commit: the failure comes before the
        # COMMIT reaches the server, as a session lost mid-batch.
        if self.fail > 0 and not batch.empty:
            self.fail -= 1
            raise RuntimeError("connection lost during commit (injected)")
        return super().commit_batch(conn, tenant_id, batch, prepared, on_send, bound)


def test_a_failed_commit_is_retried_from_a_reloaded_book(store: Store, tenant: str) -> None:
    # given a writer whose next batch write fails once
    pool = WriterPool(store)
    pool.call(buy(tenant, "p0"))
    pool.close()
    flaky = FlakyStore(store, fail=1)
    with WriterPool(flaky) as retrying:
        # when a purchase is written; then the retry commits it exactly once
        result = retrying.call(buy(tenant, "p1", "bob"))
        assert result["journal_id"] == 2
        assert retrying.call(buy(tenant, "p2", "bob"))["journal_id"] == 3
    assert journal_count(store, tenant) == 3
    assert clean(audit(store, tenant))


def test_a_batch_that_cannot_commit_is_never_acknowledged(store: Store, tenant: str) -> None:
    # given a writer whose batch writes fail twice in a row
    flaky = FlakyStore(store, fail=0)
    with WriterPool(flaky) as failing:
        failing.call(c.Join(tenant_id=tenant, idempotency_key="j", user="bob", referrer="amy"))
        before = snapshot(store, tenant)
        flaky.fail = 2
        # when a purchase is submitted; then its caller gets the error and nothing is stored
        with pytest.raises(RuntimeError, match="injected"):
            failing.call(buy(tenant, "p1", "bob"))
        assert snapshot(store, tenant) == before
        # and the writer goes on from the database's state, not from the lost batch
        result = failing.call(buy(tenant, "p2", "bob"))
    assert result["journal_id"] == 2  # the lost batch's journal id is used again
    assert result["price"] == "1.00000000"
    assert clean(audit(store, tenant))


def test_settlement_runs_in_the_writer_between_batches(
    store: Store, tenant: str, pool: WriterPool
) -> None:
    # given purchases queued before a settlement and one after it
    early = [pool.submit(buy(tenant, f"p{i}", f"u{i % 3}")) for i in range(6)]
    day = pool.submit(c.SettleDay(tenant_id=tenant, business_date=date(2026, 11, 1)))
    late = pool.submit(buy(tenant, "late", "u0"))
    # then the settlement sees every earlier purchase, and the later one its result
    assert [f.result(10)["journal_id"] for f in early] == [1, 2, 3, 4, 5, 6]
    settled = day.result(30)
    assert settled["code"] == "dividend"
    assert late.result(10)["journal_id"] > settled["journal_id"]
    # and settling the same day again returns the first result and changes nothing
    before = snapshot(store, tenant)
    again = pool.call(c.SettleDay(tenant_id=tenant, business_date=date(2026, 11, 1)))
    assert again == settled
    assert snapshot(store, tenant) == before
    assert clean(audit(store, tenant))


def test_tenants_have_their_own_writers(store: Store, pool: WriterPool) -> None:
    with store.transaction() as conn:
        store.create_tenant(conn, "w_ten_a")
        store.create_tenant(conn, "w_ten_b")
    a = pool.call(buy("w_ten_a", "k"))
    b = pool.call(buy("w_ten_b", "k"))
    assert a["journal_id"] == b["journal_id"] == 1
    assert pool.writer("w_ten_a") is not pool.writer("w_ten_b")
    # a command sent to the wrong tenant's writer is refused before it is queued
    with pytest.raises(ValueError, match="sent to w_ten_a's writer"):
        pool.writer("w_ten_a").submit(buy("w_ten_b", "x"))


def test_a_closed_writer_takes_nothing(store: Store, tenant: str) -> None:
    writer = TenantWriter(store, tenant).start()
    writer.close()
    with pytest.raises(WriterClosed):
        writer.submit(buy(tenant, "p1"))
    assert journal_count(store, tenant) == 0


def test_an_unknown_tenant_is_refused(pool: WriterPool) -> None:
    with pytest.raises(DomainError):
        pool.call(buy("w_nobody", "p1"))
