"""Calls of a worker's tenants combined into one transaction there (``citus_direct``): all
committed and answered together, while one tenant's replayed keys or stale route stay that
tenant's alone, and nothing acknowledged is lost.

Each test holds the worker's one transaction busy until every tenant's writer has a call
waiting, then lets them go: the next transaction takes them all (``_Pool.join``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from test_citus_direct import booked, buy, new_tenant, placed

from tokenmall.adapters.db import citus
from tokenmall.adapters.db.citus_direct import DirectRoutes, _Call
from tokenmall.adapters.db.store import Store
from tokenmall.services.ledger.audit import audit
from tokenmall.services.writers.pool import WriterPool

Group = list[tuple[str, Any, BaseException | None]]


@pytest.fixture
def combining(store: Store) -> Iterator[Store]:
    """A store whose writers send straight to the workers, one transaction a worker at once."""
    combining = Store(store.engine, citus_direct=True, citus_direct_connections=1)
    yield combining
    assert combining.direct is not None
    combining.direct.close()


def tenants_on_one_worker(store: Store, count: int) -> tuple[citus.Worker, list[str], str]:
    """``count`` new tenants placed on one worker, and a new tenant placed on the other."""
    by_worker: dict[citus.Worker, list[str]] = {}
    for _ in range(64):
        tenant = new_tenant(store)
        by_worker.setdefault(placed(store, tenant)[0], []).append(tenant)
        for worker, tenants in by_worker.items():
            others = [t for w, ts in by_worker.items() if w != worker for t in ts]
            if len(tenants) >= count and others:
                return worker, tenants[:count], others[0]
    raise AssertionError("no placement of the kind wanted in 64 tenants")


def spy_groups(direct: DirectRoutes, monkeypatch: pytest.MonkeyPatch) -> list[Group]:
    """Each transaction ``direct`` sends from now on: its calls' tenants, answers and errors."""
    groups: list[Group] = []
    run = direct._run

    def spy(worker: citus.Worker, pool: Any, group: list[_Call], on_send: Any) -> None:
        try:
            run(worker, pool, group, on_send)
        finally:
            groups.append([(c.tenant_id, c.answers, c.error) for c in group])

    monkeypatch.setattr(direct, "_run", spy)
    return groups


