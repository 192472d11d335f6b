"""The writer applies batch N+1 while batch N commits (PostgreSQL): the same ledger as one
batch at a time, keys committing in flight are replays or conflicts, and a failed commit in
flight is redone without losing or doubling anything."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from datetime import date
from typing import Any

import pytest
from ledger_helpers import snapshot
from test_writer import FlakyStore, _Blocker, buy

from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import IdempotencyConflict
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.batch import Batch
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.ledger.execute import execute
from tokenmall.services.writers import pipeline
from tokenmall.services.writers.tenant import TenantWriter

POINT = 10**8


@pytest.fixture(autouse=True)
def _postgres_only(store: Store) -> None:
    if not store.postgres:
        pytest.skip("the writer overlaps batches on PostgreSQL only")


def history(t: str) -> list[c.Command]:
    """Purchases by 12 users (some referred), then sells and converts of their points."""
    commands: list[c.Command] = [
        c.Join(tenant_id=t, idempotency_key=f"j{i}", user=f"u{i}", referrer=f"u{i - 1}")
        for i in range(1, 6)
    ]
    commands += [buy(t, f"p{i}", f"u{i % 12}", 1_000 + 37 * i) for i in range(60)]
    commands += [
        c.Sell(tenant_id=t, idempotency_key=f"s{i}", user=f"u{i}", units=POINT // (i + 1))
        for i in range(6)
    ]
    commands += [
        c.Convert(tenant_id=t, idempotency_key=f"v{i}", user=f"u{i}", units=POINT // 7)
        for i in range(6, 9)
    ]
    return commands


def submit_all(writer: TenantWriter, commands: list[c.Command]) -> list[Future[Any]]:
    """Queue every command before the writer's thread starts: full batches, all overlapped."""
    futures = [writer.submit(command) for command in commands]
    writer.start()
    return futures


def outcome(future: Future[Any]) -> Any:
    error = future.exception(timeout=60)
    return future.result() if error is None else (type(error), str(error))


def test_overlapped_batches_book_exactly_what_one_at_a_time_books(store: Store) -> None:
    with store.transaction() as conn:
        store.create_tenant(conn, "ov_a")
        store.create_tenant(conn, "ov_b")
    # when the history goes through a writer in batches of 7 that overlap
    writer = TenantWriter(store, "ov_a", max_batch=7, linger_seconds=0.0, overlap=True)
    try:
        futures = submit_all(writer, history("ov_a"))
        via_writer = [outcome(f) for f in futures]
    finally:
        writer.close()
    # and the same history goes through the simple path, one transaction per command
    via_execute = [execute(store, command) for command in history("ov_b")]
    # then every answer and every stored row is the same, and batches did overlap
    assert via_writer == via_execute
    a, b = snapshot(store, "ov_a"), snapshot(store, "ov_b")
    for table in ("holders", "postings"):
        assert [r[1:] for r in a[table]] == [r[1:] for r in b[table]]
    assert writer.overlapped >= 5
    assert clean(audit(store, "ov_a"))


def test_a_key_committing_in_flight_is_a_replay_or_a_conflict(store: Store, tenant: str) -> None:
    first = buy(tenant, "dup", "amy", 10_000)
    commands: list[c.Command] = [buy(tenant, f"p{i}", "bob") for i in range(5)]
    commands += [first] + [buy(tenant, f"q{i}", "bob") for i in range(4)]
    # the same key again in the next batch: once the same request, once a different one
    commands += [first, buy(tenant, "dup", "amy", 99_999)]
    writer = TenantWriter(store, tenant, max_batch=5, linger_seconds=0.0, overlap=True)
    try:
        futures = submit_all(writer, commands)
        answers = [outcome(f) for f in futures]
    finally:
        writer.close()
    assert answers[10] == answers[5]
    assert answers[11][0] is IdempotencyConflict
    assert len(snapshot(store, tenant)["journals"]) == 10
    assert writer.overlapped >= 1
    assert clean(audit(store, tenant))


