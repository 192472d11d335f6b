"""Many threads buying, selling, converting, paying and settling on ONE tenant at once.

Everything goes through the tenant's writer. Afterwards the audit (balances rebuilt from the
postings, every invariant, the price each journal ran at never falling) is clean, every
acknowledged command is in the ledger exactly once, and every refusal left nothing behind.
"""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.writers.pool import WriterPool

POINT = 10**8
THREADS = 16
STEPS = 40


def client(
    pool: WriterPool,
    t: str,
    n: int,
    acks: list[tuple[str, dict[str, Any]]],
    refusals: list[str],
    failures: list[str],
) -> None:
    rng = random.Random(n)
    me = f"user{n}"
    for step in range(STEPS):
        key = f"{me}-{step}"
        roll = rng.random()
        command: c.Command
        if roll < 0.55:
            command = c.Purchase(
                tenant_id=t, idempotency_key=key, user=me, amount_fen=rng.randrange(100, 50_000)
            )
        elif roll < 0.7:
            command = c.Sell(
                tenant_id=t, idempotency_key=key, user=me, units=rng.randrange(1, 5 * POINT)
            )
        elif roll < 0.85:
            command = c.Convert(
                tenant_id=t, idempotency_key=key, user=me, units=rng.randrange(1, 3 * POINT)
            )
        elif roll < 0.95:
            command = c.PayStable(
                tenant_id=t,
                idempotency_key=key,
                user=me,
                merchant="shop",
                amount_fen=rng.randrange(1, 2_000),
            )
        else:
            day = date(2026, 1, 1) + timedelta(days=step)
            command = c.SettleDay(tenant_id=t, business_date=day)
        try:
            answer = pool.call(command, timeout=60)
        except DomainError as refused:
            refusals.append(f"{key}: {refused}")
            continue
        acks.append((command.idempotency_key, answer))
        # now and then the client retries an acknowledged request: it gets the same answer
        if step % 10 == 9 and pool.call(command, timeout=60) != answer:
            failures.append(f"{key}: the replay answered differently")


def test_a_crowd_on_one_tenant_leaves_a_clean_ledger(store: Store, tenant: str) -> None:
    # given one tenant and sixteen clients doing a bit of everything at once
    acks: list[tuple[str, dict[str, Any]]] = []
    refusals: list[str] = []
    failures: list[str] = []
    with WriterPool(store) as pool:
        threads = [
            threading.Thread(target=client, args=(pool, tenant, n, acks, refusals, failures))
            for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        batches = pool.writer(tenant).batches
    assert failures == []
    # then every acknowledged command is stored once, under its key, with its answer
    with store.read() as conn:
        stored = store.find_journals(conn, tenant, [key for key, _ in acks])
        journals = conn.execute(
            text("SELECT count(*) FROM journals WHERE tenant_id = :t"), {"t": tenant}
        ).scalar_one()
        prices = [
            row[0]
            for row in conn.execute(
                text("SELECT result FROM journals WHERE tenant_id = :t ORDER BY journal_id"),
                {"t": tenant},
            )
        ]
    assert {key: result for key, result in acks} == {k: v[1] for k, v in stored.items()}
    settlements = len({key for key, result in acks if result["code"] == "dividend"})
    unique_acks = len({key for key, _ in acks})
    assert journals == unique_acks + settlements  # a day is two journals: dividend, exits
    assert len(acks) > THREADS * STEPS // 2  # most requests were allowed…
    assert refusals  # …and the crowd also tried things the rules refuse
    assert batches < len(acks)  # commits were shared
    # and the audit is clean, including the price history, which never fell
    reports = audit(store, tenant)
    assert reports[0].findings == []
    assert clean(reports)
    assert len(prices) == journals
