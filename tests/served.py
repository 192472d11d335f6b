"""The app under test served for real: uvicorn on 127.0.0.1 in a thread of the test process.

Shared by the API, page and browser tests' ``conftest.py`` (each keeps its own fixtures and
seeding); ``integration_db_url`` is the ledger's per-module SQLite/PostgreSQL ``db_url`` fixture.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from tokenmall.config import Settings
from tokenmall.web.app import create_app


@dataclass
class Server:
    """A served app: its base URL, its settings and the ASGI app."""

    base_url: str
    settings: Settings
    app: Any


def integration_db_url(name: str) -> Any:
    """The ``db_url`` fixture of ``tests/integration/conftest.py``, loaded as module ``name``."""
    path = Path(__file__).parent / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.db_url


def app_settings(database_url: str, **extra: Any) -> Settings:
    """Settings for a served test app: development mode (the sandbox gateway and the built-in
    secret key; pass ``env="production"`` with safe settings to test without), quiet logs,
    fast password hashing, no ``.env``."""
    extra.setdefault("env", "development")
    # Tested on its own (tests/api/test_api_channel_start_check.py): a served test app does not
    # load every tenant's key sets of the shared test database at each start.
    extra.setdefault("check_channels_on_start", False)
    return Settings(
        database_url=database_url,
        log_level="WARNING",
        insecure_fast_password_hashing=True,
        _env_file=None,  # type: ignore[call-arg]
        **extra,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port() -> int:
    """A port free on 127.0.0.1 now (to name the served app's address in its settings)."""
    return _free_port()


@contextmanager
def served(settings: Settings, port: int | None = None) -> Iterator[tuple[str, Any]]:
    """The app for ``settings`` running until the block ends: (its base URL, the app); on
    ``port`` if given (``free_port()``), else on a free one."""
    app = create_app(settings, configure_logging=False)
    port = port or _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
