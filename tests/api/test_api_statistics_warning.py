"""At start, a server on a PostgreSQL whose autovacuum is off says once that the planner's
statistics are not refreshed, and what to do (``tokenmall db analyze``); on a database that
keeps them it says nothing of it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tokenmall import bootstrap
from tokenmall.web import app as web_app


def _said_at_start(server: Any, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.set_level(logging.WARNING, logger="tokenmall.web")
    caplog.clear()
    app = web_app.create_app(
        server.app.state.settings, server.app.state.database, configure_logging=False
    )
    with TestClient(app):
        pass
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_the_server_warns_when_the_database_does_not_keep_its_statistics(
    server: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "statistics_kept", lambda engine: False)
    said = _said_at_start(server, caplog)
    assert said.count(web_app.STALE_STATISTICS) == 1
    assert "tokenmall db analyze" in web_app.STALE_STATISTICS


def test_nothing_is_said_of_it_when_the_database_keeps_them(
    server: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "statistics_kept", lambda engine: True)
    assert web_app.STALE_STATISTICS not in _said_at_start(server, caplog)


def test_what_the_database_says_of_autovacuum_is_what_the_server_goes_by(server: Any) -> None:
    engine = server.app.state.database.engine
    kept = bootstrap.statistics_kept(engine)
    if engine.dialect.name != "postgresql":
        assert kept is True  # SQLite's planner does not depend on statistics kept for it
        return
    with engine.connect() as conn:
        on = conn.exec_driver_sql("SELECT current_setting('autovacuum')").scalar_one() == "on"
    assert kept is on
