"""Where the database is: an explicit URL, else the settings' (``TOKENMALL_DATABASE_URL``, the
env file, else SQLite under the user's data directory)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from tokenmall.config import Settings, default_database_url, default_demo_url


def database_url(explicit: str | None = None) -> str:
    """The URL to use: an explicit one, else the one the settings name."""
    return explicit or Settings().database_url or default_database_url()


def _sqlite_file_exists(url: str) -> bool:
    database = make_url(url).database or ""
    return bool(database) and Path(database).expanduser().exists()


def existing_database_url(explicit: str | None = None) -> str:
    """The database a command that reads an existing one uses (audit, report, settle): as
    ``database_url``, except that when nothing names a database and the default file is not
    there, the demo's (``tokenmall demo``) is used if it exists."""
    if explicit:
        return explicit
    settings = Settings()
    if "database_url" in settings.model_fields_set:
        return settings.database_url
    default = default_database_url()
    demo = default_demo_url()
    if not _sqlite_file_exists(default) and _sqlite_file_exists(demo):
        return demo
    return default
