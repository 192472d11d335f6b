"""A database that cannot take a request (no connection to be had, a lock given up on) is
answered 503 with ``Retry-After`` and the error body, never a 500: nothing was committed, and
the same request with the same Idempotency-Key may be sent again."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from served import app_settings
from tokenmall.web.app import create_app


def test_an_unreachable_database_answers_503_with_retry_after() -> None:
    # Nothing listens on port 1: every connection is refused.
    app = create_app(
        app_settings("postgresql+psycopg://postgres@127.0.0.1:1/nothing"), configure_logging=False
    )
    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: no start-up checks
    answer = client.get("/api/v1/tenants/t1/nfg/drops/c1")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["error"]["code"] == "busy"


def test_a_lock_given_up_on_answers_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'busy.db'}"), configure_logging=False)

    def locked(*args: object, **kwargs: object) -> None:
        raise OperationalError("SELECT …", {}, Exception("lock timeout"))

    with TestClient(app, raise_server_exceptions=False) as client:
        monkeypatch.setattr(type(app.state.database), "reading", locked)
        answer = client.get("/api/v1/tenants/t1/nfg/drops/c1")
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "busy"
