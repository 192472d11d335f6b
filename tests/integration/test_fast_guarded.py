"""``fast.guarded_update``: an update that must change one row, sent inside a PostgreSQL
pipeline and checked when the pipeline ends (the paid callback's moves of its payment and
order in the tenant's writer); outside a pipeline the adapters check it at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall.tables import tenants as mall_tenants
from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import Conflict

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RENAME = "UPDATE mall_tenants SET name = %(name)s WHERE tenant_id = %(tenant_id)s"


def _names(store: Store, tenant: str) -> list[str]:
    with store.transaction() as conn:
        query = select(mall_tenants.c.name).where(mall_tenants.c.tenant_id == tenant)
        return [str(name) for name in conn.execute(query).scalars()]


def _shop(store: Store, tenant: str) -> None:
    with store.transaction() as conn:
        fast.insert_dicts(
            conn, mall_tenants, [{"tenant_id": tenant, "name": "Shop", "created_at": NOW}]
        )


def test_outside_a_pipeline_nothing_is_deferred(store: Store, tenant: str) -> None:
    with store.transaction() as conn:
        assert not fast.in_pipeline(conn)
        with fast.pipeline(conn, store.postgres):
            assert fast.in_pipeline(conn) is store.postgres


def test_a_guarded_update_that_changed_its_row_passes(store: Store, tenant: str) -> None:
    if not store.postgres:
        pytest.skip("pipelines: PostgreSQL")
    _shop(store, tenant)
    with store.transaction() as conn, fast.pipeline(conn, True):
        fast.guarded_update(
            conn, RENAME, {"name": "Renamed", "tenant_id": tenant}, lambda: Conflict("moved")
        )
    assert _names(store, tenant) == ["Renamed"]


def test_a_guarded_update_that_found_no_row_refuses_the_block(store: Store, tenant: str) -> None:
    """The refusal is raised when the pipeline ends, and the block's other writes roll back
    with the transaction: nothing changed."""
    if not store.postgres:
        pytest.skip("pipelines: PostgreSQL")
    _shop(store, tenant)
    with (
        pytest.raises(Conflict, match="moved"),
        store.transaction() as conn,
        fast.pipeline(conn, True),
    ):
        fast.guarded_update(
            conn, RENAME, {"name": "First", "tenant_id": tenant}, lambda: Conflict("x")
        )
        fast.guarded_update(
            conn, RENAME, {"name": "Nobody", "tenant_id": "no-such"}, lambda: Conflict("moved")
        )
    assert _names(store, tenant) == ["Shop"]
    # The next pipeline on a connection starts with no pending check.
    with store.transaction() as conn, fast.pipeline(conn, True):
        fast.guarded_update(
            conn, RENAME, {"name": "Later", "tenant_id": tenant}, lambda: Conflict("x")
        )
    assert _names(store, tenant) == ["Later"]
