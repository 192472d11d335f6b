"""The PostgreSQL pool pings a connection only after it sat idle, and replaces a dead one.

A connection just returned to the pool is handed out again without a round trip; one that sat
idle past ``PING_AFTER_IDLE`` is pinged, and one whose server process is gone is replaced
before the caller sees it (the caller's transaction runs on a fresh connection)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tokenmall.adapters.db import engine as engines
from tokenmall.adapters.db.engine import make_engine


@pytest.fixture
def pg_engine(db_url: str) -> Iterator[Engine]:
    if not db_url.startswith("postgresql"):
        pytest.skip("the pool's ping is PostgreSQL's (SQLite opens a file)")
    engine = make_engine(db_url, pool_size=1)
    yield engine
    engine.dispose()


def _pings(engine: Engine) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return real(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_in_use_a_moment_ago_is_not_pinged(pg_engine: Engine) -> None:
    pings = _pings(pg_engine)
    first = _backend_pid(pg_engine)
    assert [_backend_pid(pg_engine) for _ in range(5)] == [first] * 5
    assert pings == []


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _pings(pg_engine)
    first = _backend_pid(pg_engine)
    monkeypatch.setattr(engines, "PING_AFTER_IDLE", 0.0)
    assert _backend_pid(pg_engine) == first  # alive: pinged, kept
    assert pings == [1]
    other = make_engine(pg_engine.url.render_as_string(hide_password=False))
    with other.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    other.dispose()
    again = _backend_pid(pg_engine)  # the dead one failed its ping and was replaced
    assert again != first
    assert len(pings) >= 2
