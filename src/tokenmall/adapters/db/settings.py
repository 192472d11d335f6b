"""Where the database is: ``TOKENMALL_DATABASE_URL``, else SQLite under the user's data dir."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

ENV = "TOKENMALL_DATABASE_URL"


def default_database_url() -> str:
    folder = Path(user_data_dir("tokenmall", appauthor=False))
    return f"sqlite:///{folder / 'tokenmall.db'}"


def database_url(explicit: str | None = None) -> str:
    """The URL to use: an explicit one, then the environment, then the default file."""
    return explicit or os.environ.get(ENV) or default_database_url()
