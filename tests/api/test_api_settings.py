"""Settings are read through ``Settings`` only, under their ``TOKENMALL_*`` names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenmall.adapters.db.settings import database_url
from tokenmall.config import Settings


def test_group_commit_is_on_unless_the_environment_turns_it_off(monkeypatch: Any) -> None:
    monkeypatch.delenv("TOKENMALL_GROUP_COMMIT", raising=False)
    assert Settings(_env_file=None).group_commit is True  # type: ignore[call-arg]
    for off in ("false", "0", "no", "off", "FALSE"):
        monkeypatch.setenv("TOKENMALL_GROUP_COMMIT", off)
        assert Settings(_env_file=None).group_commit is False  # type: ignore[call-arg]


def test_the_database_url_is_explicit_else_the_settings(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("TOKENMALL_DATABASE_URL", "sqlite:///from-env.db")
    assert database_url("sqlite:///explicit.db") == "sqlite:///explicit.db"
    assert database_url() == "sqlite:///from-env.db"
    monkeypatch.delenv("TOKENMALL_DATABASE_URL")
    assert database_url().startswith("sqlite:///")
    assert database_url().endswith("tokenmall.db")