def book_held(
    store: Store, worker: citus.Worker, purchases: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """Submit every tenant's purchases at once while ``worker``'s transactions are held busy,
    until a call of each tenant waits there; then let them go. Each tenant's answers."""
    direct = store.direct
    assert direct is not None
    pool = direct._pool(worker)
    assert pool.combines  # (the worker has the isolated call: connected once already)
    with pool.ready:
        pool.flights = pool.size
    futures: dict[str, list[Future[Any]]] = {}
    with WriterPool(store) as writers:
        try:
            for tenant, commands in purchases.items():
                futures[tenant] = [writers.submit(command) for command in commands]
            deadline = time.monotonic() + 30
            while {c.tenant_id for c in pool.pending} != set(purchases):
                assert time.monotonic() < deadline, "the tenants' calls did not all wait"
                time.sleep(0.01)
        finally:
            with pool.ready:
                pool.flights = 0
                pool.ready.notify_all()
        return {t: [f.result(timeout=60) for f in fs] for t, fs in futures.items()}


def warm(store: Store, tenants: list[str]) -> None:
    """Book one batch for each tenant (the worker's connection opened, the writers' books
    loaded)."""
    with WriterPool(store) as writers:
        futures = [writers.submit(buy(t, f"w{n}", n)) for t in tenants for n in range(4)]
        for future in futures:
            future.result(timeout=60)


def the_combined(groups: list[Group], tenants: list[str]) -> Group:
    """The first transaction that held a call of each of ``tenants``."""
    for group in groups:
        if {tenant for tenant, _, _ in group} >= set(tenants):
            return group
    raise AssertionError(f"no transaction combined {tenants}: {groups}")


def test_calls_of_several_tenants_commit_in_one_transaction(
    combining: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given three tenants on one worker whose writers send straight to it
    assert combining.direct is not None
    worker, tenants, _ = tenants_on_one_worker(combining, 3)
    warm(combining, tenants)
    groups = spy_groups(combining.direct, monkeypatch)
    transactions = combining.direct.transactions[str(worker)]
    # when each books purchases while the worker's transaction is busy
    keys = {t: [f"k{n}" for n in range(12)] for t in tenants}
    book_held(
        combining, worker, {t: [buy(t, k, n) for n, k in enumerate(ks)] for t, ks in keys.items()}
    )
    # then one transaction wrote a call of each, each written (answered ``[]``)
    group = the_combined(groups, tenants)
    assert [(answers, error) for _, answers, error in group] == [([b"[]"], None)] * len(group)
    assert combining.direct.transactions[str(worker)] > transactions
    # and every purchase is booked, the audits clean
    for tenant in tenants:
        assert booked(combining, tenant, keys[tenant]) == 12
        assert audit(combining, tenant)[0].findings == []


def test_a_tenants_replayed_keys_in_a_combined_transaction_are_its_alone(
    combining: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given three tenants on one worker, the second with purchases already booked
    assert combining.direct is not None
    worker, (first, replaying, third), _ = tenants_on_one_worker(combining, 3)
    warm(combining, [first, replaying, third])
    again = [buy(replaying, f"r{n}", n) for n in range(10)]
    with WriterPool(combining) as writers:
        futures = [writers.submit(command) for command in again]
        answered = [future.result(timeout=60) for future in futures]
    groups = spy_groups(combining.direct, monkeypatch)
    # when the same purchases come again with new ones of the others, the worker busy
    fresh = {t: [buy(t, f"f{n}", n) for n in range(12)] for t in (first, third)}
    answers = book_held(
        combining, worker, {first: fresh[first], replaying: again, third: fresh[third]}
    )
    # then the transaction that held all three wrote the others' and found the replayed keys
    group = {
        tenant: (answer, error)
        for tenant, answer, error in the_combined(groups, [first, replaying, third])
    }
    assert group[first] == group[third] == ([b"[]"], None)
    replayed, error = group[replaying]
    assert error is None
    assert replayed is not None
    assert replayed[0] != b"[]"
    # and the replays are answered with their first answers, nothing booked twice
    assert answers[replaying] == answered
    assert booked(combining, replaying, [c.idempotency_key for c in again]) == 10
    for tenant in (first, replaying, third):
        assert audit(combining, tenant)[0].findings == []
    # and the others' purchases are all booked
    for tenant in (first, third):
        assert booked(combining, tenant, [c.idempotency_key for c in fresh[tenant]]) == 12


def test_a_stale_route_in_a_combined_transaction_re_routes_that_tenant_alone(
    combining: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two tenants on one worker, and a third placed on the other but routed to it
    direct = combining.direct
    assert direct is not None
    worker, (first, second), elsewhere = tenants_on_one_worker(combining, 2)
    warm(combining, [first, second, elsewhere])
    home = direct.worker_of(elsewhere)
    assert home is not None
    assert home != worker
    direct.route(elsewhere, worker)
    refused = direct.refused[str(worker)]
    groups = spy_groups(direct, monkeypatch)
    # when all three book while the worker's transaction is busy
    purchases = {t: [buy(t, f"s{n}", n) for n in range(12)] for t in (first, second, elsewhere)}
    answers = book_held(combining, worker, purchases)
    # then the worker refused the stranger's call alone, and wrote the other two
    group = {
        tenant: (answer, error) for tenant, answer, error in the_combined(groups, list(purchases))
    }
    assert group[elsewhere] == (None, None)
    assert group[first] == group[second] == ([b"[]"], None)
    assert direct.refused[str(worker)] == refused + 1
    # and the stranger's writer re-routed to its own worker; every purchase acknowledged is booked
    assert direct.worker_of(elsewhere) == home
    for tenant, commands in purchases.items():
        assert len(answers[tenant]) == 12
        assert booked(combining, tenant, [c.idempotency_key for c in commands]) == 12
        assert audit(combining, tenant)[0].findings == []
