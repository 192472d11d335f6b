"""Citus fixtures: a fresh database on the 3-node cluster per test session (``cluster.py``).

Every test here is marked ``citus``. Without a cluster they are skipped, saying how to start
one; when ``CI`` and ``TOKENMALL_CITUS`` are both set (``.ci/run`` started the cluster) a
missing cluster fails the run instead. The ledger's fixtures (``db_url``, ``store``,
``tenant``) are the integration suite's, on the cluster: the suites imported here run as they
do on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import cluster
import pytest

from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy import Params

# The integration suite's helpers (ledger_helpers, ledger_history), which its tests import.
sys.path.append(str(Path(__file__).resolve().parent.parent / "integration"))

SHARDS = "4"  # two shards a worker: placements on both with few tenants, a fast upgrade


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.citus)


def _require_cluster() -> None:
    problem = cluster.problem()
    if problem is None:
        return
    if os.environ.get("CI") and os.environ.get("TOKENMALL_CITUS"):
        pytest.fail(f"the Citus cluster must run in CI but: {problem}")
    pytest.skip(f"Citus tests need a cluster: {problem}; {cluster.HOW}")


@pytest.fixture(scope="session")
def cluster_ready() -> None:
    """The cluster answers (else skipped, or failed in CI: ``_require_cluster``)."""
    _require_cluster()


@pytest.fixture(scope="session")
def db_url() -> Iterator[str]:
    """A new database on the cluster (Citus set up, nothing migrated), one per session: its
    creation and distribution take seconds, and every test makes tenants of its own."""
    _require_cluster()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENMALL_CITUS_SHARD_COUNT", SHARDS)
        url = cluster.create_database("c_tokenmall")
        try:
            yield url
        finally:
            cluster.drop_database(url)


@pytest.fixture(scope="module")
def store(db_url: str) -> Iterator[Store]:
    """A migrated (so distributed) ``Store`` on the module's database."""
    s = Store.open(db_url)
    yield s
    s.dispose()


@pytest.fixture
def tenant(store: Store, request: pytest.FixtureRequest) -> str:
    """A new tenant with the default parameters, unique to the test."""
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    params = getattr(request, "param", None) or Params()
    with store.transaction() as conn:
        store.create_tenant(conn, tenant_id, params)
    return tenant_id
