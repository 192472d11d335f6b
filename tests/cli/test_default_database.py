"""One database for every command after ``tokenmall demo``: with nothing naming a database and
no default file, ``report`` and ``audit`` find the demo's; a named database always wins; with
neither file, the error names the default. ``tokenmall demo`` takes ``TOKENMALL_PORT``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tokenmall.adapters.db.settings import existing_database_url


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMALL_")}
    return subprocess.run(
        [sys.executable, "-m", "tokenmall", *args],
        capture_output=True, text=True, encoding="utf-8", timeout=300, check=False,
        env={**clean, **env},
    )  # fmt: skip


def test_the_demos_database_is_found_when_nothing_else_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOKENMALL_DATABASE_URL", raising=False)
    monkeypatch.setenv("TOKENMALL_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    folder = tmp_path / "tokenmall"
    assert existing_database_url().endswith(str(folder / "tokenmall.db"))  # neither: the default
    folder.mkdir()
    (folder / "demo.db").write_bytes(b"")
    assert existing_database_url().endswith(str(folder / "demo.db"))
    (folder / "tokenmall.db").write_bytes(b"")
    assert existing_database_url().endswith(str(folder / "tokenmall.db"))  # the main one wins
    assert existing_database_url("sqlite:////elsewhere.db") == "sqlite:////elsewhere.db"
    monkeypatch.setenv("TOKENMALL_DATABASE_URL", "sqlite:////named.db")
    assert existing_database_url() == "sqlite:////named.db"


def test_report_and_audit_after_the_demo_use_its_database(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path), "TOKENMALL_ENV_FILE": str(tmp_path / "none.env")}
    missing = _run("audit", env=env)
    assert missing.returncode == 2
    assert "tokenmall.db" in missing.stderr
    assert "Traceback" not in missing.stderr
    made = _run("demo", "--no-serve", env={**env, "TOKENMALL_PORT": "8123"})
    assert made.returncode == 0, made.stderr
    assert "Mall (H5):        http://127.0.0.1:8123/" in made.stdout  # the port the settings name
    assert str(tmp_path / "tokenmall" / "demo.db") in made.stdout
    audited = _run("audit", env=env)
    assert audited.returncode == 0, audited.stderr + audited.stdout
    assert "no database" not in audited.stderr
