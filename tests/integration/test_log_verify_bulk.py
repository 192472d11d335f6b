"""``verify_tenant`` reads the leaves and nodes in bulk; what it finds broken, and where, is what
the leaf-by-leaf and node-by-node checks name (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, text

from tokenmall import bootstrap
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.log import shapes
from tokenmall.domain.log.leaves import Event
from tokenmall.services.log import appending, leaf_scan, verify
from tokenmall.services.mall.uow import Database

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = bootstrap.log_config("a-test-secret-for-the-log-verify-tests", "test.tokenmall.example")


@pytest.fixture(scope="module")
def db(db_url: str) -> Iterator[Database]:
    database = bootstrap.open_database(db_url)
    bootstrap.upgrade(database.engine)
    yield database
    database.dispose()


def _events(start: int, count: int) -> list[Event]:
    out = []
    for k in range(start, start + count):
        token = f"col_a/{k}"
        if k % 7 == 3:  # a leaf with a nested object, spaces and Chinese: not a flat chunk
            fields: dict[str, object] = {
                "token": token,
                "note": "两瓶 一箱",
                "rights": {"b": [1, 2], "a": None},
            }
        else:
            fields = {"token": token, "from": "usr_a", "to": "usr_b", "serial": k}
        out.append(Event("transfer", token, fields))
    return out


def _log(db: Database, leaves: int = 40) -> str:
    """A tenant whose log holds ``leaves`` leaves, appended ten at a time, checkpoints signed."""
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    with db.unit() as unit:
        Store(unit.conn.engine).create_tenant(unit.conn, tenant_id)
        tenants_repo.add(unit.conn, tenant_id, "log test", MOMENT)
    for start in range(0, leaves, 10):
        with db.unit() as unit:
            appending.record(unit.log, CONFIG, tenant_id, _events(start, 10), MOMENT)
    return tenant_id


def _verdict(db: Database, tenant_id: str) -> verify.Verdict:
    with db.reading() as unit:
        return verify.verify_tenant(unit.log, CONFIG, tenant_id)


def _edit(db: Database, change: Callable[[Connection], object]) -> None:
    with db.unit() as unit:
        change(unit.conn)


def test_a_clean_log_verifies_and_recomputes_its_tree(db: Database) -> None:
    tenant_id = _log(db)
    found = _verdict(db, tenant_id)
    assert found.problem is None
    assert found.size == 40
    with db.reading() as unit:
        done = verify.recompute(unit.log, tenant_id)
        assert done.problem is None
        latest = unit.log.latest_checkpoint(tenant_id)
        assert latest is not None
        assert done.tree.root(latest.size) == latest.root
        assert [fields["index"] for fields in done.fields] == list(range(40))
        assert done.fields[3]["note"] == "两瓶 一箱"


@pytest.mark.parametrize(
    ("sql", "wanted", "size"),
    [
        (
            "DELETE FROM log_leaves WHERE tenant_id = :t AND idx = 21",
            "leaf 22: expected leaf 21 (the log has a gap)",
            21,
        ),
        ("UPDATE log_leaves SET type = 'mint' WHERE tenant_id = :t AND idx = 5", "leaf 5: its", 5),
        (
            "UPDATE log_nodes SET hash = :zero WHERE tenant_id = :t AND level = 2 AND idx = 3",
            "node (2, 3) over leaves 12..15 does not match",
            40,
        ),
        (
            "INSERT INTO log_nodes (tenant_id, level, idx, hash) VALUES (:t, 1, 20, :zero)",
            "node (1, 20) is stored but no leaf makes it",
            40,
        ),
        (
            "DELETE FROM log_nodes WHERE tenant_id = :t AND level = 3 AND idx = 1",
            "nodes are missing from the store",
            40,
        ),
    ],
)
def test_the_first_broken_leaf_or_node_is_named(
    db: Database, sql: str, wanted: str, size: int
) -> None:
    tenant_id = _log(db)
    _edit(db, lambda conn: conn.execute(text(sql), {"t": tenant_id, "zero": bytes(32)}))
    found = _verdict(db, tenant_id)
    assert found.problem is not None
    assert wanted in found.problem, found.problem
    assert found.size == size


def _rewrite(db: Database, tenant_id: str, index: int, old: bytes, new: bytes) -> None:
    with db.reading() as unit:
        leaf = unit.log.entries(tenant_id, index, index + 1)[0].leaf
    assert old in leaf
    _edit(
        db,
        lambda conn: conn.execute(
            text("UPDATE log_leaves SET leaf = :leaf WHERE tenant_id = :t AND idx = :i"),
            {"t": tenant_id, "i": index, "leaf": leaf.replace(old, new)},
        ),
    )


@pytest.mark.parametrize(
    ("index", "old", "new", "wanted"),
    [
        # canonical still, another owner: the stored leaf hash no longer matches
        (12, b"usr_b", b"usr_c", "leaf 12: its bytes no longer hash"),
        # the same object written with a space
        (30, b'"to":', b'"to": ', "leaf 30: not canonical JSON (edited?)"),
        # keys out of order
        (32, b'"from":"usr_a","index":32', b'"index":32,"from":"usr_a"', "leaf 32: not canonical"),
        # an integer JCS would not write
        (33, b'"serial":33', b'"serial":33.0', "leaf 33: not canonical JSON (edited?)"),
        # a leaf of the nested kind, its Chinese escaped
        (10, "两".encode(), b"\\u4e24", "leaf 10: not canonical JSON (edited?)"),
        (20, b'"index":20', b'"index":21', "leaf 20: its index or tenant field"),
        (25, b"{", b"[", "leaf 25: not JSON"),
    ],
)
def test_a_leaf_edited_in_place_is_named(
    db: Database, index: int, old: bytes, new: bytes, wanted: str
) -> None:
    tenant_id = _log(db)
    _rewrite(db, tenant_id, index, old, new)
    found = _verdict(db, tenant_id)
    assert found.problem is not None
    assert found.problem.startswith(wanted), found.problem
    assert found.size == (40 if index == 12 else index)


def test_a_flat_range_is_read_joined_and_vouched_for_by_its_shapes(db: Database) -> None:
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    with db.unit() as unit:
        Store(unit.conn.engine).create_tenant(unit.conn, tenant_id)
        tenants_repo.add(unit.conn, tenant_id, "log test", MOMENT)
    flat = [
        Event("transfer", f"col_a/{k}", {"token": f"col_a/{k}", "to": "用户乙"}) for k in range(25)
    ]
    with db.unit() as unit:
        appending.record(unit.log, CONFIG, tenant_id, flat, MOMENT)
    with db.reading() as unit:
        stored = [leaf.leaf for leaf in unit.log.entries(tenant_id, 0, 25)]
        run = unit.log.leaf_run(tenant_id, 0, 50_000)
        assert (run.count, run.first, run.last, run.low, run.high) == (
            25,
            0,
            24,
            "transfer",
            "transfer",
        )
        assert run.leaves == b"\n".join(stored)
        found = leaf_scan._vouched_run(unit.log, shapes.Shapes(tenant_id), tenant_id, 0, 10)
        assert found == stored[:10]
        joined, count, even = unit.log.node_run(tenant_id, 0, 0, 25)
        assert (count, even, len(joined)) == (25, True, 25 * 32)
    assert _verdict(db, tenant_id).problem is None
