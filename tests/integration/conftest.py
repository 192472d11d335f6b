"""Integration fixtures: every test here runs on SQLite AND on PostgreSQL.

``db_url`` is parametrized over a fresh SQLite file and a fresh PostgreSQL schema per test
module (its URL sets ``search_path``, so every connection, child processes included, sees only
that schema). PostgreSQL is skipped only when the server is unreachable AND ``CI`` is unset; in
CI an unreachable server fails the run. ``TOKENMALL_TEST_PG_URL`` points at another server.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy import Params

PG_URL = os.environ.get(
    "TOKENMALL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(_libpq(PG_URL), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database URL with nothing in it yet, one per test module and backend."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        yield f"sqlite:///{folder / 'tokenmall.db'}"
        return
    problem = _pg_reachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must run in CI but is unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem}); set CI=1 to make this an error")
    module = re.sub(r"[^a-z0-9]", "_", request.module.__name__.rsplit(".", 1)[-1].lower())
    schema = f"t_{module[:40]}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def store(db_url: str) -> Iterator[Store]:
    """A migrated ``Store`` on the module's database."""
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
