"""Where the database is: an explicit URL, else the settings' (``TOKENMALL_DATABASE_URL``, the
env file, else SQLite under the user's data directory)."""

from __future__ import annotations

from tokenmall.config import Settings, default_database_url


def database_url(explicit: str | None = None) -> str:
    """The URL to use: an explicit one, else the one the settings name."""
    return explicit or Settings().database_url or default_database_url()