def test_a_commit_failing_in_flight_is_redone_with_the_batch_after_it(
    store: Store, tenant: str
) -> None:
    # given a store whose next batch write fails once, after its rows were sent
    flaky = FlakyStore(store, fail=1)
    writer = TenantWriter(flaky, tenant, max_batch=5, linger_seconds=0.0, overlap=True)
    try:
        futures = submit_all(writer, [buy(tenant, f"p{i}", f"u{i % 4}") for i in range(30)])
        answers = [outcome(f) for f in futures]
    finally:
        writer.close()
    # then every purchase is answered and stored exactly once, in order
    assert [a["journal_id"] for a in answers] == list(range(1, 31))
    assert len(snapshot(store, tenant)["journals"]) == 30
    assert flaky.fail == 0
    assert clean(audit(store, tenant))


def test_a_batch_that_fails_again_is_refused_and_the_ones_after_it_commit(
    store: Store, tenant: str
) -> None:
    # given a store whose next two batch writes fail: the first batch in flight, then its redo
    flaky = FlakyStore(store, fail=2)
    writer = TenantWriter(flaky, tenant, max_batch=5, linger_seconds=0.0, overlap=True)
    try:
        futures = submit_all(writer, [buy(tenant, f"p{i}", f"u{i % 4}") for i in range(20)])
        answers = [outcome(f) for f in futures]
    finally:
        writer.close()
    # then the first batch's callers get the error and nothing of it is stored
    assert all(a == (RuntimeError, "connection lost during commit (injected)") for a in answers[:5])
    # and the rest commit, from the database's state: the lost journal ids are used again
    assert [a["journal_id"] for a in answers[5:]] == list(range(1, 16))
    keys = {row[3] for row in snapshot(store, tenant)["journals"]}
    assert keys == {f"p{i}" for i in range(5, 20)}
    assert clean(audit(store, tenant))


class FailingReads(Store):
    """The real store, but the next ``fail`` reads of keys or holders raise (a lost read-ahead
    session)."""

    def __init__(self, store: Store, fail: int) -> None:
        super().__init__(store.engine)
        self.fail = fail

    def _read(self) -> None:
        if self.fail > 0:
            self.fail -= 1
            raise RuntimeError("read-ahead session lost (injected)")

    def find_journals(self, conn: Any, tenant_id: str, keys: Any) -> Any:
        self._read()
        return super().find_journals(conn, tenant_id, keys)

    def load_holders(self, conn: Any, tenant_id: str, names: Any) -> Any:
        self._read()
        return super().load_holders(conn, tenant_id, names)


def test_a_read_failing_while_applying_ahead_falls_back_and_loses_nothing(
    store: Store, tenant: str
) -> None:
    failing = FailingReads(store, fail=0)
    writer = TenantWriter(failing, tenant, max_batch=5, linger_seconds=0.0, overlap=True)
    try:
        futures = [writer.submit(buy(tenant, f"p{i}", f"u{i % 4}")) for i in range(30)]
        failing.fail = 1  # the first batch's read-ahead fails
        writer.start()
        answers = [outcome(f) for f in futures]
    finally:
        writer.close()
    assert failing.fail == 0
    assert [a["journal_id"] for a in answers] == list(range(1, 31))
    assert len(snapshot(store, tenant)["journals"]) == 30
    assert clean(audit(store, tenant))


def overlapped(
    store: Store, tenant: str, commands: list[c.Command], max_batch: int = 256
) -> tuple[TenantWriter, list[Any]]:
    """``commands`` through an overlapping writer in batches of ``max_batch``, all queued before
    it starts: the writer (closed) and every answer (a result, or the error's type and text)."""
    writer = TenantWriter(store, tenant, max_batch=max_batch, linger_seconds=0.0, overlap=True)
    try:
        return writer, [outcome(f) for f in submit_all(writer, commands)]
    finally:
        writer.close()


def _booked_elsewhere(store: Store, tenant: str, commands: list[c.Command]) -> list[Any]:
    """Commit ``commands`` through another writer: keys the next writer of the tenant has
    never seen. Their answers."""
    return overlapped(store, tenant, commands)[1]


