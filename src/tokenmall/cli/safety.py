"""The settings a long-running command starts with, refused when unfit to serve real users.

``serve`` and ``scheduler`` load their settings here: settings that do not parse, or that are
unsafe outside development mode (``Settings.unsafe_reasons``: the public default secret key, a
short one, the sandbox gateway on), end the command with one sentence saying what to set and
exit code 2, never a traceback. In development mode they start, with a warning.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError

from tokenmall.config import Settings

REFUSED = 2
KEY_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def load(command: str, **overrides: Any) -> Settings:
    """The settings (``TOKENMALL_*``, the env file, then ``overrides``); a value that does not
    parse ends the command with exit code 2 and the setting's name."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"TOKENMALL_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        typer.echo(f"tokenmall {command}: refusing to start: {problems}", err=True)
        raise typer.Exit(REFUSED) from None


def require_safe(command: str, settings: Settings) -> None:
    """Exit 2 with what to set if ``settings`` are unsafe outside development mode."""
    reasons = settings.unsafe_reasons()
    if not reasons:
        return
    hint = f" A key can be made with: {KEY_HINT}." if "SECRET_KEY" in reasons[0] else ""
    typer.echo(
        f"tokenmall {command}: refusing to start: {'; '.join(reasons)}.{hint} "
        "For a local trial only, set TOKENMALL_ENV=development (or run `tokenmall demo`).",
        err=True,
    )
    raise typer.Exit(REFUSED)


def checked(command: str, **overrides: Any) -> Settings:
    """``load`` then ``require_safe``: the settings a serving command may start with."""
    settings = load(command, **overrides)
    require_safe(command, settings)
    return settings
