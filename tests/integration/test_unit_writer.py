"""The unit writer (``services/writers/units.py``): whole units of work, many per transaction,
each under its savepoint — on SQLite and PostgreSQL, no mocks.

Also the ledger's per-process parameters cache (``Store.params_at``): a change is seen at once.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text

from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import parse_points
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.ledger.book import TenantBook
from tokenmall.services.writers.units import UnitWriters, Writes


class LedgerUnit:
    """A unit of ledger commands; ``break_db`` makes its writes violate a CHECK after the
    ledger batch was sent (a database error inside its savepoint)."""

    def __init__(self, tenant_id: str, *commands: c.Command, break_db: bool = False) -> None:
        self.tenant_id = tenant_id
        self.commands = commands
        self.break_db = break_db

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> dict[str, dict[str, Any]]:
        keys = [command.idempotency_key for command in self.commands]
        batch = ledger.LedgerBatch(
            Store(conn.engine), conn, self.tenant_id, keys, book=book, write_on_exit=False
        )
        with batch:
            results = {command.idempotency_key: batch.run(command) for command in self.commands}
        with writes():
            batch.flush()
            if self.break_db:
                conn.execute(
                    text("UPDATE holders SET points = -1 WHERE tenant_id = :t"),
                    {"t": self.tenant_id},
                )
        return results


class ParamsUnit:
    """Answers the parameters the writer's book has (and writes nothing)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def run(self, conn: Connection, book: TenantBook, writes: Writes) -> str:
        return str(book.params.grant_on)


def purchase(tenant: str, key: str, user: str, fen: int = 10_000) -> c.Purchase:
    return c.Purchase(tenant_id=tenant, idempotency_key=key, user=user, amount_fen=fen)


def stored(store: Store, tenant: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    with store.read() as conn:
        return {k: v[1] for k, v in store.find_journals(conn, tenant, keys).items()}


def journal_count(store: Store, tenant: str) -> int:
    with store.read() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM journals WHERE tenant_id = :t"), {"t": tenant}
            ).scalar_one()
        )


@contextmanager
def tenant_locked(db_url: str, tenant: str) -> Iterator[None]:
    """Hold the tenant's write lock from another connection (another 'process')."""
    other = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        with other.transaction() as conn:
            other.lock_tenant(conn, tenant)
            yield
    finally:
        other.dispose()


def wait_all(futures: list[Future[Any]]) -> list[tuple[bool, Any]]:
    out: list[tuple[bool, Any]] = []
    for future in futures:
        try:
            out.append((True, future.result(60)))
        except Exception as error:
            out.append((False, error))
    return out


def test_a_failing_unit_rolls_back_alone_and_the_batch_commits(
    store: Store, tenant: str, db_url: str
) -> None:
    # given a writer blocked on the tenant's lock while units queue up behind a first one
    writers = UnitWriters(store)
    with tenant_locked(db_url, tenant):
        first = writers.submit(LedgerUnit(tenant, purchase(tenant, "p0", "alice")))
        time.sleep(0.3)  # the writer took it and waits for the lock
        units = [
            LedgerUnit(tenant, purchase(tenant, "p1", "bob")),
            # refused by the domain: bob cannot sell points he does not have
            LedgerUnit(
                tenant,
                purchase(tenant, "p-refused", "carol"),
                c.Sell(tenant_id=tenant, idempotency_key="s-refused", user="carol", units=10**15),
            ),
            LedgerUnit(tenant, purchase(tenant, "p2", "carol")),
            # refused by the database after its journals were sent (a CHECK fails)
            LedgerUnit(tenant, purchase(tenant, "p-broken", "dave"), break_db=True),
            LedgerUnit(tenant, purchase(tenant, "p3", "alice")),
        ]
        futures = [writers.submit(unit) for unit in units]
        time.sleep(0.2)
    # when the lock is released
    outcomes = wait_all([first, *futures])
    writer = writers.writer(tenant)
    assert writer is not None
    # then the queued units joined the first's batch when the lock was granted: one
    # transaction for all (``UnitWriter._join_late``)
    assert writer.batches == 1
    assert writer.units == 6
    # and the good units are acknowledged and committed with exactly the answers given
    ok = {key: result for good, value in outcomes if good for key, result in value.items()}
    assert set(ok) == {"p0", "p1", "p2", "p3"}
    assert stored(store, tenant, list(ok)) == ok
    # and each failing unit got its own error and left nothing, not even its first step
    assert isinstance(outcomes[2][1], DomainError)
    assert not outcomes[4][0]
    assert not isinstance(outcomes[4][1], DomainError)
    assert stored(store, tenant, ["p-refused", "s-refused", "p-broken"]) == {}
    assert journal_count(store, tenant) == 4
    # and the writer's book followed the database: a later unit is right, the audit clean
    after = writers.call(LedgerUnit(tenant, purchase(tenant, "p4", "dave")))
    assert stored(store, tenant, ["p4"]) == after
    reports = audit(store, tenant)
    assert reports[0].findings == []
    assert clean(reports)