def test_a_replay_of_a_key_the_writer_never_saw_gets_its_first_result(
    store: Store, tenant: str
) -> None:
    # given purchases committed by an earlier writer of the tenant
    first = _booked_elsewhere(
        store, tenant, [buy(tenant, f"old{i}", "amy", 5_000 + i) for i in range(3)]
    )
    # when a new writer gets new purchases with a replay of one of them and a different request
    # under another's key, in batches that overlap
    # (batches of four: the replay in the first, the other request in the fourth, which is
    # applied while the third commits)
    commands = [buy(tenant, f"p{i}", f"u{i % 3}") for i in range(14)]
    commands.insert(3, buy(tenant, "old1", "amy", 5_001))
    commands.insert(13, buy(tenant, "old2", "amy", 1))
    writer, answers = overlapped(store, tenant, commands, max_batch=4)
    # then the replay gets the first answer, the other request a conflict, and the new
    # purchases are booked once each, in order
    assert answers[3] == first[1]
    assert answers[13][0] is IdempotencyConflict
    fresh = [a for n, a in enumerate(answers) if n not in (3, 13)]
    assert [a["journal_id"] for a in fresh] == list(range(4, 18))
    assert len(snapshot(store, tenant)["journals"]) == 17
    # found at commit once; after that the writer looked every key up (the other request,
    # in a batch applied ahead, did not fail a batch again)
    assert writer.late_replays == 1
    assert writer.overlapped >= 1
    assert clean(audit(store, tenant))


def test_a_key_the_writer_committed_is_looked_up_when_it_comes_again(
    store: Store, tenant: str
) -> None:
    # given batches of three queued at once: two of new purchases, then a replay of the
    # first batch's p1 and a different request under its p0 (answered by then, no longer in
    # flight), then new ones again
    commands = [buy(tenant, f"p{i}", "bob") for i in range(6)]
    commands += [buy(tenant, "p1", "bob"), buy(tenant, "p0", "zed"), buy(tenant, "n0", "bob")]
    commands += [buy(tenant, f"n{i}", "bob") for i in range(1, 4)]
    writer, answers = overlapped(store, tenant, commands, max_batch=3)
    # then the replay has its answer and the other request its conflict, looked up before
    # the batch was written: no batch failed at commit
    assert answers[6] == answers[1]
    assert answers[7][0] is IdempotencyConflict
    assert writer.late_replays == 0
    assert writer.overlapped >= 2
    assert len(snapshot(store, tenant)["journals"]) == 10
    assert clean(audit(store, tenant))


class SlowStore(Store):
    """The real store whose pipelined commits of overlapped batches take ``delay`` longer."""

    def __init__(self, store: Store, delay: float) -> None:  # float-ok: time
        super().__init__(store.engine)
        self.delay = delay

    def commit_batch(
        self,
        conn: Any,
        tenant_id: str,
        batch: Batch,
        prepared: Any,
        on_send: Any = None,
        bound: Any = None,
    ) -> bool:
        time.sleep(self.delay)
        return super().commit_batch(conn, tenant_id, batch, prepared, on_send, bound)


def _while_a_slow_batch_commits(
    store: Store,
    tenant: str,
    then: list[c.Command],
    pause: float = 0.0,  # float-ok: time
) -> tuple[TenantWriter, list[Any]]:
    """A writer whose first batch (two purchases) takes 0.6 s to commit; ``then`` is submitted
    while it commits, ``pause`` seconds apart. The writer (closed) and every result in order."""
    writer = TenantWriter(SlowStore(store, 0.6), tenant)
    futures = submit_all(writer, [buy(tenant, "p1", "u1"), buy(tenant, "p2", "u2")])
    try:
        time.sleep(0.05)
        for n, command in enumerate(then):
            if n:
                time.sleep(pause)
            futures.append(writer.submit(command))
        results = [f.result(30) for f in futures]
    finally:
        writer.close()
    return writer, results


def test_requests_arriving_while_a_small_batch_commits_join_one_batch(
    store: Store, tenant: str
) -> None:
    # given a batch of two committing slowly; when one request comes while it commits, and
    # another well after the first (far beyond a linger)
    writer, results = _while_a_slow_batch_commits(
        store, tenant, [buy(tenant, "p3", "u3"), buy(tenant, "p4", "u4")], pause=0.1
    )
    # then both were applied while it committed and went to the database together
    assert [r["journal_id"] for r in results] == [1, 2, 3, 4]
    assert writer.batches == 2
    assert clean(audit(store, tenant))


