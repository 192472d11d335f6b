"""The writer's callers as coroutines (``WriterPool.call_async``), as an API process's handlers
are: answered after commit, refusals and replays as for threads, a batch's answers in one
wake-up of the loop, and a tenant another process owns reached through the inbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from ledger_helpers import unbalanced

from own_loop import run_on_own_loop
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import InsufficientBalance
from tokenmall.domain.ledger import IdempotencyConflict
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.writers.pool import WriterPool

POINT = 10**8


def buy(t: str, key: str, user: str = "amy", fen: int = 10_000) -> c.Purchase:
    return c.Purchase(tenant_id=t, idempotency_key=key, user=user, amount_fen=fen)


@pytest.fixture
def pool(store: Store) -> Iterator[WriterPool]:
    with WriterPool(store) as p:
        yield p


async def _settled(calls: list[Any]) -> list[Any]:
    return await asyncio.gather(*calls, return_exceptions=True)


def test_coroutines_are_answered_after_commit_with_what_was_stored(
    store: Store, tenant: str, pool: WriterPool
) -> None:
    # given a tenant; when 60 coroutines buy at once on one loop, and one sells more than it has
    async def main() -> list[Any]:
        calls = [pool.call_async(buy(tenant, f"p{n}", f"u{n % 7}")) for n in range(60)]
        calls.append(
            pool.call_async(
                c.Sell(tenant_id=tenant, idempotency_key="s", user="nobody", units=POINT)
            )
        )
        return await _settled(calls)

    results = run_on_own_loop(main())
    # then every purchase got its stored journal's result, the sale its refusal
    *bought, refused = results
    assert isinstance(refused, InsufficientBalance)
    with store.read() as conn:
        stored = store.find_journals(conn, tenant, [f"p{n}" for n in range(60)])
    assert [stored[f"p{n}"][1] for n in range(60)] == bought
    assert sorted(r["journal_id"] for r in bought) == list(range(1, 61))
    assert unbalanced(store, tenant) == []
    assert clean(audit(store, tenant))
    # and they shared commits (group commit), on both backends
    writer = pool.writer(tenant)
    assert writer.commands == 61
    assert writer.batches < 61


def test_a_coroutine_replay_gets_the_first_result_and_a_conflict_is_refused(
    store: Store, tenant: str, pool: WriterPool
) -> None:
    async def main() -> list[Any]:
        first = await pool.call_async(buy(tenant, "k"))
        again = await pool.call_async(buy(tenant, "k"))
        other = await _settled([pool.call_async(buy(tenant, "k", fen=20_000))])
        return [first, again, *other]

    first, again, conflict = run_on_own_loop(main())
    assert again == first
    assert isinstance(conflict, IdempotencyConflict)
    with store.read() as conn:
        assert list(store.find_journals(conn, tenant, ["k"])) == ["k"]


def test_a_cancelled_caller_does_not_stop_its_purchase_or_the_others(
    store: Store, tenant: str, pool: WriterPool
) -> None:
    # given a caller that stops waiting (its request was dropped) while others wait
    pool.call(buy(tenant, "warm", "w"))  # (the pool writes the tenant: a call queues at once)

    async def main() -> list[Any]:
        gone = asyncio.ensure_future(pool.call_async(buy(tenant, "gone", "g")))
        waiting = [pool.call_async(buy(tenant, f"w{n}", "w")) for n in range(5)]
        await asyncio.sleep(0)  # it has been queued
        gone.cancel()
        return await _settled(waiting)

    results = run_on_own_loop(main())
    # then the others are answered, and the cancelled purchase was still booked once
    assert all(isinstance(r, dict) for r in results)
    with store.read() as conn:
        assert set(store.find_journals(conn, tenant, ["gone", *(f"w{n}" for n in range(5))])) == {
            "gone",
            *(f"w{n}" for n in range(5)),
        }
    assert clean(audit(store, tenant))


def test_a_tenant_another_process_owns_is_reached_through_the_inbox(
    store: Store, db_url: str, tenant: str
) -> None:
    if not store.postgres:
        pytest.skip("SQLite runs one process: the in-process writer is the only writer")
    second = Store.open(db_url, migrate_now=False)
    try:
        with WriterPool(store) as owner, WriterPool(second) as other:
            owner.call(buy(tenant, "p1"))

            async def main() -> list[Any]:
                return await _settled(
                    [
                        other.call_async(buy(tenant, "p2", "bob")),
                        other.call_async(
                            c.Sell(
                                tenant_id=tenant, idempotency_key="s", user="nobody", units=POINT
                            )
                        ),
                    ]
                )

            booked, refused = run_on_own_loop(main())
            assert owner.owns(tenant)
            assert not other.owns(tenant)
    finally:
        second.dispose()
    assert booked["journal_id"] == 2
    assert isinstance(refused, InsufficientBalance)
    assert clean(audit(store, tenant))