def test_the_params_cache_sees_a_change_at_once(store: Store, tenant: str, db_url: str) -> None:
    # given the parameters cached by this process (its writer's book and the simple path)
    writers = UnitWriters(store)
    assert writers.call(ParamsUnit(tenant)) == "completed"
    with store.transaction() as conn:
        assert ledger.LedgerBatch(store, conn, tenant).__enter__().params.grant_on == "completed"
    # when another process changes them
    other = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        change = c.ChangeParams(
            tenant_id=tenant, idempotency_key="grant-paid", changes={"grant_on": "paid"}
        )
        ledger.execute(other, change)
    finally:
        other.dispose()
    # then the very next use here runs on the new version, through either path
    assert writers.call(ParamsUnit(tenant)) == "paid"
    with store.transaction() as conn:
        assert ledger.LedgerBatch(store, conn, tenant).__enter__().params.grant_on == "paid"
        assert store.current_params(conn, tenant).grant_on == "paid"
    # and the version before is still what it was (a version never changes)
    with store.read() as conn:
        assert store.params_at(conn, tenant, 1).grant_on == "completed"
        assert store.params_at(conn, tenant, 2).grant_on == "paid"


def test_the_writer_notices_what_another_process_wrote(
    store: Store, tenant: str, db_url: str
) -> None:
    # given a writer whose book holds alice after a first unit
    writers = UnitWriters(store)
    writers.call(LedgerUnit(tenant, purchase(tenant, "w1", "alice")))
    # when another process books for alice and sells her points behind its back
    other = Store.open(db_url, migrate_now=False, pool_size=1)
    try:
        ledger.execute(other, purchase(tenant, "o1", "alice"))
        ledger.execute(
            other, c.Sell(tenant_id=tenant, idempotency_key="o2", user="alice", units=10**8)
        )
    finally:
        other.dispose()
    # then the writer's next unit starts from the database, not from its stale book
    result = writers.call(LedgerUnit(tenant, purchase(tenant, "w2", "alice")))
    assert result["w2"]["journal_id"] == 4
    reports = audit(store, tenant)
    assert reports[0].findings == []
    assert clean(reports)


def test_many_threads_pushing_units_leave_a_clean_ledger(store: Store, tenant: str) -> None:
    # given sixteen threads each pushing twenty units (a purchase, now and then with a sell
    # that may be refused), and retrying some acknowledged ones with the same keys
    writers = UnitWriters(store)
    acks: dict[str, dict[str, Any]] = {}
    refused_keys: list[str] = []
    problems: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for step in range(20):
            user = f"u{(n * 7 + step) % 23}"
            commands: list[c.Command] = [purchase(tenant, f"c{n}-{step}", user, 5_000 + step)]
            if step % 5 == 4:
                commands.append(
                    c.Sell(tenant_id=tenant, idempotency_key=f"s{n}-{step}", user=user, units=10**9)
                )
            unit = LedgerUnit(tenant, *commands)
            try:
                answer = writers.call(unit)
            except DomainError:  # e.g. not 10 points to sell: the whole unit is refused
                with lock:
                    refused_keys.extend(command.idempotency_key for command in commands)
                continue
            if step % 6 == 5 and writers.call(unit) != answer:
                with lock:
                    problems.append(f"replay of {n}-{step} answered differently")
            with lock:
                acks.update(answer)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer = writers.writer(tenant)
    assert writer is not None
    # then every acknowledged step is committed once, with the answer its caller got
    assert problems == []
    assert stored(store, tenant, list(acks)) == acks
    assert journal_count(store, tenant) == len(acks)
    # and a refused unit left nothing, not even the purchase before its refused sell
    assert stored(store, tenant, refused_keys) == {}
    assert writer.batches < writer.units  # commits were shared
    # and the audit is clean, the price history (which it checks) never fell
    reports = audit(store, tenant)
    assert reports[0].findings == []
    assert clean(reports)
    prices = [
        parse_points(result["price"])
        for _, result in sorted((r["journal_id"], r) for r in acks.values())
        if result["code"] == "purchase"
    ]
    assert len(prices) > 16 * 15
    assert prices == sorted(prices)


def test_a_process_with_a_unit_writer_switches_threads_often(tmp_path: Any) -> None:
    """The writer holds its tenant's lock across round trips; after each reply it needs the GIL
    back from the request threads, so its process runs with the short switch interval (in a
    process of its own: the interval is process-wide, and this one's may be set already)."""
    script = tmp_path / "switch.py"
    script.write_text(
        "import sys\n"
        "from tokenmall.adapters.db.store import Store\n"
        "from tokenmall.services.writers.batching import SWITCH_INTERVAL_SECONDS\n"
        "from tokenmall.services.writers.units import UnitWriter\n"
        f"store = Store.open({('sqlite:///' + str(tmp_path / 'w.db'))!r})\n"
        "before = sys.getswitchinterval()\n"
        "UnitWriter(store, 't', idle_seconds=0.1)\n"
        "print(before, sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    before, after, short = (float(x) for x in done.stdout.split())
    assert before > short  # CPython's default (5 ms)
    assert after == short
