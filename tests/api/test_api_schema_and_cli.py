"""The mall's migration matches its tables; ``tokenmall serve`` and ``tokenmall operator create``
work as commands; readiness says when the schema is behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.engine import make_engine
from tokenmall.adapters.db.mall.tables import MALL_TABLES
from tokenmall.adapters.db.schema_all import metadata
from tokenmall.services.mall.uow import Database
from tokenmall.web import readiness


def test_the_migration_creates_exactly_the_mall_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        ours = [d for d in diffs if "mall_" in repr(d)]
        assert ours == []
        assert len(MALL_TABLES) == 11
    finally:
        engine.dispose()


def test_readiness_reports_a_schema_behind_head(tmp_path: Path) -> None:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    try:
        checks = readiness.check(db)
        assert checks["database"] == "ok"
        assert checks["migrations"].startswith("at nothing, head is")
        migrate.upgrade(db.engine)
        assert readiness.check(db) == {"database": "ok", "migrations": "ok"}
    finally:
        db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_operator_create_then_serve_as_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TOKENMALL_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "TOKENMALL_OPERATOR_PASSWORD": "cli-operator-pw",
        "TOKENMALL_ENV_FILE": str(tmp_path / "none.env"),
        # settings ``serve`` starts with outside development mode
        "TOKENMALL_SECRET_KEY": "cli-test-secret-" + "c" * 32,
        "TOKENMALL_SANDBOX_GATEWAY": "false",
    }
    cli = [sys.executable, "-m", "tokenmall"]
    created = subprocess.run(
        [*cli, "operator", "create", "--email", "Ops@Example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert "created for ops@example.com" in created.stdout
    again = subprocess.run(
        [*cli, "operator", "create", "--email", "ops@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 2
    assert "already exists" in again.stderr
    port = _free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        login = httpx.post(
            f"{base}/api/v1/platform/login",
            json={"email": "ops@example.com", "password": "cli-operator-pw"},
            headers={"X-Request-ID": "cli-test-1"},
        )
        assert login.status_code == 200
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "cli-test-1"]
    assert access
    assert access[0]["path"] == "/api/v1/platform/login"
    assert access[0]["status"] == 200
