"""Unsafe defaults: ``tokenmall serve`` and ``tokenmall scheduler`` refuse to start, outside
development mode, with the public default secret key, a short one, or the sandbox gateway on
(exit 2, one sentence saying what to set, no traceback); with safe settings they start, and in
development mode they start with a warning in the log and a banner on every page."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tokenmall.cli.demo import demo_settings
from tokenmall.config import DEFAULT_SECRET_KEY, Settings

GOOD_SECRET = "k" * 20 + "-a-proper-random-secret-of-48-chars"
BANNER_ZH = "开发模式"
BANNER_EN = "Development mode: not for real users or real money."
CLI = [sys.executable, "-m", "tokenmall"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no TOKENMALL_* of the caller's, no env file, a fresh SQLite file."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMALL_")}
    return {
        **clean,
        "TOKENMALL_DATABASE_URL": f"sqlite:///{tmp_path / 'safety.db'}",
        "TOKENMALL_ENV_FILE": str(tmp_path / "none.env"),
        "TOKENMALL_INSECURE_FAST_PASSWORD_HASHING": "true",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


UNSAFE = [
    pytest.param(
        {}, ["TOKENMALL_SECRET_KEY is the built-in default", "SANDBOX_GATEWAY=false"], id="defaults"
    ),
    pytest.param(
        {"TOKENMALL_SECRET_KEY": "short-secret", "TOKENMALL_SANDBOX_GATEWAY": "false"},
        ["TOKENMALL_SECRET_KEY is 12 characters long", "at least 32 characters"],
        id="short-secret",
    ),
    pytest.param(
        {"TOKENMALL_SECRET_KEY": DEFAULT_SECRET_KEY, "TOKENMALL_SANDBOX_GATEWAY": "false"},
        ["TOKENMALL_SECRET_KEY is the built-in default"],
        id="default-secret-sandbox-off",
    ),
    pytest.param(
        {"TOKENMALL_SECRET_KEY": GOOD_SECRET},
        ["sandbox payment gateway is on", "TOKENMALL_SANDBOX_GATEWAY=false"],
        id="sandbox-on",
    ),
    pytest.param(
        {"TOKENMALL_ENV": "prod", "TOKENMALL_SECRET_KEY": GOOD_SECRET},
        ["TOKENMALL_ENV", "development"],
        id="unknown-env",
    ),
]


@pytest.mark.parametrize(("extra", "words"), UNSAFE)
@pytest.mark.parametrize("command", ["serve", "scheduler"])
def test_unsafe_settings_refuse_to_start(
    env: dict[str, str], extra: dict[str, str], words: list[str], command: str
) -> None:
    args = ["serve", "--port", str(_free_port())] if command == "serve" else ["scheduler"]
    try:
        done = _run({**env, **extra}, *args)
    except subprocess.TimeoutExpired:
        pytest.fail(f"tokenmall {command} started with unsafe settings {extra}")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"tokenmall {command}: refusing to start:" in done.stderr
    for word in words:
        assert word in done.stderr
    assert "Traceback" not in done.stderr
    if "SECRET_KEY" in words[0]:
        assert "TOKENMALL_ENV=development" in done.stderr


def test_the_scheduler_runs_with_safe_settings(env: dict[str, str]) -> None:
    safe = {**env, "TOKENMALL_SECRET_KEY": GOOD_SECRET, "TOKENMALL_SANDBOX_GATEWAY": "false"}
    assert _run(safe, "db", "upgrade").returncode == 0
    done = _run(safe, "scheduler", "--once", "--at", "00:00")
    assert done.returncode == 0, done.stderr
    assert "refusing" not in done.stderr
    assert "development mode" not in done.stderr


def test_the_scheduler_warns_in_development_mode(env: dict[str, str]) -> None:
    dev = {**env, "TOKENMALL_ENV": "development"}
    assert _run(dev, "db", "upgrade").returncode == 0
    done = _run(dev, "scheduler", "--once", "--at", "00:00")
    assert done.returncode == 0, done.stderr
    assert "scheduler: warning: development mode" in done.stderr


@contextmanager
def _serving(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                pytest.fail(f"serve exited {server.returncode}: {server.communicate()[1]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        yield base, server
    finally:
        if server.poll() is None:
            server.terminate()


def _log_lines(server: subprocess.Popen[str]) -> list[dict[str, object]]:
    _, stderr = server.communicate(timeout=20)
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_serve_starts_with_safe_settings_and_shows_no_banner(env: dict[str, str]) -> None:
    safe = {**env, "TOKENMALL_SECRET_KEY": GOOD_SECRET, "TOKENMALL_SANDBOX_GATEWAY": "false"}
    with _serving(safe) as (base, server):
        landing = httpx.get(f"{base}/")
        assert landing.status_code == 200
        assert BANNER_ZH not in landing.text
        assert "dev-banner" not in landing.text
        assert httpx.get(f"{base}/sandbox/pay/x.pay_1").status_code == 404
    lines = _log_lines(server)
    assert not [line for line in lines if "development mode" in str(line.get("message"))]


def test_serve_in_development_mode_warns_in_the_log_and_on_every_page(
    env: dict[str, str],
) -> None:
    with _serving({**env, "TOKENMALL_ENV": "development"}) as (base, server):
        landing = httpx.get(f"{base}/")
        assert landing.status_code == 200
        assert BANNER_ZH in landing.text  # Chinese first
        assert BANNER_EN not in landing.text
        english = httpx.get(f"{base}/?lang=en")
        assert BANNER_EN in english.text
        platform = httpx.get(f"{base}/-/platform/login")
        assert BANNER_ZH in platform.text
        missing = httpx.get(f"{base}/no-such-tenant/")
        assert missing.status_code == 404
        assert BANNER_ZH in missing.text
    lines = _log_lines(server)
    warned = [line for line in lines if "development mode" in str(line.get("message"))]
    assert warned
    assert warned[0]["level"] == "warning"
    assert warned[0]["env"] == "development"


def test_the_demo_serves_in_development_mode() -> None:
    settings = demo_settings("sqlite:///demo.db", "127.0.0.1", 8000)
    assert settings.development
    assert settings.unsafe_reasons() == []
    assert settings.sandbox_gateway


def test_unsafe_reasons_are_empty_only_when_safe_or_in_development() -> None:
    def make(**values: object) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    assert len(make().unsafe_reasons()) == 2
    assert make(env="development").unsafe_reasons() == []
    assert make(secret_key=GOOD_SECRET, sandbox_gateway=False).unsafe_reasons() == []
    assert len(make(secret_key="x" * 31, sandbox_gateway=False).unsafe_reasons()) == 1
    assert make(secret_key="x" * 32, sandbox_gateway=False).unsafe_reasons() == []