def test_a_batch_growing_in_flight_does_not_overtake_a_settlement(
    store: Store, tenant: str
) -> None:
    # given a batch of two committing slowly, and the writer held inside its next request
    # (a referral binding that can be read only once ``gate`` is set) while a purchase, a
    # day's settlement and another purchase are queued behind it
    writer = TenantWriter(SlowStore(store, 0.3), tenant)
    first = submit_all(writer, [buy(tenant, "p1", "u1"), buy(tenant, "p2", "u2")])
    gate = threading.Event()
    try:
        time.sleep(0.05)
        writer._queue.put(_Blocker(tenant, gate))
        day = c.SettleDay(tenant_id=tenant, business_date=date(2026, 1, 1))
        rest = [writer.submit(x) for x in (buy(tenant, "p3", "u3"), day, buy(tenant, "p4", "u4"))]
        # when the writer reads on: the settlement ends the batch it is gathering
        gate.set()
        results = [f.result(30) for f in (*first, *rest)]
    finally:
        writer.close()
    # then they are booked in the order they came: the settlement after p3, before p4
    ids = [r["journal_id"] for r in results]
    assert ids[:3] == [1, 2, 4]  # 3 is the referral binding's
    assert ids[3] == 5
    assert results[3]["exit_journal_id"] == 6
    assert ids[4] == 7
    assert clean(audit(store, tenant))


def test_the_writer_remembers_only_its_latest_keys(
    store: Store, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a writer that remembers four keys, and twelve purchases committed in batches of 3
    monkeypatch.setattr(pipeline, "RECENT_KEYS", 4)
    first = [buy(tenant, f"p{i}", f"u{i % 3}") for i in range(12)]
    # then, in later batches, a replay of the newest key and of the oldest one
    commands = [*first, buy(tenant, "p11", "u2"), buy(tenant, "n0", "u0"), buy(tenant, "n1", "u1")]
    commands += [buy(tenant, f"m{i}", "u0") for i in range(3)]
    commands += [buy(tenant, "p0", "u0"), buy(tenant, "n2", "u0"), buy(tenant, "n3", "u1")]
    writer, answers = overlapped(store, tenant, commands, max_batch=3)
    # then both are answered with their first results; only the forgotten one was found at
    # commit (its batch done again), and nothing was booked twice
    assert answers[12] == answers[11]
    assert answers[18] == answers[0]
    assert writer.late_replays == 1
    assert len(snapshot(store, tenant)["journals"]) == 19
    assert clean(audit(store, tenant))


def test_the_next_batch_is_applied_while_a_big_one_commits_once_its_callers_are_back(
    store: Store, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a writer whose batches in flight never grow (every one counts as big), which
    # lingers up to 5 s for more requests while busy, and whose commits take 0.4 s
    monkeypatch.setattr(pipeline, "GROW_BELOW", 1)
    writer = TenantWriter(SlowStore(store, 0.4), tenant, linger_seconds=5.0)
    applied: list[tuple[int, bool]] = []  # (batch size, applied while another committed)
    apply_ahead = writer._apply_ahead

    def spy(batch: list[Any]) -> Any:
        flight = writer._inflight
        applied.append((len(batch), flight is not None and not flight.done.done()))
        return apply_ahead(batch)

    writer._apply_ahead = spy  # type: ignore[method-assign]
    first = submit_all(writer, [buy(tenant, f"a{i}", f"u{i}") for i in range(3)])
    try:
        assert [f.result(30)["journal_id"] for f in first] == [1, 2, 3]
        # when three callers come back (as many as the last batch answered) and their batch
        # commits, and three more come while it does
        second = [writer.submit(buy(tenant, f"b{i}", f"u{i}")) for i in range(3)]
        time.sleep(0.1)
        third = [writer.submit(buy(tenant, f"c{i}", f"u{i}")) for i in range(3)]
        assert [f.result(30)["journal_id"] for f in second] == [4, 5, 6]
        # and, while the third commits, only two of the three it expects
        fourth = [writer.submit(buy(tenant, f"d{i}", f"u{i}")) for i in range(2)]
        assert [f.result(30)["journal_id"] for f in third + fourth] == [7, 8, 9, 10, 11]
    finally:
        writer.close()
    # then the third was applied at once, while the second still committed (it did not linger
    # for the commit to end first); the fourth, short of a caller, lingered until the third
    # had committed
    assert applied == [(3, False), (3, False), (3, True), (2, False)]
    assert len(snapshot(store, tenant)["journals"]) == 11
    assert clean(audit(store, tenant))
