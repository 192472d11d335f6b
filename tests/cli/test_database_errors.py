"""A database the command cannot use is a user's mistake: one line naming it, exit 2, no
traceback, nothing created. A database failing in the middle of a command: one line, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer

from tokenmall.adapters.db.engine import UnsupportedDatabase, make_engine
from tokenmall.cli import errors

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"

COMMANDS = [
    ("audit",),
    ("db", "upgrade"),
    ("db", "analyze"),
    ("settle",),
    ("report", "--tenant", "t1"),
    ("bench", "ledger", "--clients", "1", "--seconds", "0.1", "--holders", "10"),
]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmall", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _pg_databases() -> set[str]:
    engine = sa.create_engine(f"{PG_SERVER}/test")
    try:
        with engine.connect() as conn:
            return set(conn.scalars(sa.text("SELECT datname FROM pg_database")))
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "not a database URL: 'notaurl'"),
        ("mysql://someone@localhost/shop", "'mysql' databases are not supported"),
        ("postgresql://postgres@127.0.0.1:1/x", "cannot connect to the database"),
    ],
    ids=["unparsable", "unsupported", "no-server"],
)
def test_a_database_that_cannot_be_opened_is_one_line_and_exit_2(
    command: tuple[str, ...], url: str, says: str
) -> None:
    result = run(*command, "--database", url)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"tokenmall {' '.join(w for w in command[:2] if not w.startswith('-'))}:" in (
        result.stderr
    )
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_missing_postgres_database_is_named_and_not_created() -> None:
    name = f"missing_{uuid.uuid4().hex[:10]}"
    try:
        before = _pg_databases()
    except sa.exc.OperationalError:
        pytest.skip("no PostgreSQL server")
    result = run("audit", "--database", f"{PG_SERVER}/{name}")
    assert result.returncode == 2
    assert f'database "{name}" does not exist' in result.stderr
    assert "Traceback" not in result.stderr
    assert _pg_databases() == before


def test_the_environment_variable_is_checked_the_same_way(tmp_path: Path) -> None:
    result = run("audit", env={"TOKENMALL_DATABASE_URL": "oracle://scott:tiger@db/orcl"})
    assert result.returncode == 2
    assert "'oracle' databases are not supported" in result.stderr
    assert "Traceback" not in result.stderr
    # and a good one still works
    env = {"TOKENMALL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    assert run("db", "upgrade", env=env).returncode == 0
    ok = run("audit", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "audit clean" in ok.stdout


@pytest.mark.parametrize(
    "command",
    [("audit",), ("report", "--tenant", "t1"), ("settle",), ("db", "analyze")],
    ids=str,
)
def test_a_missing_sqlite_file_is_named_and_not_created(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # a command that works on what is there, pointed at a file that is not (a typo in the
    # path), must not create an empty database and report on nothing ("audit clean", or a
    # cron job settling "no tenants" every night)
    missing = tmp_path / "typo" / "tokenmall.db"
    result = run(*command, "--database", f"sqlite:///{missing}")
    assert result.returncode == 2
    assert f"no database at {missing}" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not missing.exists()
    assert not missing.parent.exists()


def test_a_password_in_an_unparsable_url_is_not_printed() -> None:
    with pytest.raises(UnsupportedDatabase) as caught:
        make_engine("post gres://shop:s3cret@db/x")
    assert "s3cret" not in str(caught.value)
    assert "shop:***@db" in str(caught.value)


def test_a_database_failing_mid_command_exits_1(capsys: Any) -> None:
    def command() -> None:
        raise sa.exc.OperationalError(
            "UPDATE holders SET cash = 1", {}, Exception("server closed the connection\nmore")
        )

    with pytest.raises(typer.Exit) as caught:
        errors._guarded(command)()
    assert caught.value.exit_code == 1
    err = capsys.readouterr().err
    assert "the database failed: server closed the connection" in err
    assert "more" not in err


def test_other_errors_are_not_hidden() -> None:
    def command() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        errors._guarded(command)()


def test_every_command_is_guarded() -> None:
    from tokenmall.cli.main import app

    def callbacks(typer_app: typer.Typer) -> list[Any]:
        found = [info.callback for info in typer_app.registered_commands]
        for group in typer_app.registered_groups:
            assert group.typer_instance is not None
            found += callbacks(group.typer_instance)
        return found

    found = callbacks(app)
    assert len(found) >= 10
    assert all(getattr(callback, "_tokenmall_guarded", False) for callback in found)
