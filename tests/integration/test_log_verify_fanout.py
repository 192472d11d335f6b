"""``verify_tenant`` with its leaf ranges checked by worker processes (``services/log/fanout``),
forced on for small logs (two workers, ranges of 8 leaves): the same verdict, the same first
broken leaf or node, wherever the ranges cut the log (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import create_engine, text
from test_log_verify_bulk import CONFIG, MOMENT, _edit, _events, _log, _rewrite

from tokenmall import bootstrap
from tokenmall.domain.log.leaves import Event
from tokenmall.services.log import appending, fanout, public, verify
from tokenmall.services.log.verify import Fields
from tokenmall.services.mall.uow import Database

CHUNK = 8  # 40 leaves: five ranges, the halves cut at leaf 16 and 24 and 32


@pytest.fixture(scope="module")
def db(db_url: str) -> Iterator[Database]:
    database = bootstrap.open_database(db_url)
    bootstrap.upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def workers(db: Database) -> Iterator[fanout.Fanout]:
    url = fanout.shareable_url(db)
    assert url is not None
    with fanout.Fanout(url, jobs=2, threshold=1, chunk=CHUNK) as pool:
        yield pool


def _both(db: Database, workers: fanout.Fanout, tenant_id: str) -> verify.Verdict:
    """The verdict through the workers, asserted equal to the one of a single process."""
    with db.reading() as unit:
        done = workers.recompute(unit.log, tenant_id)
        assert done is not None  # the workers checked it
        alone = verify.verify_tenant(unit.log, CONFIG, tenant_id)
        fanned = verify.verify_tenant(unit.log, CONFIG, tenant_id, fanout=workers)
    assert fanned == alone
    return fanned


def test_a_clean_log_is_checked_by_the_workers_with_the_tree_of_one_process(
    db: Database, workers: fanout.Fanout
) -> None:
    tenant_id = _log(db, 45)  # five ranges of 8 and one of 5
    with db.reading() as unit:
        done = workers.recompute(unit.log, tenant_id)
        alone = verify.recompute(unit.log, tenant_id)
        assert done is not None
        assert done.problem is None
        assert done.nodes_hold
        assert done.nodes_checked == 4  # levels 0..3 compared by the workers
        assert done.tree.levels == alone.tree.levels
        assert done.fields_at(3)["note"] == "两瓶 一箱"  # one leaf read back
        assert done.leaves == alone.leaves  # all read back (the state checks)
        assert done.fields == alone.fields
    assert _both(db, workers, tenant_id).problem is None


def test_the_state_checks_see_every_leaf_read_back_for_them(db: Database) -> None:
    tenant_id = _log(db, 40)
    seen: list[Sequence[tuple[int, Fields]]] = []

    def check(tenant: str, leaves: Sequence[tuple[int, Fields]]) -> str | None:
        seen.append(leaves)
        return None

    alone = public.verify(db, CONFIG, tenant_id, [check])
    fanned = public.verify(db, CONFIG, tenant_id, [check], jobs=2, threshold=1)
    assert fanned == alone
    assert fanned[0].problem is None
    assert seen[0] == seen[1]
    assert [index for index, _ in seen[1]] == list(range(40))


@pytest.mark.parametrize(
    ("edits", "wanted", "size"),
    [
        # the second half: leaf 30 in the fourth range
        ([(30, b'"to":', b'"to": ')], "leaf 30: not canonical JSON (edited?)", 30),
        # both halves: the earlier one is named, though its range is not the first to finish
        ([(30, b'"to":', b'"to": '), (5, b'"index":5', b'"index":6')], "leaf 5: its index", 5),
        ([(33, b"{", b"["), (18, b'"serial":18', b'"serial":18.0')], "leaf 18: not canonical", 18),
        # still canonical, another owner: found by its stored hash, after every leaf held
        ([(12, b"usr_b", b"usr_c"), (36, b"usr_b", b"usr_c")], "leaf 12: its bytes no longer", 40),
        ([(36, b"usr_b", b"usr_c")], "leaf 36: its bytes no longer hash", 40),
    ],
)
def test_the_first_broken_leaf_is_named_whichever_range_holds_it(
    db: Database,
    workers: fanout.Fanout,
    edits: list[tuple[int, bytes, bytes]],
    wanted: str,
    size: int,
) -> None:
    tenant_id = _log(db, 40)
    for index, old, new in edits:
        _rewrite(db, tenant_id, index, old, new)
    found = _both(db, workers, tenant_id)
    assert found.problem is not None
    assert found.problem.startswith(wanted), found.problem
    assert found.size == size


NODE = "UPDATE log_nodes SET hash = :zero WHERE tenant_id = :t AND level = {} AND idx = {}"
LEAF = "DELETE FROM log_leaves WHERE tenant_id = :t AND idx IN ({})"


@pytest.mark.parametrize(
    ("sqls", "wanted", "size"),
    [
        # a node a worker compares, in the second half
        ([NODE.format(1, 17)], "node (1, 17) over leaves 34..35 does not match", 40),
        # nodes in both halves: the first by level, then index
        ([NODE.format(2, 8), NODE.format(1, 3)], "node (1, 3) over leaves 6..7", 40),
        # a node above the ranges, which the parent compares
        ([NODE.format(4, 1)], "node (4, 1) over leaves 16..31 does not match", 40),
        (
            ["DELETE FROM log_nodes WHERE tenant_id = :t AND level = 1 AND idx = 18"],
            "nodes are missing from the store",
            40,
        ),
        # a gap where two ranges meet, and one past the count the ranges were cut by
        ([LEAF.format("15, 16")], "leaf 17: expected leaf 15 (the log has a gap)", 15),
        ([LEAF.format("30"), LEAF.format("4")], "leaf 5: expected leaf 4", 4),
        (
            [
                "UPDATE log_leaves SET idx = 44 WHERE tenant_id = :t AND idx = 39",
                "DELETE FROM log_leaves WHERE tenant_id = :t AND idx = 38",
            ],
            "leaf 44: expected leaf 38 (the log has a gap)",
            38,
        ),
    ],
)
def test_the_first_broken_node_or_gap_is_named_whichever_range_holds_it(
    db: Database, workers: fanout.Fanout, sqls: list[str], wanted: str, size: int
) -> None:
    tenant_id = _log(db, 40)
    for sql in sqls:
        _edit(
            db, lambda conn, sql=sql: conn.execute(text(sql), {"t": tenant_id, "zero": bytes(32)})
        )
    found = _both(db, workers, tenant_id)
    assert found.problem is not None
    assert found.problem.startswith(wanted), found.problem
    assert found.size == size


def test_one_process_checks_a_small_log_one_job_or_a_database_in_memory(db: Database) -> None:
    tenant_id = _log(db, 20)
    url = fanout.shareable_url(db)
    for memory in ("sqlite://", "sqlite:///:memory:"):
        assert fanout.shareable_url(Database(create_engine(memory))) is None
    with db.reading() as unit:
        for workers in (
            fanout.Fanout(url, jobs=2, threshold=21, chunk=CHUNK),
            fanout.Fanout(url, jobs=1, threshold=1, chunk=CHUNK),
            fanout.Fanout(None, jobs=2, threshold=1, chunk=CHUNK),
        ):
            with workers:
                assert workers.recompute(unit.log, tenant_id) is None
        with fanout.Fanout(url, jobs=2, threshold=20, chunk=CHUNK) as workers:
            assert workers.recompute(unit.log, tenant_id) is not None
    with pytest.raises(ValueError, match="power of two"):
        fanout.Fanout(url, jobs=2, chunk=12)


def test_a_recomputation_without_the_nodes_leaves_them_to_be_compared(
    db: Database, workers: fanout.Fanout
) -> None:
    tenant_id = _log(db, 40)
    _edit(
        db, lambda conn: conn.execute(text(NODE.format(1, 5)), {"t": tenant_id, "zero": bytes(32)})
    )
    with db.reading() as unit:
        bare = workers.recompute(unit.log, tenant_id, nodes=False)
        checked = workers.recompute(unit.log, tenant_id)
    assert bare is not None
    assert checked is not None
    assert (bare.problem, bare.nodes_checked, bare.nodes_hold) == (None, 0, True)
    assert (checked.problem, checked.nodes_checked, checked.nodes_hold) == (None, 4, False)
    assert bare.tree.levels == checked.tree.levels
    found = _both(db, workers, tenant_id)
    assert found.problem is not None
    assert found.problem.startswith("node (1, 5) over leaves 10..11 does not match")


def test_a_day_leaf_without_its_record_is_named_when_the_workers_checked_the_leaves(
    db: Database, workers: fanout.Fanout
) -> None:
    """The leaves checked in worker processes are not kept in the main one: the day leaves are
    found by their stored type there, with the same verdict as a single process's."""
    tenant_id = _log(db, 30)
    day = Event(
        "ledger_day",
        "day/2026-12-05",
        {"day": "2026-12-05", "digest": "00" * 32, "journals": 0},
    )
    with db.unit() as unit:
        appending.record(unit.log, CONFIG, tenant_id, [day], MOMENT)
    with db.unit() as unit:
        appending.record(unit.log, CONFIG, tenant_id, _events(31, 10), MOMENT)
    found = _both(db, workers, tenant_id)
    assert found.problem is not None
    assert found.problem.startswith("leaf 30: a ledger day leaf whose day is not recorded")
